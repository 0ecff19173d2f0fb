"""The LDAP / Active Directory connector against a real OpenLDAP slapd (tests/slapd_server.py).

The directory holds a few thousand people; slapd returns at most 500 entries per search, so a
full listing only succeeds by paging (RFC 2696).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from ldap3 import MODIFY_REPLACE, Connection, Server

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.ldap import (
    DEFAULT_FILTER,
    LDAP,
    LdapConnector,
    entry_record,
    generalized_time,
)
from integrations.matching import call_from_params, match_call
from integrations.models import PhoneCacheEntry
from integrations.outbound import PRIVATE_ADDRESS_MESSAGE
from integrations.registry import get_preset
from integrations.services import (
    integration_create,
    integration_set_lookup_mode,
    integration_settings_clean,
)
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.slapd_server import (
    ADMIN_DN,
    ADMIN_PASSWORD,
    CHANGED_UIDS,
    JAN_DN,
    LIMITED_DN,
    LIMITED_PASSWORD,
    PEOPLE_DN,
    SIZE_LIMIT,
    SUFFIX,
    TLS_HOST,
    SlapdServer,
    people_with_numbers,
)

_BIND = {"base_dn": SUFFIX, "bind_dn": "cn=reader,dc=example,dc=org", "bind_password": "x"}


def _connector(settings: dict[str, str]) -> LdapConnector:
    return LdapConnector(settings=settings, client=httpx.Client())


def _records(
    connector: LdapConnector, items: Iterator[CrmRecord | SkippedRecord] | None = None
) -> list[CrmRecord]:
    result = list(connector.iter_records() if items is None else items)
    assert all(isinstance(item, CrmRecord) for item in result)
    return [item for item in result if isinstance(item, CrmRecord)]


def _error(call: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call()
    return caught.value


def _uid(record: CrmRecord) -> str:
    return record.fields["DN"].split(",", 1)[0].removeprefix("uid=")


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records each page request the connector sends: its filter, page size and cookie."""
    sent: list[dict[str, Any]] = []
    original = LdapConnector._search

    def spy(
        self: LdapConnector, connection: Any, search_filter: str, *, paged_size: int, cookie: bytes | None
    ) -> bytes:
        sent.append({"filter": search_filter, "size": paged_size, "cookie": cookie})
        return original(self, connection, search_filter, paged_size=paged_size, cookie=cookie)

    monkeypatch.setattr(LdapConnector, "_search", spy)
    return sent


def test_the_preset_is_registered_with_its_settings():
    preset = get_preset("ldap")
    assert preset is LDAP
    assert preset.has_phone_data
    assert {s.name for s in preset.settings} >= {
        "server_url", "start_tls", "verify_tls", "ca_certificate", "bind_dn", "bind_password",
        "base_dn", "search_filter", "page_size", "directory_type",
    }  # fmt: skip
    assert preset.secret_setting_names == {"bind_password"}


def test_a_full_listing_pages_through_thousands_of_entries(slapd_server, allow_private_addresses, pages):
    records = _records(_connector(slapd_server.settings(page_size="200")))

    assert len(records) == people_with_numbers()
    assert len(records) > SIZE_LIMIT * 4  # more than the server gives one search
    assert len({r.id for r in records}) == len(records)
    # 2,165 entries in pages of 200: 11 pages, each after the first with the cookie of the last.
    assert len(pages) == 11
    assert pages[0]["cookie"] is None
    assert all(p["cookie"] for p in pages[1:])
    assert {p["size"] for p in pages} == {200}
    assert pages[0]["filter"] == DEFAULT_FILTER


def test_a_directory_entry_becomes_a_record_with_its_attributes(slapd_server, allow_private_addresses):
    records = {r.fields["DN"]: r for r in _records(_connector(slapd_server.settings()))}

    jan = records[JAN_DN]
    assert uuid.UUID(jan.id)  # entryUUID (RFC 4530), not the DN
    assert jan.type == "contact"
    assert jan.display_name == "Jan Jansen (Sales)"
    assert jan.phones == (
        RecordPhone("+31 (0)20 123 4567", "work"),
        RecordPhone("020 765 4321", "work"),
        RecordPhone("06-12345678", "cell"),
        RecordPhone("+31 70 999 0000", "home"),
    )
    assert jan.url == ""
    assert dict(jan.fields) == {
        "DisplayName": "Jan Jansen (Sales)",
        "Identifier": jan.id,
        "PopUpUri": "",
        "Email": "jan@example.org",
        "Company": "Acme BV",
        "Title": "Account manager",
        "Department": "Sales",
        "DN": JAN_DN,
    }
    # No displayName: cn. Several telephoneNumbers, a mobile: one phone each.
    person_1 = records[f"uid=user1,{PEOPLE_DN}"]
    assert person_1.display_name == "Person 1"
    assert person_1.phones == (RecordPhone("020-5550001", "work"),)
    person_35 = records[f"uid=user35,{PEOPLE_DN}"]
    assert person_35.phones == (
        RecordPhone("0031 20 555 0035", "work"),
        RecordPhone("+31 30 777 0035", "work"),
        RecordPhone("06 20000035", "cell"),
    )
    # Entries without any number are not listed.
    assert f"uid=user10,{PEOPLE_DN}" not in records


