"""The CardDAV connector against a real Radicale server and against canned RFC 6352 answers."""

from __future__ import annotations

import datetime as dt
import math
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import phonenumbers
import pytest
import vobject

from devtools.demo_contacts import DemoContact, demo_vcards, upload_address_book
from integrations.connectors import carddav
from integrations.connectors.base import (
    ConnectorError,
    CrmRecord,
    RecordPhone,
    RetryPolicy,
    SkippedRecord,
    retry_after_seconds,
)
from integrations.connectors.carddav import CARDDAV, CardDavConnector
from integrations.phones import PhoneNumberError, normalize_phone
from tests.radicale_server import RadicaleServer

FIXTURES = Path(__file__).parent / "fixtures" / "carddav"

VCARD4_WITH_TEL_URIS = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "UID:vcard4-ada\r\n"
    "FN:Ada Lovelace\r\n"
    "N:Lovelace;Ada;;;\r\n"
    "TEL;VALUE=uri;TYPE=cell:tel:+44-7911-123456\r\n"
    'TEL;VALUE=uri;TYPE="work,voice":tel:+31-20-555-1234;ext=102\r\n'
    "URL:https://crm.example/contacts/ada\r\n"
    "END:VCARD\r\n"
)

VCARD_WITHOUT_TEL = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "UID:no-phone\r\n"
    "FN:Nobody Callable\r\n"
    "N:Callable;Nobody;;;\r\n"
    "EMAIL:nobody@example.com\r\n"
    "END:VCARD\r\n"
)


def records_of(connector: CardDavConnector) -> list[CrmRecord]:
    items = list(connector.iter_records())
    assert all(isinstance(item, CrmRecord) for item in items), items
    return [item for item in items if isinstance(item, CrmRecord)]


# --- Against a real Radicale ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_contacts() -> list[DemoContact]:
    return demo_vcards()


@pytest.fixture(scope="module")
def address_book(radicale_server: RadicaleServer, demo_contacts: list[DemoContact]) -> str:
    """Alice's address book "connector-tests": the demo contacts, a vCard 4 card and one without TEL."""
    url = radicale_server.address_book_url("alice", "connector-tests")
    auth = radicale_server.auth("alice")
    with httpx.Client() as client:
        assert upload_address_book(client, url=url, contacts=demo_contacts, auth=auth) == len(demo_contacts)
        for name, text in (("ada.vcf", VCARD4_WITH_TEL_URIS), ("no-phone.vcf", VCARD_WITHOUT_TEL)):
            headers = {"Content-Type": "text/vcard; charset=utf-8"}
            client.put(url + name, content=text, headers=headers, auth=auth).raise_for_status()
    return url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def alice(url: str, client: httpx.Client, *, wrong_password: bool = False) -> CardDavConnector:
    password = "wrong" if wrong_password else "alice-secret"
    return CardDavConnector(settings={"url": url, "username": "alice", "password": password}, client=client)


@pytest.fixture(scope="module")
def listed(address_book: str) -> list[CrmRecord]:
    """What the connector lists from the address book (read once; the tests below only look)."""
    with httpx.Client() as client:
        return records_of(alice(address_book, client))


def named(records: list[CrmRecord], display_name: str) -> CrmRecord:
    return next(record for record in records if record.display_name == display_name)


def test_it_lists_every_demo_contact_with_its_numbers_and_fields(address_book, demo_contacts, listed):
    records = {record.id: record for record in listed}

    assert len(records) == len(demo_contacts) + 1  # and Ada, the vCard 4 card
    for contact in demo_contacts:
        record = records[contact.uid]
        assert record.type == "contact"
        assert record.display_name == contact.full_name
        assert record.phones == tuple(RecordPhone(number, kind) for kind, number in contact.phones)
        assert record.url == f"{address_book}{contact.uid}.vcf"
        assert record.fields == {
            "DisplayName": contact.full_name,
            "Identifier": contact.uid,
            "PopUpUri": f"{address_book}{contact.uid}.vcf",
            "Email": contact.email,
            "Company": contact.company,
            "Title": contact.title,
        }


