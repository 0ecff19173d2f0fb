"""The phone-cache sync: all-or-nothing, one at a time, bad records skipped and counted."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import time_machine
from django.utils import timezone

from configurator.models import Tenant
from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry, SyncState
from integrations.scheduling import next_nightly_sync
from integrations.services import integration_create, integrations_dispatch_due_syncs
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard


def _cards(count: int) -> dict[str, str]:
    cards = {f"c{i}.vcf": vcard(f"uid-{i}", f"Person {i}", f"work:020 555 {i:04d}") for i in range(count)}
    cards["jan.vcf"] = vcard(
        "jan", "Jan Jansen", "work:+31 (0)20 123 4567", "cell:06-12345678", org="Acme BV"
    )
    return cards


def _integration(tenant: Tenant, double: CardDavDouble) -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )


def _sync(integration: Integration, double: CardDavDouble):
    return phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )


def _match(tenant: Tenant, number: str) -> list[str]:
    answer = match_call(tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number}))
    return [m["notification"]["title"] for m in answer["matches"]]


@pytest.mark.django_db
def test_it_caches_every_number_in_e164_with_the_record_fields(tenant):
    double = CardDavDouble(_cards(3))
    integration = _integration(tenant, double)

    result = _sync(integration, double)

    assert (result.status, result.records, result.numbers, result.skipped) == ("ok", 4, 5, 0)
    integration.refresh_from_db()
    assert integration.cached_numbers == 5
    assert integration.last_sync_at is not None
    assert integration.sync_state == SyncState.IDLE
    assert integration.next_sync_at is not None
    assert integration.next_sync_at > timezone.now()
    entry = PhoneCacheEntry.objects.get(e164="+31201234567")
    assert entry.display_name == "Jan Jansen"
    assert entry.fields["Company"] == "Acme BV"
    assert entry.number_as_written == "+31 (0)20 123 4567"
    assert entry.number_type == "work"


@pytest.mark.django_db
def test_it_skips_and_counts_bad_records_without_failing(tenant):
    cards = _cards(2)
    cards["bad-number.vcf"] = vcard("bad1", "Broken Number", "call me maybe")
    cards["short.vcf"] = vcard("bad2", "Too Short", "+31 12")
    cards["unparseable.vcf"] = "BEGIN:VCARD\r\nthis is not a card\r\n"
    double = CardDavDouble(cards)
    integration = _integration(tenant, double)

    result = _sync(integration, double)

    assert result.status == "ok"
    assert result.skipped == 3
    integration.refresh_from_db()
    assert integration.last_sync_skipped == 3
    assert integration.cached_numbers == 4
    assert _match(tenant, "0201234567") == ["Jan Jansen"]


@pytest.mark.django_db
def test_a_sync_that_fails_halfway_keeps_the_old_cache_and_records_the_error(tenant, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    double = CardDavDouble(_cards(5))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    old_generation = Integration.objects.get(pk=integration.pk).cache_generation

    double.cards["jan.vcf"] = vcard("jan", "Jan Renamed", "work:020 123 4567")
    double.reports, double.fail_on_report = 0, 2
    result = _sync(integration, double)

    assert result.status == "failed"
    assert "server error (HTTP 500)" in result.error
    integration.refresh_from_db()
    assert integration.cache_generation == old_generation
    assert integration.cached_numbers == 7
    assert integration.last_error == result.error
    assert integration.sync_state == SyncState.IDLE
    assert integration.next_sync_at is not None
    retry_in = integration.next_sync_at - timezone.now()
    assert dt.timedelta(minutes=25) < retry_in <= dt.timedelta(minutes=30)
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 7  # nothing half-written left
    assert _match(tenant, "0201234567") == ["Jan Jansen"]


@pytest.mark.django_db
def test_a_crm_answering_garbage_fails_the_sync_and_keeps_the_old_cache(tenant):
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"

    double.reports, double.garbage_on_report = 0, 1
    result = _sync(integration, double)

    assert result.status == "failed"
    assert "XML" in result.error or "WebDAV" in result.error
    assert _match(tenant, "+31 20 123 4567") == ["Jan Jansen"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 11, 22, 14, 0, tzinfo=dt.UTC),
        # 00:30 in Amsterdam: the night window (01:00 local) is less than an hour away.
        dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC),
        # The night the clocks go forward in Amsterdam (02:00 CET -> 03:00 CEST).
        dt.datetime(2027, 3, 28, 0, 59, tzinfo=dt.UTC),
    ],
)
def test_bad_credentials_are_recorded_and_retried_the_next_night_not_in_minutes(tenant, settings, now):
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    double.password = "changed-on-the-server"

    with time_machine.travel(now, tick=False):
        result = _sync(integration, double)

    assert result.status == "failed"
    assert "credentials" in result.error
    integration.refresh_from_db()
    tonight = next_nightly_sync(integration_id=integration.pk, time_zone=tenant.time_zone, after=now)
    assert integration.next_sync_at == tonight != now + dt.timedelta(minutes=settings.SYNC_RETRY_MINUTES)
    local = tonight.astimezone(tenant.zone)
    start = settings.SYNC_NIGHT_START_HOUR
    assert start <= local.hour < start + settings.SYNC_NIGHT_WINDOW_HOURS
    assert now < tonight <= now + dt.timedelta(days=1)


@pytest.mark.django_db
def test_lookups_see_the_old_cache_until_the_new_one_is_complete(tenant, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    monkeypatch.setattr("integrations.sync.BATCH_SIZE", 1)  # write rows as they come
    double = CardDavDouble(_cards(5))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    double.cards["jan.vcf"] = vcard("jan", "Jan Renamed", "work:020 123 4567")
    seen_mid_sync: list[tuple[list[str], int]] = []
    double.reports = 0

    def look(report: int) -> None:
        if report == 3:
            rows = PhoneCacheEntry.objects.filter(integration=integration).count()
            seen_mid_sync.append((_match(tenant, "0201234567"), rows))

    double.before_report = look

    assert _sync(integration, double).status == "ok"

    [(titles, rows_mid_sync)] = seen_mid_sync
    assert titles == ["Jan Jansen"]
    assert rows_mid_sync > 7  # the new generation was being written next to the old one
    assert _match(tenant, "0201234567") == ["Jan Renamed"]
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 6


@pytest.mark.django_db
def test_it_never_runs_two_syncs_of_one_integration_at_once(tenant):
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    Integration.objects.filter(pk=integration.pk).update(
        sync_state=SyncState.RUNNING, sync_started_at=timezone.now()
    )

    assert _sync(integration, double).status == "busy"
    assert double.reports == 0


@pytest.mark.django_db
def test_a_lock_left_by_a_crashed_sync_expires(tenant, settings):
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    crashed_at = timezone.now() - dt.timedelta(minutes=settings.SYNC_LOCK_TIMEOUT_MINUTES + 1)
    Integration.objects.filter(pk=integration.pk).update(
        sync_state=SyncState.RUNNING, sync_started_at=crashed_at
    )

    assert _sync(integration, double).status == "ok"


@pytest.mark.django_db
def test_rows_left_by_a_crashed_sync_are_cleaned_up_by_the_next(tenant):
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    integration.refresh_from_db()
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration=integration,
        generation=integration.cache_generation + 1,
        e164="+31209999999",
        number_as_written="x",
        record_id="ghost",
        record_type="contact",
    )
    assert _match(tenant, "+31209999999") == []

    assert _sync(integration, double).status == "ok"

    assert not PhoneCacheEntry.objects.filter(record_id="ghost").exists()


@pytest.mark.django_db
def test_the_dispatcher_queues_due_integrations_only(tenant, monkeypatch):
    double = CardDavDouble(_cards(1))
    due = _integration(tenant, double)
    later = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Later",
        settings_values=double.settings(),
        start_sync=False,
    )
    disabled = integration_create(
        tenant=tenant, preset_slug="carddav", name="Off", settings_values=double.settings(), start_sync=False
    )
    now = timezone.now()
    Integration.objects.filter(pk=due.pk).update(next_sync_at=now - dt.timedelta(minutes=1))
    Integration.objects.filter(pk=later.pk).update(next_sync_at=now + dt.timedelta(hours=3))
    Integration.objects.filter(pk=disabled.pk).update(
        next_sync_at=now - dt.timedelta(minutes=1), enabled=False
    )
    integration_create(tenant=tenant, preset_slug="web_search", name="Search", settings_values={})
    queued: list[int] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", queued.append)

    assert integrations_dispatch_due_syncs(now=now) == 1

    assert queued == [due.pk]
    assert Integration.objects.get(pk=due.pk).sync_state == SyncState.QUEUED
    assert integrations_dispatch_due_syncs(now=now) == 0  # not queued twice


@pytest.mark.django_db
def test_sync_now_on_creation_runs_the_first_sync_through_celery(
    tenant, django_capture_on_commit_callbacks, monkeypatch
):
    double = CardDavDouble(_cards(1))
    monkeypatch.setattr(
        "integrations.sync.connector_client", lambda: httpx.Client(transport=double.transport())
    )
    with django_capture_on_commit_callbacks(execute=True):
        integration = integration_create(
            tenant=tenant, preset_slug="carddav", name="Address book", settings_values=double.settings()
        )

    integration.refresh_from_db()
    assert integration.cached_numbers == 3
    assert _match(tenant, "0612345678") == ["Jan Jansen"]