def test_test_connection_succeeds_with_the_reader(slapd_server, allow_private_addresses):
    _connector(slapd_server.settings()).test_connection()


def test_a_wrong_password_is_a_permanent_error_saying_the_credentials_were_refused(
    slapd_server, allow_private_addresses
):
    error = _error(lambda: _connector(slapd_server.settings(bind_password="wrong")).test_connection())

    assert error.permanent
    assert "refused the credentials" in error.message
    assert "49" in error.message


def test_a_base_dn_that_does_not_exist_is_a_permanent_error(slapd_server, allow_private_addresses):
    settings = slapd_server.settings(base_dn="ou=nowhere,dc=example,dc=org")

    error = _error(lambda: list(_connector(settings).iter_records()))

    assert error.permanent
    assert 'no entry "ou=nowhere,dc=example,dc=org"' in error.message
    assert "base DN" in error.message


def test_a_server_that_stops_at_its_size_limit_fails_the_listing_instead_of_shrinking_it(
    slapd_server, allow_private_addresses
):
    # The "limited" account may read only 500 entries even with paging: a partial listing would
    # drop every other number from the cache, so the listing fails.
    settings = slapd_server.settings(bind_dn=LIMITED_DN, bind_password=LIMITED_PASSWORD)

    error = _error(lambda: list(_connector(settings).iter_records()))

    assert error.permanent
    assert "size limit" in error.message
    assert "LDAP result 4" in error.message


def test_an_invalid_filter_is_a_permanent_error(slapd_server, allow_private_addresses):
    error = _error(lambda: list(_connector(slapd_server.settings(search_filter="(&(cn=a")).iter_records()))

    assert error.permanent
    assert "not a valid LDAP filter" in error.message


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:389", "ldap://", "ldap://host:99999", "ldap://u:p@host", "host"]
)
def test_a_server_url_that_is_not_ldap_is_a_permanent_error(url):
    error = _error(lambda: _connector({"server_url": url, "base_dn": SUFFIX}).test_connection())

    assert error.permanent
    assert "is not an ldap://" in error.message


def test_a_closed_port_is_a_temporary_error(allow_private_addresses):
    # A socket bound but not listening holds the port: connections to it are refused.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        settings = {"server_url": f"ldap://127.0.0.1:{port}", "base_dn": SUFFIX}

        error = _error(lambda: _connector(settings).test_connection())

    assert not error.permanent
    assert error.message == (
        "The LDAP server is unreachable: check the address, and that the server accepts connections."
    )


def test_a_private_address_is_refused_before_connecting(slapd_server, monkeypatch):
    opened: list[Any] = []
    monkeypatch.setattr("integrations.connectors.ldap.Server", lambda *a, **k: opened.append(a))

    error = _error(lambda: _connector(slapd_server.settings()).test_connection())

    assert error.permanent
    assert error.message == PRIVATE_ADDRESS_MESSAGE
    assert opened == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ldap://127.0.0.1:389", PRIVATE_ADDRESS_MESSAGE),
        ("ldaps://[::1]", PRIVATE_ADDRESS_MESSAGE),
        ("ldap://169.254.169.254", PRIVATE_ADDRESS_MESSAGE),
        ("ldap://localhost", PRIVATE_ADDRESS_MESSAGE),
        ("https://directory.example.com", "is not an ldap://host[:port] or ldaps://host[:port] URL"),
        ("ldap://[::1", "is not an ldap://host[:port] or ldaps://host[:port] URL"),
    ],
)
def test_saving_the_settings_refuses_a_private_or_malformed_server_url(url, expected):
    # Like the URLs of HTTP connectors: refused when saved, not only on every sync.
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=get_preset("ldap"), values={"server_url": url, "base_dn": SUFFIX})

    assert expected in caught.value.message_dict["server_url"][0]


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_directory_on_the_local_network_is_saved_when_private_addresses_are_allowed():
    plain, _ = integration_settings_clean(
        preset=get_preset("ldap"), values={"server_url": "ldap://10.0.0.5", "base_dn": SUFFIX}
    )

    assert plain["server_url"] == "ldap://10.0.0.5"


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["198.51.100.7", "10.1.2.3"]  # one public-looking, one private: refused

    monkeypatch.setattr("integrations.outbound.system_resolver", resolver)
    settings = {"server_url": "ldaps://directory.corp.example", "base_dn": SUFFIX}

    error = _error(lambda: _connector(settings).test_connection())

    assert asked == [("directory.corp.example", 636)]
    assert error.message == PRIVATE_ADDRESS_MESSAGE
    assert error.permanent


