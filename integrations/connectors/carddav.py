"""CardDAV connector: lists the contacts of one address book (RFC 6352) with their phone numbers.

A full sync makes one `PROPFIND` (RFC 4918 §9.1, Depth 1) on the address-book collection to list
the member hrefs, then `REPORT` `CARDDAV:addressbook-multiget` (RFC 6352 §8.7) requests of at
most `MULTIGET_BATCH_SIZE` hrefs each to fetch the vCards (RFC 6350 / RFC 2426), parsed with
vobject. Works with any CardDAV server (Nextcloud, iCloud, Radicale, SOGo, ...): only the
collection URL and HTTP Basic credentials are needed, no service discovery (RFC 6764).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import httpx
import vobject
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_noop

from integrations.connectors.base import (
    Connector,
    ConnectorError,
    CrmRecord,
    RecordPhone,
    SkippedRecord,
    http_error,
    transport_error,
)
from integrations.presets import (
    DefaultScript,
    Preset,
    RecordField,
    ScriptApplies,
    SettingField,
    SettingKind,
)
from integrations.texts import Text

# Hrefs per addressbook-multiget REPORT; servers cope with 100 easily and it bounds each body.
MULTIGET_BATCH_SIZE = 100

WHAT = Text(gettext_noop("The CardDAV server"))
_http_url_validator = URLValidator(schemes=["http", "https"])
DAV_NS = "DAV:"
CARDDAV_NS = "urn:ietf:params:xml:ns:carddav"

_XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}

_PROPFIND_RESOURCETYPE = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>
"""

_PROPFIND_MEMBERS = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:">
  <d:prop><d:getetag/><d:getcontenttype/><d:resourcetype/></d:prop>