def test_it_gives_jan_jansen_his_numbers_as_written_with_lower_case_types(address_book, listed):
    jan = named(listed, "Jan Jansen")

    assert jan.phones == (RecordPhone("+31 (0)20 123 4567", "work"), RecordPhone("06-12345678", "cell"))
    assert jan.fields["Company"] == "Acme BV"
    assert jan.url == f"{address_book}demo-0000-jan-jansen.vcf"


def test_it_joins_several_tel_types_with_commas(listed):
    sanne = named(listed, "Sanne Bakker")

    assert sanne.phones[0] == RecordPhone("+31 (0)30 2345678", "work,voice")


def test_it_reads_vcard4_tel_uris_without_the_tel_scheme(listed):
    ada = named(listed, "Ada Lovelace")

    assert ada.phones == (
        RecordPhone("+44-7911-123456", "cell"),
        RecordPhone("+31-20-555-1234;ext=102", "work,voice"),
    )
    assert normalize_phone(ada.phones[1].number, country="NL").e164 == "+31205551234"
    assert normalize_phone(ada.phones[1].number, country="NL").extension == "102"


def test_it_takes_the_pop_up_uri_from_the_vcard_url_property_when_there_is_one(listed):
    ada = named(listed, "Ada Lovelace")

    assert ada.url == ada.fields["PopUpUri"] == "https://crm.example/contacts/ada"


def test_it_does_not_yield_cards_without_a_phone_number(listed):
    assert "no-phone" not in {record.id for record in listed}


def test_it_lists_every_card_exactly_once_when_multiget_batches_are_small(
    address_book, demo_contacts, monkeypatch
):
    monkeypatch.setattr(carddav, "MULTIGET_BATCH_SIZE", 7)
    reports: list[httpx.Request] = []

    def count_reports(request: httpx.Request) -> None:
        if request.method == "REPORT":
            reports.append(request)

    with httpx.Client(event_hooks={"request": [count_reports]}) as client:
        ids = Counter(record.id for record in records_of(alice(address_book, client)))

    cards = len(demo_contacts) + 2  # Ada and the card without TEL are fetched too
    assert len(reports) == math.ceil(cards / 7)
    assert set(ids.values()) == {1}
    assert len(ids) == len(demo_contacts) + 1


def test_uploading_the_demo_address_book_again_overwrites_the_cards(radicale_server, client):
    url = radicale_server.address_book_url("alice", "upload-twice")
    contacts = demo_vcards(6)

    first = upload_address_book(client, url=url, contacts=contacts, auth=radicale_server.auth("alice"))
    second = upload_address_book(client, url=url, contacts=contacts, auth=radicale_server.auth("alice"))

    assert first == second == 6
    assert sorted(r.id for r in records_of(alice(url, client))) == sorted(c.uid for c in contacts)


def test_connection_passes_for_the_owner_of_the_address_book(address_book, client):
    alice(address_book, client).test_connection()


def test_connection_reports_a_wrong_password_as_refused_credentials(address_book, client):
    with pytest.raises(ConnectorError, match="refused the credentials") as caught:
        alice(address_book, client, wrong_password=True).test_connection()

    assert caught.value.permanent


def test_connection_reports_another_users_address_book_as_no_permission(address_book, client):
    bob = CardDavConnector(
        settings={"url": address_book, "username": "bob", "password": "bob-secret"}, client=client
    )

    with pytest.raises(ConnectorError, match="no permission") as caught:
        bob.test_connection()

    assert caught.value.permanent


def test_connection_says_a_plain_collection_is_not_an_address_book(radicale_server, client):
    with pytest.raises(ConnectorError, match="is not a CardDAV address book") as caught:
        alice(f"{radicale_server.url}/alice/", client).test_connection()

    assert caught.value.permanent