def test_ldap3_connects_to_the_checked_address_not_to_the_name(
    slapd_server, allow_private_addresses, monkeypatch
):
    # The name is resolved once by the guard; ldap3 gets the IP address, so it never asks DNS
    # itself (a rebinding DNS answer could not slip past the check).
    monkeypatch.setattr("integrations.outbound.system_resolver", lambda host, port: ["127.0.0.1"])
    hosts: list[str] = []
    original = Server.__init__

    def recording(self: Server, host: str, *args: Any, **kwargs: Any) -> None:
        hosts.append(host)
        original(self, host, *args, **kwargs)

    monkeypatch.setattr(Server, "__init__", recording)
    settings = slapd_server.settings(server_url=f"ldap://directory.test:{slapd_server.port}")

    _connector(settings).test_connection()

    assert hosts == ["127.0.0.1"]


def test_starttls_refused_by_a_server_without_tls_is_a_permanent_error(slapd_server, allow_private_addresses):
    error = _error(lambda: _connector(slapd_server.settings(start_tls="yes")).test_connection())

    assert error.permanent
    assert "StartTLS" in error.message


def test_a_cookie_the_server_repeats_does_not_loop_forever(
    slapd_server, allow_private_addresses, monkeypatch
):
    original = LdapConnector._search
    calls: list[bytes | None] = []

    def first_page_again(self: LdapConnector, connection: Any, search_filter: str, **kwargs: Any) -> bytes:
        calls.append(kwargs["cookie"])
        return original(self, connection, search_filter, paged_size=kwargs["paged_size"], cookie=None)

    monkeypatch.setattr(LdapConnector, "_search", first_page_again)

    error = _error(lambda: list(_connector(slapd_server.settings()).iter_records()))

    assert "cookie it had already sent" in error.message
    assert len(calls) == 2


def test_incremental_listing_returns_only_entries_changed_since(slapd_server, allow_private_addresses, pages):
    changed = _records(
        _connector(slapd_server.settings()),
        _connector(slapd_server.settings()).iter_changes(dt.datetime(2025, 3, 1, tzinfo=dt.UTC)),
    )

    uids = {_uid(r) for r in changed}
    # The seed's recently changed entries (20250601000000Z); touch* may be changed by the next test.
    assert set(CHANGED_UIDS) <= uids
    assert uids - set(CHANGED_UIDS) <= {"touch1", "touch2", "touch3", "touch4"}
    assert pages[0]["filter"] == f"(&{DEFAULT_FILTER}(modifyTimestamp>=20250301000000Z))"


