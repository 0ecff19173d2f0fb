"""`FaultyDouble`: the CardDAV double of tests/carddav_double.py with a fault answering in its place.

Each request the sync makes gets a position in the listing: the `PROPFIND` Depth 1 is 0, the
n-th distinct `addressbook-multiget` REPORT is n (a REPORT is recognised by the first href it
asks for, so a retried request keeps its position and counts one more `attempt`). Before a
request is answered, `observe` runs (the runner looks at what lookups see mid-sync); then the
fault decides: pass the double's answer through, change it, replace it, or raise a network error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from tests.carddav_double import CardDavDouble

if TYPE_CHECKING:
    from tests.faults.catalogue import Fault

# More requests than this in one sync means a retry loop that does not stop.
MAX_REQUESTS = 400

_RESPONSE = re.compile(r"<d:response>.*?</d:response>", re.DOTALL)
_HREF = re.compile(r"<d:href>([^<]+)</d:href>")


@dataclass(frozen=True)
class Hit:
    """One request as the fault sees it: its 1-based `number` in the sync, `position` in the
    listing (0 = PROPFIND, n = n-th REPORT) and 1-based `attempt` at that position."""

    request: httpx.Request
    number: int
    position: int
    attempt: int

    @property
    def is_report(self) -> bool:
        return self.request.method == "REPORT"


@dataclass
class FaultyDouble:
    """Serves `cards` like `CardDavDouble` and lets `fault` answer every request."""

    cards: dict[str, str]
    fault: Fault
    observe: Callable[[Hit], None] = lambda hit: None
    injected: int = 0
    requests: int = 0
    runaway: bool = False
    state: dict[str, int] = field(default_factory=dict)  # per-scenario memory of stateful faults
    inner: CardDavDouble = field(init=False)
    _positions: dict[str, int] = field(default_factory=dict, init=False)
    _attempts: Counter[int] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        self.inner = CardDavDouble(self.cards)

    def settings(self) -> dict[str, str]:
        return self.inner.settings()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            self.runaway = True
            raise httpx.ConnectError(
                "the fault suite stops a sync that does not stop retrying", request=request
            )
        key = request.method + ":" + (_first_href(request) if request.method == "REPORT" else "")
        position = self._positions.setdefault(key, len(self._positions))
        self._attempts[position] += 1
        hit = Hit(request=request, number=self.requests, position=position, attempt=self._attempts[position])
        self.observe(hit)
        return self.fault.answer(hit, self)

    def pass_through(self, request: httpx.Request) -> httpx.Response:
        """The double's own answer to `request`, body read."""
        response = self.inner.handle(request)
        response.read()
        return response


def _first_href(request: httpx.Request) -> str:
    match = _HREF.search(request.content.decode())
    return match.group(1) if match else ""


def split_multistatus(body: str) -> tuple[str, list[str], str]:
    """A multistatus body as (text before the first DAV:response, the responses, text after)."""
    entries = _RESPONSE.findall(body)
    if not entries:
        head, sep, tail = body.partition("</d:multistatus>")
        return head, [], sep + tail
    start = body.index(entries[0])
    end = body.rindex(entries[-1]) + len(entries[-1])
    return body[:start], entries, body[end:]


def rebuild(response: httpx.Response, transform: Callable[[list[str]], list[str]]) -> httpx.Response:
    """`response` (a 207 of the double) with its DAV:response entries passed through `transform`."""
    head, entries, tail = split_multistatus(response.text)
    body = head + "".join(transform(entries)) + tail
    return httpx.Response(207, text=body, headers={"Content-Type": "application/xml; charset=utf-8"})


def entry_href(entry: str) -> str:
    match = _HREF.search(entry)
    return match.group(1) if match else ""


class TrickleStream(httpx.SyncByteStream):
    """A body sent `chunk` bytes at a time; with `abort_at`, the read times out after that many bytes.

    Nothing sleeps: a server that trickles until the client's read timeout fires looks to the
    client like this stream raising `httpx.ReadTimeout` partway.
    """

    def __init__(
        self, content: bytes, *, request: httpx.Request, chunk: int = 16, abort_at: int | None = None
    ):
        self.content = content
        self.request = request
        self.chunk = chunk
        self.abort_at = abort_at

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.content), self.chunk):
            if self.abort_at is not None and start >= self.abort_at:
                raise httpx.ReadTimeout("The read operation timed out", request=self.request)
            yield self.content[start : start + self.chunk]
