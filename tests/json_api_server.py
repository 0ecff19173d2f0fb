"""A local JSON CRM API for tests: stdlib `http.server` in a thread on 127.0.0.1, port 0.

It serves `contacts` (dicts) under one endpoint per paging style, each answering the way the
CRMs that use it do (see ../shared/reference/crm-apis.md):

- `/cursor/contacts?limit=&after=`: HubSpot-like
  `{"results": [...], "paging": {"next": {"after": "<token>"}}}` (no `paging` on the last page).
- `/offset/contacts?offset=&limit=`: Close-like `{"data": [...], "has_more": bool}`.
- `/page/contacts?page=&per_page=`: Freshdesk-like bare list; a short page is the last.
- `/nextlink/contacts?$top=`: Dynamics-like `{"value": [...], "@odata.nextLink": "<absolute URL>"}`.
- `/linkheader/contacts?page=`: a bare list with an RFC 8288 `Link: <...>; rel="next"` header.

Auth: with `api_key` set, requests need `X-Api-Key: <api_key>`, else 401 with a JSON error.
Faults: `script` is a FIFO of (status, headers, body) answered instead of the next requests (429
with Retry-After, 503 once...); `repeat_cursor` makes every cursor/next link point at the first
page again; `max_page_size` caps the page size as real APIs do. `requests` logs (path, query).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


def make_contacts(count: int) -> list[dict[str, Any]]:
    """`count` contacts; every 10th has a mobile too, every 25th has no number at all."""
    contacts: list[dict[str, Any]] = []
    for i in range(count):
        contact: dict[str, Any] = {
            "id": f"c{i:04d}",
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "email": f"person{i}@example.com",
            "company": {"name": f"Company {i % 7}"},
            "phones": [{"type": "work", "number": f"+31 20 555 {i:04d}"}],
        }
        if i % 10 == 0:
            contact["phones"].append({"type": "mobile", "number": f"+31 6 1234 {i:04d}"})
        if i % 25 == 24:
            contact["phones"] = []
        contacts.append(contact)
    return contacts


@dataclass
class JsonApi:
    """The state the server answers from; tests change it between requests."""

    contacts: list[Any]
    api_key: str = "secret-key"
    max_page_size: int = 100
    script: deque[tuple[int, dict[str, str], Any]] = field(default_factory=deque)
    repeat_cursor: bool = False
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
    except (ValueError, IndexError):
        return -1


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        api.requests.append((parts.path, query))
        if api.script:
            status, headers, body = api.script.popleft()
            self._send(status, body, headers)
            return
        if api.api_key and self.headers.get("X-Api-Key") != api.api_key:
            self._send(401, {"error": "invalid api key"})
            return
        try:
            self._listing(parts.path, query)
        except ValueError:
            self._send(400, {"error": "bad paging parameter"})

    def _size(self, query: dict[str, str], name: str, default: int = 20) -> int:
        return max(1, min(int(query.get(name, default)), self.server.api.max_page_size))

    def _listing(self, path: str, query: dict[str, str]) -> None:
        api = self.server.api
        contacts = api.contacts
        base = api.base_url
        if path == "/cursor/contacts":
            size = self._size(query, "limit")
            start = _offset(query["after"]) if "after" in query else 0
            if start < 0:
                self._send(400, {"error": "invalid cursor"})
                return
            end = start + size
            body: dict[str, Any] = {"results": contacts[start:end]}
            if end < len(contacts):
                body["paging"] = {"next": {"after": _token(size if api.repeat_cursor else end)}}
            self._send(200, body)
        elif path == "/offset/contacts":
            size = self._size(query, "limit")
            start = int(query.get("offset", 0))
            if api.repeat_cursor:
                start = 0
            page = contacts[start : start + size]
            self._send(200, {"data": page, "has_more": start + size < len(contacts)})
        elif path == "/page/contacts":
            size = self._size(query, "per_page")
            number = int(query.get("page", 1))
            self._send(200, contacts[(number - 1) * size : number * size])
        elif path == "/nextlink/contacts":
            size = self._size(query, "$top")
            start = _offset(query["$skiptoken"]) if "$skiptoken" in query else 0
            end = start + size
            body = {"value": contacts[start:end]}
            if end < len(contacts):
                token = _token(size if api.repeat_cursor else end)
                body["@odata.nextLink"] = f"{base}/nextlink/contacts?" + urlencode(
                    {"$top": size, "$skiptoken": token}
                )
            self._send(200, body)
        elif path == "/linkheader/contacts":
            size = 30
            number = int(query.get("page", 1))
            headers = {}
            if number * size < len(contacts):
                nxt = 1 if api.repeat_cursor else number + 1
                headers["Link"] = f'<{base}/linkheader/contacts?page={nxt}>; rel="next"'
            self._send(200, contacts[(number - 1) * size : number * size], headers)
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: JsonApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@contextmanager
def json_api_server(api: JsonApi) -> Iterator[JsonApi]:
    """Serve `api` on 127.0.0.1 (a free port) while the block runs; `api.base_url` is set."""
    server = _Server(api)
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
