"""A local JSON CRM with many address books, for the deployment test (tests/test_deployment.py).

A stdlib `ThreadingHTTPServer` in a thread of the test process on 127.0.0.1 (port 0), so Celery
workers in other processes reach it over TCP. Book `b` lists its contacts Close-style at
`/books/<b>/contacts?offset=&limit=` as `{"data": [...], "has_more": bool}` and needs the header
`X-Api-Key: <api_key>` (else 401). Every page of book `b` waits `delays.get(b, 0)` seconds before
it is answered, so a test can catch a sync mid-way; `pages` counts the pages served per book.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "deployment-crm-key"
MAX_PAGE_SIZE = 100


def book_number(book: int, index: int) -> tuple[str, str]:
    """Contact `index` of book `book` (0..99): its number as the CRM writes it and in E.164."""
    return f"+31 20 {300 + book:03d} {index:04d}", f"+3120{300 + book:03d}{index:04d}"


def book_contact_name(book: int, index: int) -> str:
    """The display name of contact `index` of book `book`."""
    return f"Book{book} Person{index}"


@dataclass
class DeploymentCrm:
    """The server's state: `contacts` per book, page `delays` (seconds) per book, `pages` served."""

    contacts: dict[int, int]
    delays: dict[int, float] = field(default_factory=dict)
    pages: Counter[int] = field(default_factory=Counter)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self, book: int, *, page_size: int = 50) -> dict[str, str]:
        """The settings of a "rest_json" integration that reads book `book`."""
        return {
            "base_url": self.base_url,
            "auth_kind": "header",
            "api_key_name": "X-Api-Key",
            "secret": API_KEY,
            "list_path": f"/books/{book}/contacts",
            "paging": "offset",
            "page_size": str(page_size),
            "records_path": "data",
            "id_path": "id",
            "name_paths": "name",
            "phone_paths": "phones[*].number",
            "record_url_template": "https://crm.example.com/contacts/{id}",
            "extra_fields": "Company=company",
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        crm = self.server.crm
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        pieces = parts.path.strip("/").split("/")
        if len(pieces) != 3 or pieces[0] != "books" or pieces[2] != "contacts" or not pieces[1].isdigit():
            self._send(404, {"error": "not found"})
            return
        book = int(pieces[1])
        if self.headers.get("X-Api-Key") != API_KEY or book not in crm.contacts:
            self._send(401, {"error": "invalid api key"})
            return
        time.sleep(crm.delays.get(book, 0.0))
        start = int(query.get("offset", 0))
        size = max(1, min(int(query.get("limit", 20)), MAX_PAGE_SIZE))
        end = min(start + size, crm.contacts[book])
        data = []
        for index in range(start, end):
            written, _ = book_number(book, index)
            data.append(
                {
                    "id": f"b{book}-c{index}",
                    "name": book_contact_name(book, index),
                    "company": f"Company {book}",
                    "phones": [{"number": written}],
                }
            )
        with crm.lock:
            crm.pages[book] += 1
        self._send(200, {"data": data, "has_more": end < crm.contacts[book]})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, crm: DeploymentCrm) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.crm = crm


@contextmanager
def deployment_crm(crm: DeploymentCrm) -> Iterator[DeploymentCrm]:
    """Serve `crm` on 127.0.0.1 (a free port) while the block runs; `crm.base_url` is set."""
    server = _Server(crm)
    crm.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield crm
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
