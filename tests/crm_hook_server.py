"""A local HTTP server that records every request it gets: the CRM end of scripts the server runs.

Stdlib `http.server` in a thread on 127.0.0.1, port 0. `answers` is a FIFO of (status, headers,
body) answered to the next requests (503 then 200, a 429 with Retry-After…); when it is empty
the server answers 200 `{"ok": true}`; `delays` holds seconds to wait before answering the
next requests. `requests` records each (method, path with query, headers, body).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the server got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookServer:
    """The server's state: what to answer next and what it received."""

    answers: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    delays: deque[float] = field(default_factory=deque)
    base_url: str = ""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        state.requests.append(
            Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if state.delays:
            time.sleep(state.delays.popleft())  # a slow CRM: the client times out first
        status, headers, answer = state.answers.popleft() if state.answers else (200, {}, b'{"ok": true}')
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    state: HookServer


@contextmanager
def hook_server() -> Iterator[HookServer]:
    """Run a recording server on 127.0.0.1 (a free port) for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = HookServer(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
