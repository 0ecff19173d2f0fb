"""A CardDAV server double for `httpx.MockTransport`, answering like RFC 6352 servers do.

It serves one address book at `URL`: `PROPFIND` Depth 0 (resourcetype) and Depth 1 (members with
getetag), `REPORT addressbook-multiget` (the requested hrefs with address-data), HTTP Basic
(401 on wrong credentials). Tests inject faults: a 5xx on the n-th REPORT (or on every REPORT
from the n-th), a garbage body, an empty 207, per-card statuses inside a multiget (`card_status`),
cards the multiget leaves out (`omit_cards`), scripted answers or exceptions per request
(`script`: 429 with Retry-After, 503 once then OK, a dropped connection), or a callback run
before a REPORT is answered (to look at the database mid-sync). `requests` logs every request.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx

URL = "https://dav.example.com/addressbooks/alice/contacts/"
PATH = "/addressbooks/alice/contacts/"


def vcard(uid: str, name: str, *tels: str, org: str = "", email: str = "") -> str:
    """A vCard 3.0 with the given TEL values (each "TYPE:number" or just "number")."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}"]
    if org:
        lines.append(f"ORG:{org}")
    if email:
        lines.append(f"EMAIL:{email}")
    for tel in tels:
        kind, sep, number = tel.partition(":")
        lines.append(f"TEL;TYPE={kind.upper()}:{number}" if sep else f"TEL:{tel}")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


@dataclass
class CardDavDouble:
    """Holds the address book (`cards`: file name -> vCard text) and the injected faults."""

    cards: dict[str, str]
    username: str = "alice"
    password: str = "secret"
    fail_on_report: int | None = None  # 1-based REPORT number that answers 500
    fail_status: int = 500
    fail_from_report: int | None = None  # every REPORT from this one on answers `fail_status`
    garbage_on_report: int | None = None
    empty_on_report: int | None = None  # this REPORT answers an empty 207 multistatus
    card_status: dict[str, int] = field(default_factory=dict)  # card name -> status in the multiget
    omit_cards: set[str] = field(default_factory=set)  # cards the multiget leaves out
    # Scripted answers, consumed in order per kind of request: an httpx.Response or an exception
    # to raise (httpx.ReadTimeout, httpx.RemoteProtocolError...). Empty list: answer normally.
    script: dict[str, list[httpx.Response | Exception]] = field(default_factory=dict)  # by method
    before_report: Callable[[int], None] | None = None
    reports: int = field(default=0, init=False)
    requests: list[httpx.Request] = field(default_factory=list, init=False)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def settings(self) -> dict[str, str]:
        return {"url": URL, "username": self.username, "password": self.password}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script.get(request.method):
            scripted = self.script[request.method].pop(0)
            if isinstance(scripted, Exception):
                raise scripted
            return scripted
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="dav"'})
        if request.url.path != PATH:
            return httpx.Response(404)
        if request.method == "PROPFIND":
            if request.headers.get("Depth") == "0":
                return self._multistatus([self._collection()])
            return self._multistatus(
                [self._collection()]
                + [
                    f"<d:response><d:href>{PATH}{name}</d:href><d:propstat><d:prop>"
                    f'<d:getetag>"{abs(hash(text))}"</d:getetag>'
                    "<d:getcontenttype>text/vcard; charset=utf-8</d:getcontenttype><d:resourcetype/>"
                    "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
                    for name, text in self.cards.items()
                ]
            )
        if request.method == "REPORT":
            self.reports += 1
            if self.before_report is not None:
                self.before_report(self.reports)
            if self.reports == self.fail_on_report or (
                self.fail_from_report is not None and self.reports >= self.fail_from_report
            ):
                return httpx.Response(self.fail_status, text="Internal Server Error")
            if self.reports == self.garbage_on_report:
                return httpx.Response(
                    207, text="<html>this is not WebDAV", headers={"Content-Type": "text/html"}
                )
            if self.reports == self.empty_on_report:
                return self._multistatus([])
            hrefs = re.findall(r"<d:href>([^<]+)</d:href>", request.content.decode())
            entries = []
            for href in hrefs:
                name = href.rsplit("/", 1)[-1]
                if name in self.omit_cards:
                    continue
                if name in self.card_status:
                    entries.append(
                        f"<d:response><d:href>{href}</d:href>"
                        f"<d:status>HTTP/1.1 {self.card_status[name]} Card Error</d:status></d:response>"
                    )
                elif name in self.cards:
                    entries.append(
                        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>"
                        f'<d:getetag>"{abs(hash(self.cards[name]))}"</d:getetag>'
                        f"<c:address-data>{escape(self.cards[name])}</c:address-data>"
                        "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
                    )
                else:
                    entries.append(
                        f"<d:response><d:href>{href}</d:href>"
                        "<d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
                    )
            return self._multistatus(entries)
        return httpx.Response(405)

    @staticmethod
    def _collection() -> str:
        return (
            f"<d:response><d:href>{PATH}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>"
            "<c:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
            "</d:response>"
        )

    @staticmethod
    def _multistatus(responses: list[str]) -> httpx.Response:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
            + "".join(responses)
            + "</d:multistatus>"
        )
        return httpx.Response(207, text=body, headers={"Content-Type": "application/xml; charset=utf-8"})