def test_connection_reports_a_missing_address_book_as_not_found(radicale_server, client):
    with pytest.raises(ConnectorError, match="not found") as caught:
        alice(radicale_server.address_book_url("alice", "no-such-book"), client).test_connection()

    assert caught.value.permanent


def test_connection_reports_a_closed_port_as_temporary(client):
    # A socket bound but not listening holds the port, so nothing else can take it meanwhile and
    # a connection to it is refused (ECONNREFUSED) for certain.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

        with pytest.raises(ConnectorError, match="unreachable") as caught:
            alice(f"http://127.0.0.1:{port}/alice/contacts/", client).test_connection()

    assert not caught.value.permanent


# --- Against canned answers (httpx.MockTransport) ----------------------------------------------

NEXTCLOUD_BOOK = "https://cloud.example.com/remote.php/dav/addressbooks/users/alice/contacts/"
MULTISTATUS = (
    '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">'
)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def multistatus(*responses: str) -> str:
    return MULTISTATUS + "".join(responses) + "</d:multistatus>"


def member(href: str) -> str:
    return (
        f'<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag>'
        "<d:getcontenttype>text/vcard</d:getcontenttype><d:resourcetype/></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def card(href: str, vcard: str) -> str:
    escaped = vcard.replace("&", "&amp;").replace("<", "&lt;")
    return (
        f'<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag>'
        f"<card:address-data>{escaped}</card:address-data></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def simple_vcard(uid: str, *lines: str) -> str:
    return "\r\n".join(("BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", *lines, "END:VCARD", ""))


def requested_hrefs(request: httpx.Request) -> list[str]:
    return re.findall(r"<d:href>([^<]*)</d:href>", request.content.decode())


class FakeCardDavServer:
    """An address book at NEXTCLOUD_BOOK answering PROPFIND and addressbook-multiget (RFC 6352)."""

    def __init__(self, cards: dict[str, str]) -> None:
        self.cards = cards  # href path -> vCard text
        self.requests: list[httpx.Request] = []
        self.fail_report: Callable[[int], httpx.Response | None] = lambda number: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "PROPFIND" and request.headers["Depth"] == "0":
            return httpx.Response(207, text=fixture_text("propfind_depth0_nextcloud_address_book.xml"))
        if request.method == "PROPFIND":
            book = member(httpx.URL(NEXTCLOUD_BOOK).path)
            return httpx.Response(207, text=multistatus(book, *(member(href) for href in self.cards)))
        if request.method == "REPORT":
            failure = self.fail_report(sum(r.method == "REPORT" for r in self.requests))
            if failure is not None:
                return failure
            hrefs = requested_hrefs(request)
            return httpx.Response(207, text=multistatus(*(card(h, self.cards[h]) for h in hrefs)))
        return httpx.Response(405)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def nextcloud_cards(count: int) -> dict[str, str]:
    path = httpx.URL(NEXTCLOUD_BOOK).path
    return {
        f"{path}card-{n}.vcf": simple_vcard(f"card-{n}", f"FN:Person {n}", f"TEL:+31 20 555 {n:04d}")
        for n in range(count)
    }


def connector_for(client: httpx.Client, *, username: str = "alice") -> CardDavConnector:
    settings = {"url": NEXTCLOUD_BOOK, "username": username, "password": "app-password" if username else ""}
    return CardDavConnector(settings=settings, client=client)


def test_it_lists_members_with_propfind_and_fetches_them_with_addressbook_multiget():
    server = FakeCardDavServer(nextcloud_cards(3))

    records_of(connector_for(server.client()))

    propfind, report = server.requests
    assert (propfind.method, propfind.headers["Depth"]) == ("PROPFIND", "1")
    assert b"<d:getetag/>" in propfind.content
    assert (report.method, str(report.url)) == ("REPORT", NEXTCLOUD_BOOK)
    assert b"addressbook-multiget" in report.content
    assert b"<c:address-data/>" in report.content
    assert requested_hrefs(report) == list(server.cards)
    assert report.headers["Content-Type"].startswith("application/xml")
    assert report.headers["Authorization"].startswith("Basic ")


def test_it_sends_no_credentials_when_the_user_name_is_empty():
    server = FakeCardDavServer(nextcloud_cards(1))

    records_of(connector_for(server.client(), username=""))

    assert all("Authorization" not in request.headers for request in server.requests)


def test_connection_accepts_a_nextcloud_address_book():
    server = FakeCardDavServer({})

    connector_for(server.client()).test_connection()

    assert server.requests[0].method == "PROPFIND"
    assert server.requests[0].headers["Depth"] == "0"
    assert b"<d:resourcetype/>" in server.requests[0].content


DELETED_CARD_ENTRY = re.compile(r"<d:response>\s*<d:href>[^<]*/old\.vcf</d:href>.*?</d:response>", re.S)


def nextcloud_listing(*, deleted_card: bool = False) -> httpx.MockTransport:
    """Nextcloud's answers; without `deleted_card`, old.vcf comes back as a card without TEL
    instead of the recorded 404 (a card deleted between the PROPFIND and the multiget)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PROPFIND":
            return httpx.Response(207, text=fixture_text("propfind_depth1_nextcloud_members.xml"))
        body = fixture_text("multiget_nextcloud_with_unparseable_and_deleted_card.xml")
        if not deleted_card:
            href = httpx.URL(NEXTCLOUD_BOOK).path + "old.vcf"
            body = DELETED_CARD_ENTRY.sub(card(href, VCARD_WITHOUT_TEL), body)
        return httpx.Response(207, text=body, headers={"Content-Type": "application/xml; charset=utf-8"})

    return httpx.MockTransport(handler)


def test_it_skips_the_collection_itself_sub_collections_and_files_that_are_not_vcards():
    hrefs: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "REPORT":
            hrefs.extend(requested_hrefs(request))
        return nextcloud_listing().handle_request(request)

    list(connector_for(httpx.Client(transport=httpx.MockTransport(handler))).iter_records())

    assert [unquote(href.rsplit("/", 1)[1]) for href in hrefs] == [
        "jane.vcf",
        "Jürgen Müller.vcf",
        "broken.vcf",
        "old.vcf",
    ]


def test_a_card_vobject_cannot_parse_is_skipped_and_the_sync_goes_on():
    items = list(connector_for(httpx.Client(transport=nextcloud_listing())).iter_records())

    skipped = [item for item in items if isinstance(item, SkippedRecord)]
    assert [item.id.rsplit("/", 1)[1] for item in skipped] == ["broken.vcf"]
    assert "cannot be parsed" in skipped[0].reason
    assert [item.id for item in items if isinstance(item, CrmRecord)] == [
        "jane-1",
        "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
    ]


def test_a_card_answering_404_inside_the_multiget_fails_the_sync_instead_of_shrinking_it():
    connector = connector_for(httpx.Client(transport=nextcloud_listing(deleted_card=True)))

    with pytest.raises(
        ConnectorError, match=r"did not deliver 1 of 4 cards.*old\.vcf \(HTTP 404\)"
    ) as caught:
        list(connector.iter_records())

    assert not caught.value.permanent


def test_a_card_returned_without_address_data_fails_the_sync():
    server = FakeCardDavServer(nextcloud_cards(2))
    first, second = server.cards
    without_data = (
        f'<d:response><d:href>{second}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop>'
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><card:address-data/>"
        "</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"
    )
    server.fail_report = lambda number: httpx.Response(
        207, text=multistatus(card(first, server.cards[first]), without_data)
    )

    with pytest.raises(ConnectorError, match=r"card-1\.vcf \(no address-data\)"):
        list(connector_for(server.client()).iter_records())


def test_an_empty_multistatus_answer_to_a_multiget_fails_the_sync():
    server = FakeCardDavServer(nextcloud_cards(3))
    server.fail_report = lambda number: httpx.Response(207, text=multistatus())

    with pytest.raises(ConnectorError, match="of 3 cards with an empty multistatus"):
        list(connector_for(server.client()).iter_records())


def test_it_reads_nextcloud_cards_with_escaped_org_and_vcard4_tel_uris():
    items = list(connector_for(httpx.Client(transport=nextcloud_listing())).iter_records())
    jane, jurgen = (item for item in items if isinstance(item, CrmRecord))

    assert jane.phones == (RecordPhone("+31612345678", "cell"), RecordPhone("+31 20 123 4567", "work,voice"))
    assert jane.fields["Company"] == "Smith & Daughters, Ltd"
    assert jane.fields["Email"] == "jane@smith.example"
    assert jane.fields["Title"] == "Buyer"
    assert jane.url == NEXTCLOUD_BOOK + "jane.vcf"
    assert jurgen.display_name == "Jürgen Müller"
    assert jurgen.phones == (
        RecordPhone("+49-30-1234567;ext=89", "work,voice"),
        RecordPhone("+49-151-12345678", "cell"),
    )
    assert jurgen.url == jurgen.fields["PopUpUri"] == "https://crm.example/contacts/4711"


def test_the_display_name_falls_back_to_the_structured_name_then_the_company():
    path = httpx.URL(NEXTCLOUD_BOOK).path
    server = FakeCardDavServer(
        {
            f"{path}n.vcf": simple_vcard("n", "N:Jansen;Jan;van;Dr.;", "TEL:020 1234567"),
            f"{path}org.vcf": simple_vcard("org", "ORG:Acme BV;Sales", "TEL:020 7654321"),
            f"{path}no-uid.vcf": "\r\n".join(
                ("BEGIN:VCARD", "VERSION:3.0", "FN:No Uid", "TEL:020 1111111", "END:VCARD", "")
            ),
        }
    )

    by_id = {r.id: r for r in records_of(connector_for(server.client()))}

    assert by_id["n"].display_name == "Dr. Jan van Jansen"
    assert by_id["org"].display_name == "Acme BV"
    assert by_id["org"].fields["Company"] == "Acme BV"
    assert by_id[f"{path}no-uid.vcf"].fields["Identifier"] == f"{path}no-uid.vcf"
    assert by_id[f"{path}no-uid.vcf"].phones == (RecordPhone("020 1111111", ""),)


def test_a_card_the_multiget_does_not_return_fails_the_sync():
    server = FakeCardDavServer(nextcloud_cards(2))
    first = next(iter(server.cards))
    server.fail_report = lambda number: httpx.Response(
        207, text=multistatus(card(first, server.cards[first]))
    )

    with pytest.raises(ConnectorError, match=r"did not deliver 1 of 2 cards.*card-1\.vcf \(not returned\)"):
        list(connector_for(server.client()).iter_records())


def test_a_server_error_on_the_second_multiget_batch_fails_the_sync_as_temporary(monkeypatch):
    monkeypatch.setattr(carddav, "MULTIGET_BATCH_SIZE", 2)
    server = FakeCardDavServer(nextcloud_cards(5))
    server.fail_report = lambda number: httpx.Response(500) if number == 2 else None
    records = connector_for(server.client()).iter_records()

    assert [next(records).id, next(records).id] == ["card-0", "card-1"]
    with pytest.raises(ConnectorError, match=r"server error \(HTTP 500\)") as caught:
        next(records)

    assert not caught.value.permanent


def test_a_207_whose_body_is_not_xml_fails_with_a_clear_message():
    transport = httpx.MockTransport(lambda request: httpx.Response(207, text="<html>Welcome!"))
    connector = connector_for(httpx.Client(transport=transport))

    with pytest.raises(ConnectorError, match="not WebDAV XML"):
        connector.test_connection()
    with pytest.raises(ConnectorError, match="not WebDAV XML"):
        list(connector.iter_records())


def test_a_multiget_answer_that_is_not_xml_fails_the_whole_sync():
    server = FakeCardDavServer(nextcloud_cards(2))
    server.fail_report = lambda number: httpx.Response(207, text="BEGIN:VCARD\r\nno xml here")

    with pytest.raises(ConnectorError, match="not WebDAV XML"):
        list(connector_for(server.client()).iter_records())


def test_xml_with_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        '<d:multistatus xmlns:d="DAV:">&a;</d:multistatus>'
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(207, text=bomb))

    with pytest.raises(ConnectorError, match="not WebDAV XML"):
        connector_for(httpx.Client(transport=transport)).test_connection()


def test_a_429_with_retry_after_says_when_to_retry():
    transport = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "30"}))

    with pytest.raises(ConnectorError, match="retry after 30 s") as caught:
        list(connector_for(httpx.Client(transport=transport)).iter_records())

    assert not caught.value.permanent


def test_a_redirect_is_reported_with_the_url_to_use():
    location = "https://cloud.example.com/remote.php/dav/addressbooks/users/alice/default/"
    transport = httpx.MockTransport(lambda request: httpx.Response(301, headers={"Location": location}))

    with pytest.raises(ConnectorError, match=re.escape(location)) as caught:
        connector_for(httpx.Client(transport=transport)).test_connection()

    assert caught.value.permanent


def test_a_web_page_instead_of_a_webdav_answer_is_a_permanent_error():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>Log in</html>"))

    with pytest.raises(ConnectorError, match="instead of 207") as caught:
        connector_for(httpx.Client(transport=transport)).test_connection()

    assert caught.value.permanent


@pytest.mark.parametrize(
    "url",
    ["cloud.example.com/dav", "http://[::1", "http://host:99999/dav/", "http://exa mple.com/", "https://"],
)
def test_a_url_that_is_not_http_is_a_permanent_error(url):
    # Such a URL can still reach a connector: settings edited in the Django admin, an old row.
    connector = CardDavConnector(settings={"url": url}, client=httpx.Client())

    with pytest.raises(ConnectorError, match="not an http") as caught:
        connector.test_connection()

    assert caught.value.permanent


def test_the_preset_declares_the_carddav_settings_and_fields():
    assert CARDDAV.slug == "carddav"
    assert CARDDAV.connector_class is CardDavConnector
    assert [s.name for s in CARDDAV.settings] == ["url", "username", "password"]
    assert CARDDAV.secret_setting_names == frozenset({"password"})
    assert [f.name for f in CARDDAV.all_fields] == [
        "DisplayName", "Identifier", "PopUpUri", "Email", "Company", "Title",
    ]  # fmt: skip
    assert CARDDAV.default_scripts[0].template == "$(PopUpUri)"


# --- The demo contacts ---------------------------------------------------------------------------


def test_jan_jansen_is_the_first_demo_contact_and_matches_a_national_caller_number(demo_contacts):
    jan = demo_contacts[0]

    assert (jan.full_name, jan.company, jan.email) == ("Jan Jansen", "Acme BV", "jan.jansen@acme.example")
    assert ("work", "+31 (0)20 123 4567") in jan.phones
    work = dict(jan.phones)["work"]
    assert normalize_phone(work, country="NL") == normalize_phone("0201234567", country="NL")


def test_demo_numbers_are_valid_and_unique_except_one_shared_switchboard(demo_contacts):
    owners: dict[str, list[str]] = {}
    for contact in demo_contacts[:-2]:
        for _, number in contact.phones:
            parsed = phonenumbers.parse(number, "NL")
            assert phonenumbers.is_valid_number(parsed), number
            owners.setdefault(normalize_phone(number, country="NL").e164, []).append(contact.full_name)

    shared = {e164: names for e164, names in owners.items() if len(names) > 1}
    assert shared == {"+31302345678": ["Pieter de Vries", "Sanne Bakker"]}


def test_the_two_broken_demo_contacts_have_no_possible_number(demo_contacts):
    broken = demo_contacts[-2:]

    assert [c.phones for c in broken] == [(("", "call me maybe"),), (("", "+31 12"),)]
    for contact in broken:
        with pytest.raises(PhoneNumberError):
            normalize_phone(contact.phones[0][1], country="NL")


def test_demo_numbers_are_written_the_many_ways_people_write_them(demo_contacts):
    numbers = [number for contact in demo_contacts for _, number in contact.phones]
    written = " | ".join(numbers)

    for notation in ("+31 (0)", "0031 ", "(0", ") ", "-", ".", " ext. ", " x ", "06-", "06 "):
        assert notation in written, notation
    for country in ("+32 ", "+49 ", "+44 ", "+1 ", "+33 "):
        assert country in written, country
    assert {len(contact.phones) for contact in demo_contacts} == {1, 2, 3}
    assert {kind for contact in demo_contacts for kind, _ in contact.phones} >= {"work", "cell", "home"}


def test_demo_vcards_are_the_same_for_the_same_seed(demo_contacts):
    assert demo_vcards() == demo_contacts
    assert demo_vcards(seed=8)[3:] != demo_contacts[3:]
    assert len(demo_vcards(10)) == 10
    with pytest.raises(ValueError, match="count"):
        demo_vcards(4)


def test_every_demo_vcard_parses_with_folded_crlf_lines(demo_contacts):
    uids = set()
    for contact in demo_contacts:
        parsed = vobject.readOne(contact.vcard)
        uids.add(parsed.uid.value)
        assert parsed.fn.value == contact.full_name
        lines = contact.vcard.split("\r\n")
        assert lines[-1] == ""
        assert all("\n" not in line for line in lines)
        assert max(len(line.encode()) for line in lines) <= 75

    assert len(uids) == len(demo_contacts)


# --- Retries in Connector.send (issue 5, finding 7) ---------------------------------------------


def retrying_connector(handler, *, policy: RetryPolicy, waits: list[float]) -> CardDavConnector:
    settings = {"url": NEXTCLOUD_BOOK, "username": "alice", "password": "app-password"}
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return CardDavConnector(settings=settings, client=client, sleep=waits.append, retry=policy)


def test_a_connection_test_neither_retries_nor_waits_by_default():
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, headers={"Retry-After": "5"})

    waits: list[float] = []
    connector = CardDavConnector(
        settings={"url": NEXTCLOUD_BOOK},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=waits.append,
    )

    with pytest.raises(ConnectorError, match=r"server error \(HTTP 503; it asks to retry after 5 s\)"):
        connector.test_connection()

    assert (len(calls), waits) == (1, [])


def test_server_errors_are_retried_with_a_doubling_backoff_then_reported():
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502)

    waits: list[float] = []
    connector = retrying_connector(handler, policy=RetryPolicy(retries=3, backoff=1.0), waits=waits)

    with pytest.raises(ConnectorError, match=r"HTTP 502") as caught:
        connector.test_connection()

    assert len(calls) == 4
    assert waits == [1.0, 2.0, 4.0]
    assert not caught.value.permanent


def test_client_errors_are_not_retried():
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401)

    waits: list[float] = []
    connector = retrying_connector(handler, policy=RetryPolicy(retries=3), waits=waits)

    with pytest.raises(ConnectorError, match="refused the credentials"):
        connector.test_connection()

    assert (len(calls), waits) == (1, [])


def test_a_retry_after_past_the_sync_deadline_is_not_waited():
    waits: list[float] = []
    handler = lambda request: httpx.Response(429, headers={"Retry-After": "30"})  # noqa: E731
    policy = RetryPolicy(retries=3, max_retry_after=60, deadline=time.monotonic() + 10)

    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        retrying_connector(handler, policy=policy, waits=waits).test_connection()

    assert waits == []
    assert caught.value.retry_after == 30


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Sun, 01 Mar 2026 12:05:00 GMT", 300.0),
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),  # in the past
        ("-5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header, seconds):
    response = httpx.Response(429, headers={"Retry-After": header} if header else {})
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    assert retry_after_seconds(response, now=now) == seconds
