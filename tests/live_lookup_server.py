"""A local CRM search endpoint for live-lookup tests and the benchmark: stdlib `http.server` in a
thread on 127.0.0.1, port 0.

`GET /search?phone=<E.164>` answers `{"results": [<contacts whose phone has those digits>]}`
(digits compared, so "+31 20 123 4567" is found for "+31201234567"). `delay` (seconds) makes
every answer slow; `status` other than 200 answers that status with a JSON error. `hits` counts
the search requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class SearchApi:
    """The state the server answers from; tests change it between requests."""

    contacts: list[dict[str, Any]]
    delay: float = 0.0
    status: int = 200
    hits: int = 0
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, digits: str) -> list[dict[str, Any]]:
        """The contacts with a number of these digits (an index keeps large CRMs fast)."""
        with self.lock:
            if self._index_of is not self.contacts:
                self._index = {}
                for contact in self.contacts:
                    for phone in contact.get("phones", []):
                        self._index.setdefault(_digits(phone["number"]), []).append(contact)
                self._index_of = self.contacts
        return list(self._index.get(digits, [])) if digits else []

    _index: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _index_of: list[dict[str, Any]] | None = field(default=None, repr=False)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK add up to 200 ms to every answer, which the benchmark would count as ours.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        api = self.server.api
        with api.lock:
            api.hits += 1
        if api.delay:
            time.sleep(api.delay)
        parts = urlsplit(self.path)
        if parts.path not in ("/search", "/contacts"):
            self._send(404, {"error": "not found"})
            return
        if api.status != 200:
            self._send(api.status, {"error": "server error"})
            return
        if parts.path == "/contacts":
            self._send(200, {"results": api.contacts})  # the whole listing, one page
            return
        wanted = _digits(parse_qs(parts.query).get("phone", [""])[0])
        found = [
            c
            for c in api.contacts
            if wanted and any(_digits(p["number"]) == wanted for p in c.get("phones", []))
        ]
        self._send(200, {"results": found})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: SearchApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@contextmanager
def search_api_server(api: SearchApi) -> Iterator[SearchApi]:
    """Serve `api` on 127.0.0.1 (port 0) in a thread; `api.base_url` is set while it runs."""
    server = _Server(api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