def test_incremental_listing_sees_entries_modified_over_ldap(slapd_server, allow_private_addresses):
    admin = Connection(Server(slapd_server.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
    for uid in ("touch1", "touch2"):
        assert admin.modify(f"uid={uid},{PEOPLE_DN}", {"title": [(MODIFY_REPLACE, ["Changed"])]})
    # "since" is the server's own stamp of the first change (its clock, not ours).
    admin.search(f"uid=touch1,{PEOPLE_DN}", "(objectClass=*)", attributes=["modifyTimestamp"])
    stamp = admin.response[0]["raw_attributes"]["modifyTimestamp"][0].decode()
    admin.unbind()
    since = dt.datetime.strptime(stamp, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    connector = _connector(slapd_server.settings())

    changed = _records(connector, connector.iter_changes(since))

    assert {_uid(r) for r in changed} == {"touch1", "touch2"}
    assert {r.fields["Title"] for r in changed} == {"Changed"}


def test_active_directory_uses_when_changed(slapd_server, allow_private_addresses, pages):
    connector = _connector(slapd_server.settings(directory_type="ad"))

    list(connector.iter_changes(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))))

    assert pages[0]["filter"] == f"(&{DEFAULT_FILTER}(whenChanged>=20260102020405Z))"


def test_generalized_time_is_utc():
    assert generalized_time(dt.datetime(2025, 12, 31, 23, 59, 58)) == "20251231235958Z"
    assert generalized_time(dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "20251231230000Z"
    )


def test_an_entry_that_is_not_utf8_is_skipped():
    entry = {
        "type": "searchResEntry",
        "dn": "cn=broken,dc=example,dc=org",
        "raw_attributes": {"cn": [b"\xff\xfe"], "telephoneNumber": [b"+31 20 555 0000"]},
    }

    skipped = entry_record(entry)

    assert isinstance(skipped, SkippedRecord)
    assert skipped.id == "cn=broken,dc=example,dc=org"
    assert "cannot be read" in skipped.reason


def test_active_directory_attributes_and_object_guid():
    guid = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    entry = {
        "dn": "CN=Jane Smith,OU=Sales,DC=example,DC=com",
        "raw_attributes": {
            "objectGUID": [guid.bytes_le],
            "displayName": [b"Jane Smith"],
            "ipPhone": [b"4711"],
            "otherTelephone": [b"+31 20 123 4000", b"+31 20 123 4001"],
            "company": [b"Contoso"],
            "department": [b"Sales"],
        },
    }

    record = entry_record(entry)

    assert isinstance(record, CrmRecord)
    assert record.id == "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"
    assert record.phones == (
        RecordPhone("4711", "ip"),
        RecordPhone("+31 20 123 4000", "work"),
        RecordPhone("+31 20 123 4001", "work"),
    )
    assert (record.fields["Company"], record.fields["Department"]) == ("Contoso", "Sales")
    assert entry_record({"dn": "cn=x", "raw_attributes": {"cn": [b"x"]}}) is None


@pytest.mark.django_db
def test_a_sync_fills_the_phone_cache_and_a_call_matches_in_another_notation(
    tenant: Tenant, slapd_server: SlapdServer, allow_private_addresses
):
    integration = integration_create(
        tenant=tenant,
        preset_slug="ldap",
        name="Company directory",
        settings_values=slapd_server.settings(),
        start_sync=False,
    )
    waits: list[float] = []

    result = phone_cache_sync(integration_id=integration.pk, sleep=waits.append)

    assert result.status == "ok", result.error
    assert result.records == people_with_numbers()
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "+31612345678"})
    )
    assert [m["notification"]["title"] for m in answer["matches"]] == ["Jan Jansen (Sales)"]
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0205550003"})
    )
    assert [m["notification"]["title"] for m in answer["matches"]] == ["Display 3"]
    assert waits == []


@pytest.mark.django_db
def test_a_sync_with_a_wrong_password_keeps_the_old_cache_and_says_why(
    tenant: Tenant, slapd_server: SlapdServer, allow_private_addresses
):
    integration = integration_create(
        tenant=tenant,
        preset_slug="ldap",
        name="Company directory",
        settings_values=slapd_server.settings(bind_password="wrong"),
        start_sync=False,
    )

    result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert result.status == "failed"
    assert re.search(r"refused the credentials", result.error)


# --- TLS: LDAPS and StartTLS against a slapd with a certificate from a throwaway CA ------------


@pytest.fixture
def tls_name(monkeypatch: pytest.MonkeyPatch, allow_private_addresses: None) -> list[str]:
    """Resolve `TLS_HOST` (the certificate's name) to 127.0.0.1 for the guard; records lookups."""
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr("integrations.outbound.system_resolver", resolver)
    return asked


def _tls_settings(server: SlapdServer, *, ldaps: bool = True, **overrides: str) -> dict[str, str]:
    url = f"ldaps://{TLS_HOST}:{server.tls_port}" if ldaps else f"ldap://{TLS_HOST}:{server.port}"
    values = {"server_url": url, "ca_certificate": server.ca_pem}
    values.update(overrides)
    return server.settings(**values)


def test_ldaps_verifies_the_certificate_against_the_host_name(slapd_tls_server, tls_name):
    records = _records(_connector(_tls_settings(slapd_tls_server, page_size="500")))

    assert len(records) == people_with_numbers()
    assert tls_name == [TLS_HOST]


def test_starttls_verifies_the_certificate_and_lists_the_directory(slapd_tls_server, tls_name):
    connector = _connector(_tls_settings(slapd_tls_server, ldaps=False, start_tls="yes"))

    connector.test_connection()
    assert len(_records(connector)) == people_with_numbers()


