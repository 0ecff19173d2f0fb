"""The faults of issue 5, at every position of a listing, as data the runner plays one by one.

A fault is a frozen dataclass: `kind` names its type (the per-kind counters group by it), `where`
says where it strikes, `allowed` lists the sync results that are correct for it:

- `ABSORB` {"ok", "failed"}: a temporary fault; retried away inside the sync ("ok", and then the
  cache must be the complete new book) or a clean failure,
- `FAIL` {"failed"}: the sync must give up (a long Retry-After is not waited out in-sync),
- `REFUSE` {"failed", "held"}: the answer lost cards (per-card errors, missing hrefs, an empty
  207, a CRM that suddenly returns far fewer records); caching it would lose numbers,
- `ACCEPT` {"ok"}: bad data the sync must skip and count (a malformed card, a card without TEL),
- `SHRINK_OK` {"ok", "held"}: a real but moderate shrink, under the guard's threshold.

The listing is `book.BOOK` (96 cards) read in multigets of `BATCH_SIZE` (6) cards: positions 0
(the PROPFIND) to 16 (the 16th REPORT).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import httpx

from tests.faults import book as books
from tests.faults.book import Contact
from tests.faults.double import FaultyDouble, Hit, TrickleStream, entry_href, rebuild

OK, FAILED, HELD, BUSY = "ok", "failed", "held", "busy"
ABSORB = frozenset({OK, FAILED})
FAIL = frozenset({FAILED})
REFUSE = frozenset({FAILED, HELD})
ACCEPT = frozenset({OK})
SHRINK_OK = frozenset({OK, HELD})

BATCH_SIZE = 6
POSITIONS = tuple(range(1 + math.ceil(len(books.BOOK) / BATCH_SIZE)))  # 0 = PROPFIND, n = n-th REPORT
REPORTS = POSITIONS[1:]
# Card positions: each position in a batch, in the first, two middle and the last batch.
CARD_BATCHES = (REPORTS[0], REPORTS[len(REPORTS) // 3], REPORTS[2 * len(REPORTS) // 3], REPORTS[-1])
# One card per batch, at a different place in each, for faults in the data itself.
CARD_SAMPLE = tuple((n - 1) * BATCH_SIZE + (n - 1) % BATCH_SIZE for n in REPORTS)

_REASONS = {404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


def _status(status: int, *, retry_after: str = "", text: str = "") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return httpx.Response(status, headers=headers, text=text or f"HTTP {status}")


@dataclass(frozen=True)
class Fault:
    """A fault; this base passes every request to the double untouched."""

    kind: str
    where: str = ""
    allowed: frozenset[str] = ABSORB

    @property
    def label(self) -> str:
        return f"{self.kind} {self.where}".strip()

    def served(self, book: tuple[Contact, ...]) -> tuple[Contact, ...]:
        """The address book the CardDAV double serves."""
        return book

    def real(self, book: tuple[Contact, ...]) -> tuple[Contact, ...]:
        """What the CRM really holds (differs from `served` when the CRM answers wrongly)."""
        return self.served(book)

    def data_faults(self) -> int:
        """Faults injected in the served data itself (counted once per scenario)."""
        return 0

    def answer(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        return double.pass_through(hit.request)


@dataclass(frozen=True)
class BookFault(Fault):
    """The address book itself is changed; `crm_fault` when the CRM answers wrongly (the real book
    is unchanged: a CRM that suddenly returns far fewer records)."""

    change: Callable[[tuple[Contact, ...]], Iterable[Contact]] = tuple
    crm_fault: bool = False

    def served(self, book: tuple[Contact, ...]) -> tuple[Contact, ...]:
        return tuple(self.change(book))

    def real(self, book: tuple[Contact, ...]) -> tuple[Contact, ...]:
        return book if self.crm_fault else self.served(book)

    def data_faults(self) -> int:
        return 1


@dataclass(frozen=True)
class AtPosition(Fault):
    """Strikes the request at `position` (0 = PROPFIND): only its first attempt when `once`."""

    position: int = 0
    once: bool = False

    def answer(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        if hit.position != self.position or (self.once and hit.attempt > 1):
            return double.pass_through(hit.request)
        double.injected += 1
        return self.inject(hit, double)

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        raise NotImplementedError


@dataclass(frozen=True)
class StatusAt(AtPosition):
    """An HTTP error status (5xx, 429 with or without Retry-After)."""

    status: int = 503
    retry_after: str = ""

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        return _status(self.status, retry_after=self.retry_after)


@dataclass(frozen=True)
class BodyAt(AtPosition):
    """A body that is not the multistatus asked for (garbage, HTML, wrong root, empty)."""

    body: str = ""
    status: int = 207
    content_type: str = "application/xml; charset=utf-8"

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        return httpx.Response(self.status, text=self.body, headers={"Content-Type": self.content_type})


@dataclass(frozen=True)
class TruncatedAt(AtPosition):
    """The real multistatus cut off at 60 % of its length."""

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        body = double.pass_through(hit.request).text
        return httpx.Response(
            207, text=body[: len(body) * 3 // 5], headers={"Content-Type": "application/xml"}
        )


@dataclass(frozen=True)
class NetworkAt(AtPosition):
    """A network error raised by the transport (refused, timeout, reset, protocol error)."""

    error: type[httpx.TransportError] = httpx.ConnectError
    message: str = ""

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        raise self.error(self.message or self.error.__name__, request=hit.request)


@dataclass(frozen=True)
class TrickleAt(AtPosition):
    """The real answer sent a few bytes at a time; when `abort`, the read times out halfway."""

    abort: bool = True

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        response = double.pass_through(hit.request)
        content = response.content
        stream = TrickleStream(
            content, request=hit.request, abort_at=len(content) // 2 if self.abort else None
        )
        headers = {"Content-Type": response.headers.get("Content-Type", "application/xml")}
        return httpx.Response(response.status_code, headers=headers, stream=stream)


@dataclass(frozen=True)
class BatchCardsAt(AtPosition):
    """A 207 whose every card of the batch answers `card_status` (404 gone, 503 unavailable)."""

    card_status: int = 404

    def inject(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        response = double.pass_through(hit.request)
        return rebuild(response, lambda entries: [_card_status(e, self.card_status) for e in entries])


def _card_status(entry: str, status: int) -> str:
    return (
        f"<d:response><d:href>{entry_href(entry)}</d:href>"
        f"<d:status>HTTP/1.1 {status} {_REASONS.get(status, 'Error')}</d:status></d:response>"
    )


@dataclass(frozen=True)
class CardAt(Fault):
    """One card (`index` in the batch of REPORT `position`) comes back wrong, on every attempt.

    `how`: "404", "500", "503" (the card's own DAV:status), "propstat-404", "no-address-data",
    "omitted" (its href is missing from the 207), "duplicated" (it comes twice).
    """

    position: int = 1
    index: int = 0
    how: str = "404"

    def answer(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        response = double.pass_through(hit.request)
        if hit.position != self.position:
            return response
        double.injected += 1
        return rebuild(response, self._change)

    def _change(self, entries: list[str]) -> list[str]:
        entries = list(entries)
        entry = entries[self.index]
        href = entry_href(entry)
        if self.how.isdigit():
            entries[self.index] = _card_status(entry, int(self.how))
        elif self.how == "propstat-404":
            entries[self.index] = (
                f"<d:response><d:href>{href}</d:href><d:propstat><d:prop><c:address-data/></d:prop>"
                "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"
            )
        elif self.how == "no-address-data":
            entries[self.index] = (
                f'<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag>'
                "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
            )
        elif self.how == "omitted":
            del entries[self.index]
        elif self.how == "duplicated":
            entries.insert(self.index, entry)
        else:
            raise ValueError(f"unknown card fault {self.how}")
        return entries


@dataclass(frozen=True)
class DuplicateHref(Fault):
    """The PROPFIND lists card `index` twice."""

    index: int = 0

    def answer(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        response = double.pass_through(hit.request)
        if hit.position != 0:
            return response
        double.injected += 1
        # entries[0] is the collection itself.
        return rebuild(response, lambda e: [*e[: self.index + 2], e[self.index + 1], *e[self.index + 2 :]])


@dataclass(frozen=True)
class Storm(Fault):
    """`count` requests in a row answer `status` (with `retry_after`), from position `start` on."""

    start: int = 0
    count: int = 1
    status: int = 429
    retry_after: str = "1"

    def answer(self, hit: Hit, double: FaultyDouble) -> httpx.Response:
        left = double.state.setdefault("storm", self.count)
        if hit.position < self.start or left == 0:
            return double.pass_through(hit.request)
        double.state["storm"] = left - 1
        double.injected += 1
        return _status(self.status, retry_after=self.retry_after)


# The bodies of the garbage faults: (kind, body, HTTP status, content type).
GARBAGE = (
    ("garbage-not-xml", "this is not XML at all {{{ \x00", 207, "text/plain"),
    ("garbage-html", "<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>", 207, "text/html"),
    ("garbage-html-200", "<!DOCTYPE html><html><body><form>Log in</form></body></html>", 200, "text/html"),
    (
        "garbage-wrong-root",
        '<?xml version="1.0"?><d:error xmlns:d="DAV:"><d:lock-token-submitted/></d:error>',
        207,
        "application/xml",
    ),
    ("garbage-json", '{"error": "backend unavailable"}', 207, "application/json"),
    ("garbage-empty-body", "", 207, "application/xml"),
)
EMPTY_MULTISTATUS = '<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:"/>'

NETWORK: tuple[tuple[str, type[httpx.TransportError], str], ...] = (
    ("net-connect-error", httpx.ConnectError, "[Errno 111] Connection refused"),
    ("net-connect-timeout", httpx.ConnectTimeout, "timed out"),
    ("net-read-timeout", httpx.ReadTimeout, "The read operation timed out"),
    ("net-connection-reset", httpx.ReadError, "[Errno 104] Connection reset by peer"),
    (
        "net-remote-protocol-error",
        httpx.RemoteProtocolError,
        "Server disconnected without sending a response.",
    ),
    ("net-write-error", httpx.WriteError, "[Errno 32] Broken pipe"),
)

CARD_FAULTS = ("404", "500", "503", "propstat-404", "no-address-data", "omitted", "duplicated")

# An HTTP-date an hour after the suite's frozen clock (runner.START): a long Retry-After.
RETRY_AFTER_DATE = "Sun, 01 Mar 2026 03:00:00 GMT"


_MODES = (("once", True), ("always", False))


def position_faults() -> list[Fault]:
    """Every request-level fault at every request position, once and always where both make sense."""
    faults: list[Fault] = []
    for p in POSITIONS:
        at = f"@request {p}"
        for mode, once in _MODES:
            for status in (500, 502, 503, 504):
                faults.append(StatusAt(f"http-{status}-{mode}", at, ABSORB, p, once, status))
            for name, error, message in NETWORK:
                faults.append(NetworkAt(f"{name}-{mode}", at, ABSORB, p, once, error, message))
            faults.append(StatusAt(f"http-429-retry-1s-{mode}", at, ABSORB, p, once, 429, "1"))
            faults.append(TrickleAt(f"trickle-read-timeout-{mode}", at, ABSORB, p, once, True))
            faults.append(BodyAt(f"garbage-not-xml-{mode}", at, ABSORB, p, once, *GARBAGE[0][1:]))
            faults.append(TruncatedAt(f"garbage-truncated-xml-{mode}", at, ABSORB, p, once))
            faults.append(BodyAt(f"empty-207-{mode}", at, REFUSE, p, once, EMPTY_MULTISTATUS))
        faults.append(StatusAt("http-503-retry-2s-once", at, ABSORB, p, True, 503, "2"))
        faults.append(StatusAt("http-429-retry-5s-once", at, ABSORB, p, True, 429, "5"))
        faults.append(StatusAt("http-429-retry-3600s-once", at, FAIL, p, True, 429, "3600"))
        faults.append(StatusAt("http-429-retry-date-1h-once", at, ABSORB, p, True, 429, RETRY_AFTER_DATE))
        faults.append(StatusAt("http-429-no-retry-after-once", at, ABSORB, p, True, 429))
        faults.append(TrickleAt("trickle-complete", at, ABSORB, p, True, False))
        for kind, body, status, content_type in GARBAGE[1:]:
            faults.append(BodyAt(f"{kind}-once", at, ABSORB, p, True, body, status, content_type))
        if p in REPORTS:
            faults.append(BatchCardsAt("batch-cards-404", at, REFUSE, p, False, 404))
            faults.append(BatchCardsAt("batch-cards-503", at, REFUSE, p, False, 503))
    return faults


def card_faults() -> list[Fault]:
    """Every per-card fault at every card position of four batches (first, two middle, last)."""
    return [
        CardAt(
            f"card-{how}",
            f"@card {index} of request {p}",
            ABSORB if how == "duplicated" else REFUSE,
            position=p,
            index=index,
            how=how,
        )
        for how in CARD_FAULTS
        for p in CARD_BATCHES
        for index in range(BATCH_SIZE)
    ]


def _keep(fraction: float) -> Callable[[tuple[Contact, ...]], tuple[Contact, ...]]:
    return lambda book: book[: int(len(book) * fraction)]


def _each(shape: str) -> Callable[[tuple[Contact, ...]], tuple[Contact, ...]]:
    return lambda book: tuple(replace(c, shape=shape) for c in book)


def _at(
    index: int, change: Callable[[Contact, tuple[Contact, ...]], Contact | None]
) -> Callable[[tuple[Contact, ...]], tuple[Contact, ...]]:
    def apply(book: tuple[Contact, ...]) -> tuple[Contact, ...]:
        changed = [change(c, book) if i == index else c for i, c in enumerate(book)]
        return tuple(c for c in changed if c is not None)

    return apply


def _uid_of_previous(k: int) -> Callable[[Contact, tuple[Contact, ...]], Contact]:
    return lambda contact, book: replace(contact, uid=book[k - 1].uid)


def book_faults() -> list[Fault]:
    """Address books that shrink or carry bad cards, duplicate UIDs and duplicate hrefs."""
    faults: list[Fault] = [
        BookFault("book-empty", "", REFUSE, lambda book: (), crm_fault=True),
        BookFault("book-all-malformed", "", REFUSE, _each("malformed"), crm_fault=True),
        BookFault("book-all-without-tel", "", REFUSE, _each("no_tel"), crm_fault=True),
        *(
            BookFault(f"book-shrinks-to-{int(f * 100)}pct", "", REFUSE, _keep(f), crm_fault=True)
            for f in (0.05, 0.1, 0.25, 0.4)
        ),
        *(BookFault(f"book-shrinks-to-{int(f * 100)}pct", "", SHRINK_OK, _keep(f)) for f in (0.75, 0.9)),
        BookFault(
            "duplicate-uid-everywhere",
            "",
            ABSORB,
            lambda book: tuple(replace(c, uid="uid-shared") for c in book),
        ),
    ]
    for k in CARD_SAMPLE:
        at = f"@card {k}"
        faults += [
            BookFault("malformed-card", at, ACCEPT, _at(k, lambda c, b: replace(c, shape="malformed"))),
            BookFault("card-without-tel", at, ACCEPT, _at(k, lambda c, b: replace(c, shape="no_tel"))),
            BookFault("card-deleted", at, ACCEPT, _at(k, lambda c, b: None)),
            BookFault("duplicate-uid", at, ABSORB, _at(k, _uid_of_previous(k))),
            DuplicateHref("duplicate-href-in-propfind", at, ABSORB, index=k),
        ]
    return faults


def storm_faults() -> list[Fault]:
    """429 storms (Retry-After 1) of 1 to 30 requests from the start and of 4 from each position;
    503 storms of 1 to 10 requests."""
    faults: list[Fault] = [Storm("storm-429", f"x{n} @request 0", ABSORB, count=n) for n in range(1, 31)]
    faults += [Storm("storm-429-midway", f"x4 @request {p}", ABSORB, start=p, count=4) for p in REPORTS]
    faults += [
        Storm("storm-503", f"x{n} @request 0", ABSORB, count=n, status=503, retry_after="")
        for n in range(1, 11)
    ]
    return faults


def full() -> list[Fault]:
    """The whole catalogue (about 1,100 scenarios)."""
    return position_faults() + card_faults() + book_faults() + storm_faults()


def bounded() -> list[Fault]:
    """A fixed sample of `full()` for `make test`: the first, a middle and the last fault of each kind."""
    by_kind: dict[str, list[Fault]] = {}
    for fault in full():
        by_kind.setdefault(fault.kind, []).append(fault)
    sample: list[Fault] = []
    for group in by_kind.values():
        picks = sorted({0, len(group) // 2, len(group) - 1})
        sample += [group[i] for i in picks]
    return sample
