"""Incremental sync: changes and deletions since the last sync, applied to the live cache per batch.

The LDAP preset declares incremental support; its network listing is replaced by an in-memory
directory (`Directory`) so that these tests control what changed when.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.ldap import LdapConnector
from integrations.connectors.rest_json import RestJsonConnector
from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry, SyncMode, SyncRun, SyncRunStatus, SyncState
from integrations.services import integration_hold_accept, integrations_dispatch_due_syncs
from integrations.sync import phone_cache_sync
from integrations.tasks import sync_integration
from tenants.models import Tenant
from tests.slapd_server import CHANGED_UIDS, TOUCH_UIDS

START = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)

Change = CrmRecord | SkippedRecord | DeletedRecord


def person(record_id: str, name: str, *numbers: str) -> CrmRecord:
    return CrmRecord(
        id=record_id,
        type="contact",
        display_name=name,
        phones=tuple(RecordPhone(number=n, type="work") for n in numbers),
        fields={"DisplayName": name},
    )


class Directory:
    """What the fake LDAP server holds (`records`) and reports as changed (`changes`).

    `fail_after`: raise a temporary `ConnectorError` after yielding that many changes;
    `during`: called after each yielded change (the sync has applied what it had to by then).
    """

    def __init__(self, *records: CrmRecord) -> None:
        self.records = {r.id: r for r in records}
        self.changes: list[Change] = []
        self.since_asked: list[dt.datetime] = []
        self.fail_after: int | None = None
        self.during: list[Callable[[], None]] = []

    def iter_records(self) -> Iterator[CrmRecord]:
        yield from self.records.values()

    def iter_changes(self, since: dt.datetime) -> Iterator[Change]:
        self.since_asked.append(since)
        for count, change in enumerate(self.changes):
            if self.fail_after is not None and count >= self.fail_after:
                raise ConnectorError("The LDAP server is unreachable: check the address.")
            yield change
            for check in self.during:
                check()  # the sync has applied every batch it had by now


@pytest.fixture
def directory(monkeypatch: pytest.MonkeyPatch) -> Directory:
    store = Directory(
        person("a", "Anna Alders", "+31 20 111 0001"),
        person("b", "Bram Bos", "+31 20 111 0002", "+31 6 1111 0002"),
        person("c", "Cees Claes", "+31 20 111 0003"),
    )
    monkeypatch.setattr(LdapConnector, "iter_records", lambda self: store.iter_records())
    monkeypatch.setattr(LdapConnector, "iter_changes", lambda self, since: store.iter_changes(since))
    return store


def _ldap(tenant: Tenant, name: str = "Directory") -> Integration:
    return Integration.objects.create(
        tenant=tenant,
        preset="ldap",
        name=name,
        settings={"server_url": "ldap://127.0.0.1:389", "base_dn": "dc=example,dc=org"},
    )


def _titles(tenant: Tenant, number: str) -> list[str]:
    answer = match_call(tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number}))
    return [m["notification"]["title"] for m in answer["matches"]]


def _full_then_travel(tenant: Tenant, traveller: time_machine.Traveller) -> Integration:
    integration = _ldap(tenant)
    assert phone_cache_sync(integration_id=integration.pk).status == "ok"
    traveller.shift(dt.timedelta(hours=1, minutes=5))
    integration.refresh_from_db()
    return integration


@pytest.mark.django_db
def test_changes_and_deletions_are_applied_to_the_live_cache(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        generation = integration.cache_generation
        assert integration.last_full_sync_at == START
        directory.changes = [
            person("a", "Anna Alders-Berg", "+31 20 111 0009"),
            DeletedRecord("b"),
            person("d", "Dirk Dekker", "+31 20 111 0004"),
            SkippedRecord(reason="not UTF-8", id="e"),
        ]

        result = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert (result.status, result.records, result.numbers, result.skipped) == ("ok", 3, 2, 1)
    assert directory.since_asked == [START]
    assert _titles(tenant, "0201110001") == []
    assert _titles(tenant, "0201110009") == ["Anna Alders-Berg"]
    assert _titles(tenant, "0201110002") == []
    assert _titles(tenant, "0611110002") == []
    assert _titles(tenant, "0201110003") == ["Cees Claes"]
    assert _titles(tenant, "0201110004") == ["Dirk Dekker"]
    integration.refresh_from_db()
    assert integration.cache_generation == generation  # the live generation, not a new one
    assert integration.cached_numbers == 3 == PhoneCacheEntry.objects.filter(integration=integration).count()
    assert integration.last_incremental_sync_at == START + dt.timedelta(hours=1, minutes=5)
    assert integration.last_full_sync_at == START
    assert integration.sync_state == SyncState.IDLE
    run = SyncRun.objects.filter(integration=integration).first()
    assert run is not None
    assert (run.mode, run.status, run.trigger, run.records) == ("incremental", "ok", "hourly", 3)


@pytest.mark.django_db
def test_the_next_incremental_asks_from_the_start_of_the_last_successful_one(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        incremental_start = START + dt.timedelta(hours=1, minutes=5)
        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"
        traveller.shift(dt.timedelta(hours=1))
        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"

    assert directory.since_asked == [START, incremental_start]


@pytest.mark.django_db
def test_lookups_during_an_incremental_sync_see_each_record_old_or_new_never_missing(
    tenant, directory, monkeypatch
):
    monkeypatch.setattr("integrations.sync.INCREMENTAL_BATCH_RECORDS", 1)
    seen: list[list[str]] = []
    directory.during.append(lambda: seen.append(_titles(tenant, "0201110001")))
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        directory.changes = [
            person("a", "Anna v2", "+31 20 111 0001"),
            person("c", "Cees v2", "+31 20 111 0003"),
            person("a", "Anna v3", "+31 20 111 0001", "+31 6 1111 0001"),
        ]
        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"

    # After each applied batch the record is there exactly once, in its old or new version.
    assert seen == [["Anna v2"], ["Anna v2"], ["Anna v3"]]
    assert _titles(tenant, "0611110001") == ["Anna v3"]
    assert PhoneCacheEntry.objects.filter(integration=integration, record_id="a").count() == 2


@pytest.mark.django_db
def test_a_failing_incremental_keeps_applied_batches_and_the_next_run_starts_from_the_same_time(
    tenant, directory, monkeypatch
):
    monkeypatch.setattr("integrations.sync.INCREMENTAL_BATCH_RECORDS", 1)
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        nightly = integration.next_sync_at
        directory.changes = [person("a", "Anna v2", "+31 20 111 0001"), DeletedRecord("c")]
        directory.fail_after = 1

        failed = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

        assert failed.status == "failed"
        assert "unreachable" in failed.error
        assert _titles(tenant, "0201110001") == ["Anna v2"]  # the applied batch stays
        assert _titles(tenant, "0201110003") == ["Cees Claes"]  # the rest was not reached
        integration.refresh_from_db()
        assert integration.last_incremental_sync_at is None
        assert integration.next_sync_at == nightly  # the nightly full sync is not moved
        assert "unreachable" in integration.last_error
        run = SyncRun.objects.filter(integration=integration).first()
        assert run is not None
        assert (run.mode, run.status) == ("incremental", SyncRunStatus.FAILED)

        traveller.shift(dt.timedelta(hours=1))
        directory.fail_after = None
        again = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert again.status == "ok"
    assert directory.since_asked == [START, START]
    assert _titles(tenant, "0201110001") == ["Anna v2"]  # applied twice, still once
    assert _titles(tenant, "0201110003") == []
    integration.refresh_from_db()
    assert integration.last_error == ""
    assert integration.cached_numbers == PhoneCacheEntry.objects.filter(integration=integration).count() == 3


@pytest.mark.django_db
def test_deletions_past_the_shrink_guard_fail_the_run_and_are_left_to_the_nightly_sync(
    tenant, directory, settings
):
    settings.SYNC_HOLD_MIN_DROP = 1
    settings.SYNC_HOLD_MAX_DROP_RATIO = 0.5
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        directory.changes = [DeletedRecord("a"), DeletedRecord("b")]  # 3 of 4 numbers

        result = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert result.status == "failed"
    assert "nightly full sync" in result.error
    assert _titles(tenant, "0201110001") == ["Anna Alders"]
    assert _titles(tenant, "0201110002") == ["Bram Bos"]
    integration.refresh_from_db()
    assert integration.cached_numbers == 4


@pytest.mark.django_db
def test_the_nightly_full_sync_still_replaces_everything(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        directory.changes = [person("z", "Only In Changes", "+31 20 111 0099")]
        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"
        assert _titles(tenant, "0201110099") == ["Only In Changes"]
        traveller.shift(dt.timedelta(hours=10))
        full_start = START + dt.timedelta(hours=11, minutes=5)

        assert phone_cache_sync(integration_id=integration.pk).status == "ok"

    assert _titles(tenant, "0201110099") == []  # the directory never listed it: gone
    integration.refresh_from_db()
    assert integration.cached_numbers == 4
    assert integration.last_full_sync_at == full_start
    modes = list(SyncRun.objects.filter(integration=integration).values_list("mode", flat=True))
    assert modes == ["full", "incremental", "full"]


@pytest.mark.django_db
def test_a_connector_without_a_change_listing_fails_an_incremental_sync(tenant):
    integration = Integration.objects.create(
        tenant=tenant, preset="carddav", name="Book", settings={"url": "https://dav.example.com/"}
    )

    result = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert result.status == "failed"
    assert "only full syncs run" in result.error


@pytest.mark.django_db
def test_an_incremental_sync_waits_for_the_first_full_sync(tenant, directory):
    integration = _ldap(tenant)

    result = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert result.status == "failed"
    assert "first full one" in result.error
    assert directory.since_asked == []


@pytest.mark.django_db
def test_the_task_takes_the_mode_and_keeps_its_old_signature(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _ldap(tenant)
        assert sync_integration(integration.pk) == "ok"
        traveller.shift(dt.timedelta(hours=2))
        assert sync_integration(integration.pk, "incremental") == "ok"

    modes = list(SyncRun.objects.filter(integration=integration).values_list("mode", flat=True))
    assert modes == ["incremental", "full"]


@pytest.mark.django_db
def test_the_dispatcher_queues_hourly_incremental_syncs_for_supporting_connectors_only(
    tenant, other_tenant, directory, settings, monkeypatch
):
    settings.SYNC_INCREMENTAL_INTERVAL_MINUTES = 60
    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: queued.append(args))
    with time_machine.travel(START, tick=False) as traveller:
        ldap = _ldap(tenant)
        assert phone_cache_sync(integration_id=ldap.pk).status == "ok"
        ldap.refresh_from_db()
        nightly = ldap.next_sync_at
        assert nightly is not None
        assert nightly > START + dt.timedelta(hours=3)
        book = Integration.objects.create(
            tenant=other_tenant,
            preset="carddav",
            name="Book",
            last_full_sync_at=START,
            last_sync_at=START,
            next_sync_at=nightly,
        )
        off = _ldap(tenant, name="Off")
        Integration.objects.filter(pk=off.pk).update(
            enabled=False, last_full_sync_at=START, last_sync_at=START, next_sync_at=nightly
        )
        never = _ldap(tenant, name="Never synced")
        Integration.objects.filter(pk=never.pk).update(next_sync_at=nightly)

        traveller.shift(dt.timedelta(minutes=30))
        assert integrations_dispatch_due_syncs() == 0

        traveller.shift(dt.timedelta(minutes=31))
        assert integrations_dispatch_due_syncs() == 1
        assert queued == [(ldap.pk, "incremental")]
        ldap.refresh_from_db()
        assert (ldap.sync_state, ldap.sync_trigger, ldap.next_sync_at) == ("queued", "hourly", nightly)
        assert integrations_dispatch_due_syncs() == 0  # not queued twice

        assert sync_integration(ldap.pk, "incremental") == "ok"
        traveller.shift(dt.timedelta(minutes=59))
        assert integrations_dispatch_due_syncs() == 0  # an hour after the incremental's start
        traveller.shift(dt.timedelta(minutes=2))
        assert integrations_dispatch_due_syncs() == 1

    book.refresh_from_db()
    assert book.sync_state == SyncState.IDLE
    assert [args[0] for args in queued] == [ldap.pk, ldap.pk]


@pytest.mark.django_db
def test_the_dispatcher_queues_the_nightly_full_sync_never_an_incremental_instead(
    tenant, directory, settings, monkeypatch
):
    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: queued.append(args))
    with time_machine.travel(START, tick=False) as traveller:
        ldap = _ldap(tenant)
        assert phone_cache_sync(integration_id=ldap.pk).status == "ok"
        ldap.refresh_from_db()
        assert ldap.next_sync_at is not None
        traveller.move_to(ldap.next_sync_at + dt.timedelta(minutes=1))

        assert integrations_dispatch_due_syncs() == 1

    assert queued == [(ldap.pk,)]  # the full sync's task call, no mode


@pytest.mark.django_db
def test_incremental_syncs_are_off_when_the_interval_is_zero(tenant, directory, settings, monkeypatch):
    settings.SYNC_INCREMENTAL_INTERVAL_MINUTES = 0
    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: queued.append(args))
    with time_machine.travel(START, tick=False) as traveller:
        ldap = _ldap(tenant)
        assert phone_cache_sync(integration_id=ldap.pk).status == "ok"
        traveller.shift(dt.timedelta(hours=3))
        assert integrations_dispatch_due_syncs() == 0
    assert queued == []


@pytest.mark.django_db
def test_the_overview_shows_last_full_and_incremental_sync_and_the_mode_in_the_history(
    tenant, directory, admin_client
):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"

        page = admin_client.get(reverse("integration-overview", args=[integration.pk])).text

    assert "Last full sync" in page
    assert "2026-03-10 10:00" in page  # 09:00 UTC, Europe/Amsterdam
    assert "Last incremental sync" in page
    assert "2026-03-10 11:05" in page
    history = page[page.index("Sync history") :]
    assert '<th scope="col">Mode</th>' in history
    assert history.index("Incremental") < history.index("Full")


# --- The REST source's modified-since listing ----------------------------------------------------

REST_SETTINGS = {
    "base_url": "http://127.0.0.1:9/api",
    "list_path": "/contacts",
    "records_path": "data",
    "phone_paths": "phone",
    "modified_since_param": "updated_since",
    "deleted_list_path": "/contacts/deleted",
}


class RestApi:
    """A MockTransport CRM: /contacts lists `contacts` (all, or those with updated >= the
    `updated_since` parameter, ISO 8601 or Unix seconds), /contacts/deleted the `deleted` ids."""

    def __init__(self) -> None:
        self.contacts: list[dict[str, Any]] = [
            {"id": 1, "name": "Anna", "phone": "+31 20 222 0001", "updated": START.timestamp()},
            {"id": 2, "name": "Bram", "phone": "+31 20 222 0002", "updated": START.timestamp()},
        ]
        self.deleted: list[dict[str, Any]] = []
        self.asked: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        since_text = request.url.params.get("updated_since")
        self.asked.append(f"{request.url.path}?{since_text or ''}")
        if request.url.path.endswith("/deleted"):
            return httpx.Response(200, json={"data": self.deleted})
        if since_text is None:
            return httpx.Response(200, json={"data": self.contacts})
        since = (
            float(since_text)
            if since_text.isdigit()
            else dt.datetime.fromisoformat(since_text.replace("Z", "+00:00")).timestamp()
        )
        return httpx.Response(200, json={"data": [c for c in self.contacts if float(c["updated"]) >= since]})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@pytest.mark.django_db
def test_the_rest_source_syncs_changes_and_deletions_with_its_modified_since_parameter(tenant):
    api = RestApi()
    integration = Integration.objects.create(
        tenant=tenant, preset="rest_json", name="CRM", settings=REST_SETTINGS
    )
    with time_machine.travel(START, tick=False) as traveller:
        assert phone_cache_sync(integration_id=integration.pk, client_factory=api.client).status == "ok"
        traveller.shift(dt.timedelta(hours=1))
        later = (START + dt.timedelta(minutes=30)).timestamp()
        api.contacts[0] = {"id": 1, "name": "Anna New", "phone": "+31 20 222 0009", "updated": later}
        api.contacts.append({"id": 3, "name": "Cees", "phone": "+31 20 222 0003", "updated": later})
        api.deleted = [{"id": 2}, {"no_id": True}]

        result = phone_cache_sync(
            integration_id=integration.pk, client_factory=api.client, mode=SyncMode.INCREMENTAL
        )

    assert (result.status, result.records, result.skipped) == ("ok", 3, 1)
    assert api.asked[-2:] == [
        "/contacts?2026-03-10T09:00:00Z",
        "/contacts/deleted?2026-03-10T09:00:00Z",
    ]
    assert _titles(tenant, "0202220001") == []
    assert _titles(tenant, "0202220009") == ["Anna New"]
    assert _titles(tenant, "0202220002") == []
    assert _titles(tenant, "0202220003") == ["Cees"]


def test_the_rest_source_sends_unix_seconds_when_asked():
    api = RestApi()
    settings = {**REST_SETTINGS, "modified_since_format": "unix", "deleted_list_path": ""}
    with api.client() as client:
        connector = RestJsonConnector(settings=settings, client=client)
        records = list(connector.iter_changes(START))

    assert api.asked == [f"/contacts?{int(START.timestamp())}"]
    assert [r.id for r in records if isinstance(r, CrmRecord)] == ["1", "2"]


def test_the_rest_source_declares_incremental_support_only_with_the_parameter():
    assert RestJsonConnector.incremental_supported(REST_SETTINGS)
    assert not RestJsonConnector.incremental_supported({**REST_SETTINGS, "modified_since_param": ""})
    problems = RestJsonConnector.settings_problems(
        {**REST_SETTINGS, "modified_since_param": "", "modified_since_format": "julian"}
    )
    assert set(problems) == {"modified_since_format", "deleted_list_path"}


@pytest.mark.django_db
def test_the_dispatcher_queues_a_rest_source_only_when_it_has_a_modified_since_parameter(
    tenant, settings, monkeypatch
):
    settings.SYNC_INCREMENTAL_INTERVAL_MINUTES = 60
    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: queued.append(args))
    synced = {
        "last_full_sync_at": START,
        "last_sync_at": START,
        "next_sync_at": START + dt.timedelta(hours=20),
    }
    with_param = Integration.objects.create(
        tenant=tenant, preset="rest_json", name="With", settings=REST_SETTINGS, **synced
    )
    Integration.objects.create(
        tenant=tenant,
        preset="rest_json",
        name="Without",
        settings={**REST_SETTINGS, "modified_since_param": "", "deleted_list_path": ""},
        **synced,
    )
    with time_machine.travel(START + dt.timedelta(hours=2), tick=False):
        assert integrations_dispatch_due_syncs() == 1

    assert queued == [(with_param.pk, "incremental")]


@pytest.mark.django_db
def test_accepting_a_held_full_sync_moves_the_since_time_to_its_start(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        directory.records.clear()
        assert phone_cache_sync(integration_id=integration.pk).status == "held"
        traveller.shift(dt.timedelta(minutes=10))
        assert integration_hold_accept(tenant=tenant, integration=integration)

    integration.refresh_from_db()
    assert integration.last_full_sync_at == START + dt.timedelta(hours=1, minutes=5)
    assert integration.cached_numbers == 0


@pytest.mark.django_db
def test_the_command_runs_an_incremental_sync_when_asked(tenant, directory):
    with time_machine.travel(START, tick=False) as traveller:
        integration = _full_then_travel(tenant, traveller)
        directory.changes = [person("d", "Dirk Dekker", "+31 20 111 0004")]
        out = io.StringIO()
        call_command("integration_sync", str(integration.pk), "--incremental", stdout=out)

    assert "from 1 records" in out.getvalue()
    assert _titles(tenant, "0201110004") == ["Dirk Dekker"]
    run = SyncRun.objects.filter(integration=integration).first()
    assert run is not None
    assert (run.mode, run.trigger) == ("incremental", "cli")


@pytest.mark.django_db
def test_an_incremental_sync_against_a_real_slapd_applies_the_changed_entries(
    tenant, slapd_server, allow_private_addresses
):
    integration = Integration.objects.create(
        tenant=tenant,
        preset="ldap",
        name="Directory",
        settings=slapd_server.settings(),
        last_full_sync_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )

    result = phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL)

    assert result.status == "ok"
    uids = {
        dn.split(",", 1)[0].removeprefix("uid=")
        for dn in PhoneCacheEntry.objects.filter(integration=integration).values_list("fields__DN", flat=True)
    }
    # The seed's recently changed entries; touch* may have been changed by the LDAP tests.
    assert set(CHANGED_UIDS) <= uids
    assert uids - set(CHANGED_UIDS) <= set(TOUCH_UIDS)
    integration.refresh_from_db()
    assert integration.cached_numbers == PhoneCacheEntry.objects.filter(integration=integration).count() > 0