def test_a_certificate_from_an_unknown_ca_is_a_permanent_tls_error(slapd_tls_server, tls_name):
    for settings in (
        _tls_settings(slapd_tls_server, ca_certificate=""),  # the system CAs do not know it
        _tls_settings(slapd_tls_server, ldaps=False, start_tls="yes", ca_certificate=""),
    ):
        error = _error(lambda settings=settings: _connector(settings).test_connection())

        assert error.permanent
        assert "TLS certificate could not be verified" in error.message


def test_a_certificate_for_another_name_is_refused(slapd_tls_server, tls_name, monkeypatch):
    settings = _tls_settings(slapd_tls_server)
    settings["server_url"] = f"ldaps://other.test:{slapd_tls_server.tls_port}"

    error = _error(lambda: _connector(settings).test_connection())

    assert error.permanent
    assert "TLS certificate could not be verified" in error.message


def test_verification_can_be_turned_off(slapd_tls_server, tls_name):
    settings = _tls_settings(slapd_tls_server, ca_certificate="", verify_tls="no")

    _connector(settings).test_connection()


def test_a_ca_certificate_that_is_not_pem_is_a_permanent_error(slapd_tls_server, tls_name):
    settings = _tls_settings(slapd_tls_server, ca_certificate="not a certificate")

    error = _error(lambda: _connector(settings).test_connection())

    assert error.permanent
    assert error.message.startswith("The CA certificate cannot be read")


# --- Servers that misbehave -------------------------------------------------------------------


@contextlib.contextmanager
def _fake_server(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 port 0 running `behaviour(connection)` for each client; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                behaviour(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_server_that_never_answers_is_a_temporary_timeout(allow_private_addresses, settings):
    settings.CONNECTOR_HTTP_TIMEOUT = 1
    released = threading.Event()

    def silent(connection: socket.socket) -> None:
        released.wait(timeout=10)

    with _fake_server(silent) as port:
        try:
            error = _error(
                lambda: _connector({"server_url": f"ldap://127.0.0.1:{port}", **_BIND}).test_connection()
            )
        finally:
            released.set()

    assert not error.permanent
    assert error.message == "The LDAP server did not answer in time."


def test_a_server_answering_garbage_is_a_temporary_error(allow_private_addresses):
    def garbage(connection: socket.socket) -> None:
        connection.recv(1024)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not LDAP\x00\xff")

    with _fake_server(garbage) as port:
        error = _error(
            lambda: _connector({"server_url": f"ldap://127.0.0.1:{port}", **_BIND}).test_connection()
        )

    assert not error.permanent
    assert error.message.startswith("The LDAP server")


def test_a_server_that_goes_down_during_the_listing_fails_it_as_temporary(tmp_path, allow_private_addresses):
    with SlapdServer(folder=tmp_path) as server:
        records = _connector(server.settings(page_size="100")).iter_records()
        assert isinstance(next(records), CrmRecord)
        server.stop()

        error = _error(lambda: list(records))

    assert not error.permanent
    assert error.message.startswith("The LDAP server")


def test_a_bind_dn_without_a_password_is_refused_before_an_unauthenticated_bind(
    slapd_server, allow_private_addresses
):
    # RFC 4513 §5.1.2: a DN with an empty password would be an anonymous bind that succeeds.
    error = _error(lambda: _connector(slapd_server.settings(bind_password="")).test_connection())

    assert error.permanent
    assert error.message.startswith("The bind password is empty")


def test_an_anonymous_bind_lists_what_anonymous_users_may_read(slapd_server, allow_private_addresses):
    settings = slapd_server.settings(bind_dn="", bind_password="")

    error = _error(lambda: list(_connector(settings).iter_records()))

    # slapd lets anonymous users read, but only 500 entries: the listing fails instead of shrinking.
    assert "size limit" in error.message


@pytest.mark.django_db
def test_a_live_lookup_finds_the_caller_in_the_directory_without_a_sync(
    tenant: Tenant, slapd_server: SlapdServer, allow_private_addresses
):
    integration = integration_create(
        tenant=tenant,
        preset_slug="ldap",
        name="Company directory",
        settings_values=slapd_server.settings(),
        start_sync=False,
    )
    integration_set_lookup_mode(tenant=tenant, integration=integration, mode="live")

    known = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "+31612345678"})
    )
    unknown = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "+31699999999"})
    )

    assert [(m["notification"]["title"], m["source"]) for m in known["matches"]] == [
        ("Jan Jansen (Sales)", "live")
    ]
    assert [lookup["status"] for lookup in known["lookups"]] == ["ok"]
    assert unknown["matches"] == []
    assert [lookup["status"] for lookup in unknown["lookups"]] == ["ok"]
    assert not PhoneCacheEntry.objects.filter(integration=integration).exists()  # nothing was synced