</d:propfind>
"""

# Content types that are certainly not vCards; members with these are left out of the listing.
_NOT_VCARD_PREFIXES = ("text/calendar", "text/html", "text/plain", "image/")


def _dav(name: str) -> str:
    return f"{{{DAV_NS}}}{name}"


def _multiget_body(hrefs: Iterable[str]) -> str:
    """The RFC 6352 §8.7 `addressbook-multiget` request body asking `getetag` and `address-data`."""
    href_elements = "".join(f"<d:href>{escape(href)}</d:href>" for href in hrefs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="{CARDDAV_NS}">'
        "<d:prop><d:getetag/><c:address-data/></d:prop>"
        f"{href_elements}</c:addressbook-multiget>\n"
    )


def _status_code(status_line: str | None) -> int | None:
    """200 for "HTTP/1.1 200 OK" (the DAV:status element, RFC 4918 §14.28); None if unreadable."""
    if not status_line:
        return None
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1])


class _DavResponse:
    """One DAV:response of a multistatus: its href, its own status and the props found (200)."""

    def __init__(self, element: Element) -> None:
        self.href = (element.findtext(_dav("href")) or "").strip()
        self.status = _status_code(element.findtext(_dav("status")))
        self.props: dict[str, Element] = {}
        self.propstat_statuses: list[int | None] = []
        for propstat in element.findall(_dav("propstat")):
            code = _status_code(propstat.findtext(_dav("status")))
            self.propstat_statuses.append(code)
            prop = propstat.find(_dav("prop"))
            if code == 200 and prop is not None:
                for child in prop:
                    self.props[child.tag] = child

    @property
    def resource_types(self) -> set[str]:
        """Tags inside DAV:resourcetype, e.g. {"{DAV:}collection", "{urn:...carddav}addressbook"}."""
        element = self.props.get(_dav("resourcetype"))
        return set() if element is None else {child.tag for child in element}

    @property
    def failure_status(self) -> int | None:
        """The non-200 status of the entry, or None when it came back fine."""
        if self.status is not None and self.status != 200:
            return self.status
        if self.status is None and 200 not in self.propstat_statuses:
            # Unreadable statuses leave the props empty; the missing address-data then says so.
            return next((code for code in self.propstat_statuses if code is not None), None)
        return None


def _parse_multistatus(response: httpx.Response) -> list[_DavResponse]:
    """Parse a 207 body (RFC 4918 §13) into its DAV:response entries.

    Raises `ConnectorError` (temporary) when the body is not XML or not a DAV:multistatus.
    """
    try:
        root = fromstring(response.content)
    except (ParseError, DefusedXmlException, ValueError):
        root = None
    if root is None or root.tag != _dav("multistatus"):
        raise ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s answered something that is not WebDAV XML (HTTP "
                    "%(status_code)s, %(value)s): check the address book URL."
                ),
                what=WHAT,
                status_code=response.status_code,
                value=response.headers.get("Content-Type", "no content type"),
            )
        )
    return [_DavResponse(element) for element in root.findall(_dav("response"))]


def _resource_key(base_url: str, href: str) -> str:
    """The unescaped path an href names, without a final slash: hrefs may be relative, absolute
    paths or full URLs, and servers may escape them differently in requests and answers."""
    return unquote(urlsplit(urljoin(base_url, href)).path).rstrip("/")


def _is_collection_itself(base_url: str, href: str) -> bool:
    return _resource_key(base_url, href) == _resource_key(base_url, base_url)


def _text(value: Any) -> str:
    """A vobject property value as one stripped string (lists, e.g. ORG, give the first part)."""
    if isinstance(value, list | tuple):
        return _text(value[0]) if value else ""
    return str(value).strip() if value is not None else ""


def _first(card: Any, name: str) -> str:
    """The value of the first `name` property of a vobject vCard, "" if it has none."""
    properties = card.contents.get(name) or []
    return _text(properties[0].value) if properties else ""


def _structured_name(card: Any) -> str:
    """The N property (RFC 6350 §6.2.2) as "prefix given additional family suffix"."""
    properties = card.contents.get("n") or []
    if not properties:
        return ""
    value = properties[0].value
    parts: list[str] = []
    for attribute in ("prefix", "given", "additional", "family", "suffix"):
        part = getattr(value, attribute, "")
        parts.extend(part if isinstance(part, list | tuple) else [part])
    return " ".join(str(part).strip() for part in parts if str(part).strip())


def _phone_number(value: str) -> str:
    """A TEL value as written; a vCard 4 `tel:` URI (RFC 6350 §6.4.1, RFC 3966) loses its scheme.

    Of the URI parameters only `ext=` is kept (as ";ext=12", which libphonenumber reads); others
    such as `phone-context` are dropped.
    """
    number = value.strip()
    if number[:4].lower() != "tel:":
        return number
    main, *parameters = number[4:].split(";")
    extension = [p for p in parameters if p.lower().startswith("ext=")]
    return main.strip() + (f";{extension[0]}" if extension else "")


def _phone_type(tel: Any) -> str:
    """The TYPE parameters of a TEL, lower case, joined by "," ("cell", "work,voice"; "" if none).

    vCard 4 writes `TYPE="work,voice"`, vCard 3 `TYPE=WORK,VOICE` or repeated TYPE parameters,
    vCard 2.1 bare `;CELL` (vobject's singletonparams); all give the same result.
    """
    params: Mapping[str, list[str]] = getattr(tel, "params", {}) or {}
    raw: list[str] = [value for key, values in params.items() if key.upper() == "TYPE" for value in values]
    raw.extend(getattr(tel, "singletonparams", []) or [])
    types: list[str] = []
    for value in raw:
        for part in value.split(","):
            part = part.strip().strip('"').lower()
            if part and part not in types:
                types.append(part)
    return ",".join(types)


def _card_record(text: str, *, href: str, card_url: str) -> CrmRecord | SkippedRecord | None:
    """Turn one vCard text into a `CrmRecord`; None when it has no TEL; `SkippedRecord` if unreadable."""
    try:
        card = vobject.readOne(text)
        if getattr(card, "name", "").upper() != "VCARD":
            return SkippedRecord(
                reason=Text(gettext_noop("the resource is not a vCard but %(name)s"), name=str(card.name)),
                id=href,
            )
        return _record_from_card(card, href=href, card_url=card_url)
    except Exception as exc:  # vobject raises ParseError, but also StopIteration, ValueError, ...
        return SkippedRecord(
            reason=Text(
                gettext_noop("the vCard cannot be parsed (%(error)s)"), error=f"{type(exc).__name__}: {exc}"
            ),
            id=href,
        )


def _record_from_card(card: Any, *, href: str, card_url: str) -> CrmRecord | None:
    phones = tuple(
        RecordPhone(number=_phone_number(_text(tel.value)), type=_phone_type(tel))
        for tel in card.contents.get("tel") or []
        if _phone_number(_text(tel.value))
    )
    if not phones:
        return None
    uid = _first(card, "uid")
    company = _first(card, "org")
    email = _first(card, "email")
    display_name = _first(card, "fn") or _structured_name(card) or company or email
    pop_up_uri = _first(card, "url") or card_url
    record_id = uid or href
    return CrmRecord(
        id=record_id,
        type="contact",
        display_name=display_name,
        phones=phones,
        url=pop_up_uri,
        fields={
            "DisplayName": display_name,
            "Identifier": record_id,
            "PopUpUri": pop_up_uri,
            "Email": email,
            "Company": company,
            "Title": _first(card, "title"),
        },
    )


class CardDavConnector(Connector):
    """Reads one CardDAV address book.

    Settings: `url` (the address-book collection, e.g.
    "https://cloud.example.com/remote.php/dav/addressbooks/users/alice/contacts/"), `username` and
    `password` (HTTP Basic; no authentication when `username` is empty).
    """

    what = WHAT

    @property
    def collection_url(self) -> str:
        """The address-book URL of the settings, with the trailing slash collections have."""
        url = self.settings.get("url", "").strip()
        try:
            # Django's URL check (as when the settings are saved) plus the port range, so a URL
            # that reached us another way ("http://[::1", port 99999) is a clear, permanent error.
            _http_url_validator(url)
            _ = urlsplit(url).port  # ValueError when out of range
            valid = True
        except (ValueError, ValidationError):
            valid = False
        if not valid:
            raise ConnectorError(
                Text(
                    gettext_noop('The address book URL "%(url)s" is not an http:// or https:// URL.'), url=url
                ),
                permanent=True,
            )
        return url if url.endswith("/") else url + "/"

    def _request(self, method: str, url: str, *, depth: str, body: str) -> httpx.Response:
        """Send one WebDAV request (`Connector.send`: retries per the policy); raise `ConnectorError`
        unless the server answers 207."""
        username = self.settings.get("username", "")
        auth: dict[str, Any] = {"auth": (username, self.settings.get("password", ""))} if username else {}
        try:
            response = self.send(
                method, url, content=body.encode(), headers={**_XML_HEADERS, "Depth": depth}, **auth
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=WHAT) from exc
        if response.status_code == 207:
            return response
        if response.is_redirect:
            location = response.headers.get("Location", "")
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s redirects the address book URL (HTTP %(status_code)s) to "
                        "%(location)s: use that URL instead."
                    ),
                    what=WHAT,
                    status_code=response.status_code,
                    location=location,
                ),
                permanent=True,
            )
        if response.is_success:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s did not answer %(method)s as a WebDAV server does (HTTP "
                        "%(status_code)s instead of 207 Multi-Status): check the address book "
                        "URL."
                    ),
                    what=WHAT,
                    method=method,
                    status_code=response.status_code,
                ),
                permanent=True,
            )
        raise http_error(response, what=WHAT)

    def test_connection(self) -> None:
        """`PROPFIND` Depth 0 on the URL (RFC 4918 §9.1) and check it is an address book (RFC 6352 §5.2).

        Raises `ConnectorError`: permanent for bad credentials (401), no permission (403), not
        found (404), a redirect, or a collection that is not a CardDAV address book; temporary for
        network failures, 5xx, 429 and a 207 answer that is not WebDAV XML.
        """
        url = self.collection_url
        entries = _parse_multistatus(self._request("PROPFIND", url, depth="0", body=_PROPFIND_RESOURCETYPE))
        entry = next((e for e in entries if _is_collection_itself(url, e.href)), None)
        if entry is None and len(entries) == 1:
            entry = entries[0]
        if entry is None or f"{{{CARDDAV_NS}}}addressbook" not in entry.resource_types:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(url)s is not a CardDAV address book (it is a WebDAV resource "
                        "without the CARDDAV:addressbook resource type): use the URL of the "
                        "address book itself."
                    ),
                    url=url,
                ),
                permanent=True,
            )

    def _member_hrefs(self, url: str) -> list[str]:
        """`PROPFIND` Depth 1 (RFC 4918 §9.1): hrefs of the collection's members, as the server wrote them.

        The collection itself, sub-collections and members whose content type is certainly not a
        vCard are left out.
        """
        entries = _parse_multistatus(self._request("PROPFIND", url, depth="1", body=_PROPFIND_MEMBERS))
        hrefs: list[str] = []
        for entry in entries:
            if not entry.href or _is_collection_itself(url, entry.href):
                continue
            if _dav("collection") in entry.resource_types:
                continue
            content_type_element = entry.props.get(_dav("getcontenttype"))
            content_type = (content_type_element.text or "") if content_type_element is not None else ""
            if content_type.strip().lower().startswith(_NOT_VCARD_PREFIXES):
                continue
            if entry.href not in hrefs:
                hrefs.append(entry.href)
        return hrefs

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield a `CrmRecord` per vCard with at least one TEL, a `SkippedRecord` per unreadable card.

        Record shape: `id` = UID (else the href), `type` "contact", `display_name` = FN (else N,
        else the first ORG component, else EMAIL), `phones` = the TEL values (RFC 6350 §6.4.1;
        `tel:` URIs lose the scheme) with their lower-case TYPEs joined by ",", `url` = the vCard's
        URL property, else the card's own absolute URL on the server; `fields` DisplayName,
        Identifier, PopUpUri, Email (first EMAIL), Company (first ORG component), Title (TITLE),
        "" when absent.

        Lists the members with `PROPFIND` Depth 1 (RFC 4918 §9.1), then fetches them with
        `addressbook-multiget` REPORTs (RFC 6352 §8.7) of `MULTIGET_BATCH_SIZE` hrefs. A vCard the
        server returns but vobject cannot parse is a `SkippedRecord` (id = href). A card the
        server does not deliver (its entry answers 404/503/..., it has no address-data, or the
        multistatus leaves its href out, e.g. an empty 207) fails the whole sync: counting it as
        gone would shrink the phone cache. Raises `ConnectorError` when any request fails (see
        `test_connection`), a multistatus body is not XML, or a batch misses cards: the sync then
        keeps the old cache.
        """
        url = self.collection_url
        hrefs = self._member_hrefs(url)
        batch_size = max(1, MULTIGET_BATCH_SIZE)
        for start in range(0, len(hrefs), batch_size):
            batch = hrefs[start : start + batch_size]
            response = self._request("REPORT", url, depth="1", body=_multiget_body(batch))
            requested = {_resource_key(url, href): href for href in batch}
            entries = [e for e in _parse_multistatus(response) if _resource_key(url, e.href) in requested]
            _check_batch(entries, requested=requested, url=url)
            for entry in entries:
                yield from self._entry_records(entry, url=url)

    def _entry_records(self, entry: _DavResponse, *, url: str) -> Iterator[CrmRecord | SkippedRecord]:
        """The record of one delivered multiget entry (nothing when the card has no TEL)."""
        address_data = entry.props.get(f"{{{CARDDAV_NS}}}address-data")
        text = address_data.text if address_data is not None else ""
        record = _card_record(text or "", href=entry.href, card_url=urljoin(url, entry.href))
        if record is not None:
            yield record


def _check_batch(entries: list[_DavResponse], *, requested: Mapping[str, str], url: str) -> None:
    """Raise `ConnectorError` (temporary) unless every requested card came back with address-data.

    `requested` maps `_resource_key` -> href as asked. The message names how many cards failed
    and the first few, with the status each answered.
    """
    problems: dict[str, str] = {}
    delivered: set[str] = set()
    for entry in entries:
        key = _resource_key(url, entry.href)
        failure = entry.failure_status
        address_data = entry.props.get(f"{{{CARDDAV_NS}}}address-data")
        if failure is not None:
            problems[key] = f"HTTP {failure}"
        elif address_data is None or not (address_data.text or "").strip():
            problems[key] = Text(gettext_noop("no address-data"))
        else:
            delivered.add(key)
            problems.pop(key, None)
    for key in requested:
        if key not in delivered and key not in problems:
            problems[key] = Text(gettext_noop("not returned"))
    if not problems:
        return
    if not entries:
        raise ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s answered an addressbook-multiget of %(requested)s cards with "
                    "an empty multistatus: the cards could not be read, so the old phone "
                    "cache is kept and the sync is retried."
                ),
                what=WHAT,
                requested=len(requested),
            )
        )
    shown: str = ""
    for key, why in list(problems.items())[:5]:
        card = requested[key].rsplit("/", 1)[-1] or requested[key]
        if shown:
            shown = Text(gettext_noop("%(cards)s, %(card)s (%(why)s)"), cards=shown, card=card, why=why)
        else:
            shown = Text(gettext_noop("%(card)s (%(why)s)"), card=card, why=why)
    more = Text(gettext_noop(" and %(count)s more"), count=len(problems) - 5) if len(problems) > 5 else ""
    raise ConnectorError(
        Text(
            gettext_noop(
                "%(what)s did not deliver %(problems)s of %(requested)s cards in an "
                "addressbook-multiget: %(shown)s%(more)s. The old phone cache is kept "
                "and the sync is retried."
            ),
            what=WHAT,
            problems=len(problems),
            requested=len(requested),
            shown=shown,
            more=more,
        )
    )


CARDDAV = Preset(
    slug="carddav",
    name="CardDAV address book",
    description=gettext_noop(
        "Any CardDAV server: Nextcloud, iCloud, Radicale, SOGo, many phone books (RFC 6352)."
    ),
    category="Address book",
    auth_methods=("User name and password or app password (HTTP Basic)",),
    paging="PROPFIND, then addressbook-multiget in batches (RFC 6352)",
    settings=(
        SettingField(
            "url",
            gettext_noop("Address book URL"),
            SettingKind.URL,
            placeholder="https://cloud.example.com/remote.php/dav/addressbooks/users/alice/contacts/",
        ),
        SettingField("username", gettext_noop("User name"), required=False),
        SettingField(
            "password", gettext_noop("Password or app password"), SettingKind.SECRET, required=False
        ),
    ),
    default_scripts=(DefaultScript("Open contact", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=False),),
    connector_class=CardDavConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("Title", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company", "Email"),
    keywords=("nextcloud", "icloud", "radicale", "vcard", "address book", "owncloud", "sogo"),
    docs_url="https://datatracker.ietf.org/doc/html/rfc6352",
)
