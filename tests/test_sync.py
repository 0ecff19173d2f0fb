"""The phone-cache sync: all-or-nothing, one at a time, bad records skipped and counted."""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import httpx
import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry, SyncRun, SyncRunStatus, SyncState, SyncTrigger
from integrations.phone_cache_store import stored_rows
from integrations.scheduling import next_nightly_sync
from integrations.services import (
    integration_create,
    integration_hold_accept,
    integration_hold_reject,
    integrations_dispatch_due_syncs,
)
from integrations.sync import STALE_MESSAGE, phone_cache_sync
from integrations.tasks import sync_integration
from tenants.models import Tenant
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


def _sync(integration: Integration, double: CardDavDouble, *, waits: list[float] | None = None):
    """Sync against the double; waits between retries are recorded in `waits`, never slept."""
    recorded = waits if waits is not None else []
    return phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=double.transport()),
        sleep=recorded.append,
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
    double.reports, double.fail_from_report = 0, 2
    waits: list[float] = []
    result = _sync(integration, double, waits=waits)

    assert result.status == "failed"
    assert "server error (HTTP 500)" in result.error
    assert waits == [1.0, 2.0, 4.0]  # retried three times with exponential back-off first
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
    # Each moment is 17 s past a whole minute: nightly moments fall on whole minutes (the
    # integration's minute depends on its id, which depends on the database and test order), so
    # "now + retry minutes" can never coincide with tonight's slot by chance.
    [
        dt.datetime(2026, 11, 22, 14, 0, 17, tzinfo=dt.UTC),
        # 00:30 in Amsterdam: the night window (01:00 local) is less than an hour away.
        dt.datetime(2026, 11, 22, 23, 30, 17, tzinfo=dt.UTC),
        # The night the clocks go forward in Amsterdam (02:00 CET -> 03:00 CEST).
        dt.datetime(2027, 3, 28, 0, 59, 17, tzinfo=dt.UTC),
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
            rows = stored_rows(integration.pk)
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
def test_two_dispatchers_with_the_same_due_list_queue_each_integration_once(tenant, monkeypatch):
    # Two beats (or two dispatch tasks on two workers) read the due list at the same moment; the
    # second one runs entirely while the first is between its integrations. Before the fix the
    # first one queued the second integration again (it only checked "not running").
    double = CardDavDouble(_cards(1))
    first = _integration(tenant, double)
    second = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Second",
        settings_values=double.settings(),
        start_sync=False,
    )
    now = timezone.now()
    Integration.objects.filter(pk__in=[first.pk, second.pk]).update(
        next_sync_at=now - dt.timedelta(minutes=1)
    )
    queued: list[int] = []

    def delay(integration_id: int) -> None:
        queued.append(integration_id)
        if len(queued) == 1:
            integrations_dispatch_due_syncs(now=now)  # the other dispatcher, in between

    monkeypatch.setattr("integrations.tasks.sync_integration.delay", delay)

    integrations_dispatch_due_syncs(now=now)

    assert sorted(queued) == sorted([first.pk, second.pk])


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


# --- Issue 5, finding 1: fewer records are not the truth ---------------------------------------


def _synced_book(tenant: Tenant, count: int = 248) -> tuple[Integration, CardDavDouble]:
    """An integration whose cache holds count + 2 numbers (250 by default), from one good sync."""
    double = CardDavDouble(_cards(count))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    integration.refresh_from_db()
    assert integration.cached_numbers == count + 2
    return integration, double


def _cache_is_intact(tenant: Tenant, integration: Integration, numbers: int = 250) -> None:
    integration.refresh_from_db()
    assert integration.cached_numbers == numbers
    live = PhoneCacheEntry.objects.filter(integration=integration, generation=integration.cache_generation)
    assert live.count() == numbers
    assert _match(tenant, "0201234567") == ["Jan Jansen"]


@pytest.mark.django_db
def test_an_emptied_address_book_is_held_and_the_old_cache_stays_live(tenant):
    integration, double = _synced_book(tenant)
    generation = integration.cache_generation
    double.cards.clear()

    result = _sync(integration, double)

    assert result.status == "held"
    assert (result.records, result.numbers) == (0, 0)
    assert "returned 0 contacts" in result.error
    assert "the last sync had 250" in result.error
    assert "the old cache is kept" in result.error
    _cache_is_intact(tenant, integration)
    assert integration.cache_generation == generation
    assert integration.held_generation is not None
    assert integration.held_numbers == 0
    assert integration.last_error == result.error
    assert integration.sync_state == SyncState.IDLE


@pytest.mark.django_db
def test_an_address_book_whose_cards_all_became_unreadable_is_held(tenant):
    integration, double = _synced_book(tenant)
    for name in list(double.cards):
        double.cards[name] = "BEGIN:VCARD\r\nthis is not a card\r\n"

    result = _sync(integration, double)

    assert result.status == "held"
    assert result.skipped == 249
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
def test_an_address_book_whose_cards_lost_their_numbers_is_held(tenant):
    integration, double = _synced_book(tenant)
    for name in list(double.cards):
        double.cards[name] = vcard(name, "No phone any more")

    assert _sync(integration, double).status == "held"
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [404, 503])
def test_a_multiget_batch_answering_an_error_per_card_fails_the_sync(tenant, status):
    integration, double = _synced_book(tenant)
    second_batch = list(double.cards)[100:200]
    double.card_status = dict.fromkeys(second_batch, status)

    result = _sync(integration, double)

    assert result.status == "failed"
    assert "did not deliver 100 of 100 cards" in result.error
    assert f"HTTP {status}" in result.error
    _cache_is_intact(tenant, integration)
    assert integration.last_error == result.error


@pytest.mark.django_db
def test_a_card_the_multiget_leaves_out_fails_the_sync(tenant):
    integration, double = _synced_book(tenant)
    double.omit_cards = {"c7.vcf"}

    result = _sync(integration, double)

    assert result.status == "failed"
    assert "c7.vcf (not returned)" in result.error
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
def test_an_empty_207_answer_to_a_multiget_fails_the_sync(tenant):
    integration, double = _synced_book(tenant)
    double.reports, double.empty_on_report = 0, 2

    result = _sync(integration, double)

    assert result.status == "failed"
    assert "empty multistatus" in result.error
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
def test_the_first_sync_of_an_empty_address_book_is_not_held(tenant):
    double = CardDavDouble({})
    integration = _integration(tenant, double)

    result = _sync(integration, double)

    assert (result.status, result.numbers) == ("ok", 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remaining_cards", "status"),
    [
        (149, "ok"),  # 250 -> 151: drops 99, less than half
        (60, "held"),  # 250 -> 62: drops 188, more than half and more than 50
    ],
)
def test_only_a_drop_of_more_than_half_is_held(tenant, remaining_cards, status):
    integration, double = _synced_book(tenant)
    for name in list(double.cards)[remaining_cards:]:
        if name != "jan.vcf":
            del double.cards[name]

    assert _sync(integration, double).status == status


@pytest.mark.django_db
def test_a_small_cache_dropping_by_fewer_than_the_minimum_is_not_held(tenant):
    integration, double = _synced_book(tenant, count=38)  # 40 numbers
    for name in list(double.cards)[:30]:
        del double.cards[name]  # 40 -> 20: half and more, but only 20 numbers

    assert _sync(integration, double).status == "ok"


@pytest.mark.django_db
def test_the_hold_thresholds_are_settings(tenant, settings):
    settings.SYNC_HOLD_MAX_DROP_RATIO = 0.1
    settings.SYNC_HOLD_MIN_DROP = 5
    integration, double = _synced_book(tenant, count=38)
    for name in list(double.cards)[:10]:
        del double.cards[name]  # 40 -> 30

    assert _sync(integration, double).status == "held"


@pytest.mark.django_db
def test_accepting_a_held_sync_makes_it_the_live_cache(tenant):
    integration, double = _synced_book(tenant)
    double.cards = {"new.vcf": vcard("new", "Only One Left", "work:020 777 0000")}
    assert _sync(integration, double).status == "held"

    assert integration_hold_accept(tenant=tenant, integration=integration)

    integration.refresh_from_db()
    assert integration.cached_numbers == 1
    assert integration.held_generation is None
    assert integration.last_error == ""
    assert _match(tenant, "0207770000") == ["Only One Left"]
    assert _match(tenant, "0201234567") == []
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 1
    assert SyncRun.objects.filter(integration=integration, status=SyncRunStatus.ACCEPTED).count() == 1
    assert not integration_hold_accept(tenant=tenant, integration=integration)  # nothing held any more


@pytest.mark.django_db
def test_rejecting_a_held_sync_keeps_the_old_cache_and_drops_the_new_rows(tenant):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    assert integration_hold_reject(tenant=tenant, integration=integration)

    _cache_is_intact(tenant, integration)
    assert integration.held_generation is None
    assert integration.last_error == ""
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 250
    assert SyncRun.objects.filter(integration=integration, status=SyncRunStatus.REJECTED).count() == 1


@pytest.mark.django_db
def test_another_tenants_held_sync_can_be_neither_accepted_nor_rejected(tenant, other_tenant):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    for decide in (integration_hold_accept, integration_hold_reject):
        with pytest.raises(Integration.DoesNotExist):
            decide(tenant=other_tenant, integration=integration)

    integration.refresh_from_db()
    assert integration.held_generation is not None
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
def test_a_later_full_sync_replaces_a_held_result(tenant):
    integration, double = _synced_book(tenant)
    full = dict(double.cards)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    double.cards = full
    assert _sync(integration, double).status == "ok"

    integration.refresh_from_db()
    assert integration.held_generation is None
    assert integration.last_error == ""
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 250
    assert SyncRun.objects.filter(integration=integration, status=SyncRunStatus.HELD).count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_sync_command_on_an_emptied_address_book_is_held_and_exits_non_zero(tenant, monkeypatch):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    monkeypatch.setattr(
        "integrations.sync.connector_client", lambda: httpx.Client(transport=double.transport())
    )

    with pytest.raises(CommandError, match=r"held: The CRM returned 0 contacts .* had 250"):
        call_command("integration_sync", str(integration.pk), stdout=io.StringIO())

    _cache_is_intact(tenant, integration)
    assert SyncRun.objects.filter(integration=integration)[0].trigger == SyncTrigger.CLI


@pytest.mark.django_db
def test_the_overview_shows_a_held_sync_with_accept_and_keep_buttons(tenant, admin_client):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).text

    assert "The CRM returned 0 contacts with 0 phone numbers, the last sync had 250" in page
    assert "Accept the new result" in page
    assert "Keep the old one" in page
    assert reverse("integration-hold-accept", args=[integration.pk]) in page
    assert reverse("integration-hold-reject", args=[integration.pk]) in page


@pytest.mark.django_db
def test_the_accept_button_switches_the_cache(tenant, admin_client):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    response = admin_client.post(reverse("integration-hold-accept", args=[integration.pk]), follow=True)

    assert response.status_code == 200
    assert "accepted" in response.text
    integration.refresh_from_db()
    assert integration.cached_numbers == 0
    assert _match(tenant, "0201234567") == []


@pytest.mark.django_db
def test_the_keep_button_keeps_the_old_cache(tenant, admin_client):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    response = admin_client.post(reverse("integration-hold-reject", args=[integration.pk]), follow=True)

    assert "old phone cache is kept" in response.text
    _cache_is_intact(tenant, integration)
    assert integration.held_generation is None


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["integration-hold-accept", "integration-hold-reject"])
def test_the_hold_buttons_of_another_tenant_are_not_found(tenant, other_admin_client, name):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"

    assert other_admin_client.post(reverse(name, args=[integration.pk])).status_code == 404
    assert other_admin_client.get(reverse(name, args=[integration.pk])).status_code in (404, 405)

    integration.refresh_from_db()
    assert integration.held_generation is not None
    _cache_is_intact(tenant, integration)


# --- Issue 5, finding 2: a crashed sync is retried, a stalled run cannot clobber its successor ---


def _stall(integration: Integration, *, minutes_ago: float, owner: str = "dead-run") -> None:
    beat = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Integration.objects.filter(pk=integration.pk).update(
        sync_state=SyncState.RUNNING, sync_started_at=beat, sync_heartbeat_at=beat, sync_run_token=owner
    )
    SyncRun.objects.create(
        tenant=integration.tenant,
        integration=integration,
        started_at=beat,
        run_token=owner,
        generation=integration.cache_generation + 1,
    )


@pytest.mark.django_db
def test_the_dispatcher_fails_and_requeues_a_sync_whose_worker_died(tenant, settings, monkeypatch):
    integration, _ = _synced_book(tenant)
    _stall(integration, minutes_ago=settings.SYNC_HEARTBEAT_STALE_MINUTES + 1)
    queued: list[int] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", queued.append)

    assert integrations_dispatch_due_syncs() == 1

    assert queued == [integration.pk]
    integration.refresh_from_db()
    assert integration.sync_state == SyncState.QUEUED
    assert integration.sync_trigger == SyncTrigger.RETRY
    assert integration.last_error == STALE_MESSAGE
    dead = SyncRun.objects.get(run_token="dead-run")
    assert (dead.status, dead.error) == (SyncRunStatus.FAILED, STALE_MESSAGE)
    _cache_is_intact(tenant, integration)


@pytest.mark.django_db
def test_the_dispatcher_leaves_a_sync_with_a_fresh_heartbeat_alone(tenant, settings, monkeypatch):
    integration, _ = _synced_book(tenant)
    _stall(integration, minutes_ago=settings.SYNC_HEARTBEAT_STALE_MINUTES - 1)
    Integration.objects.filter(pk=integration.pk).update(
        sync_started_at=timezone.now() - dt.timedelta(hours=5),  # long sync, but alive
        next_sync_at=timezone.now() - dt.timedelta(minutes=1),
    )
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda pk: None)

    assert integrations_dispatch_due_syncs() == 0

    integration.refresh_from_db()
    assert integration.sync_state == SyncState.RUNNING
    assert integration.sync_run_token == "dead-run"


@pytest.mark.django_db
def test_sync_now_restarts_a_sync_whose_worker_died(
    tenant, settings, admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    integration, double = _synced_book(tenant)
    _stall(integration, minutes_ago=settings.SYNC_HEARTBEAT_STALE_MINUTES + 1)
    monkeypatch.setattr(
        "integrations.sync.connector_client", lambda: httpx.Client(transport=double.transport())
    )
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).text
    assert "stopped without finishing" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("integration-sync", args=[integration.pk]), follow=True)

    assert "Sync started" in response.text
    integration.refresh_from_db()
    assert integration.sync_state == SyncState.IDLE
    assert integration.last_error == ""
    assert SyncRun.objects.get(run_token="dead-run").status == SyncRunStatus.FAILED
    newest = SyncRun.objects.filter(integration=integration)[0]
    assert (newest.status, newest.trigger) == (SyncRunStatus.OK, SyncTrigger.MANUAL)


@pytest.mark.django_db
def test_a_stalled_run_that_wakes_up_cannot_clobber_the_run_that_took_over(tenant, settings, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    monkeypatch.setattr("integrations.sync.BATCH_SIZE", 1)  # run A writes rows as it reads
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        integration, _ = _synced_book(tenant, count=5)
        run_a = CardDavDouble(_cards(5))
        run_b = CardDavDouble({"b.vcf": vcard("b", "Written By B", "work:020 888 0000"), **_cards(5)})
        results_b = []

        def stall_then_let_b_take_over(report: int) -> None:
            if report == 2:  # A has written its first batch, then its worker hangs
                assert stored_rows(integration.pk) > 7
                clock.shift(dt.timedelta(minutes=settings.SYNC_HEARTBEAT_STALE_MINUTES + 1))
                results_b.append(_sync(integration, run_b))

        run_a.before_report = stall_then_let_b_take_over
        result_a = _sync(integration, run_a)

    [result_b] = results_b
    assert result_b.status == "ok"
    assert result_a.status == "failed"
    assert "another sync took over" in result_a.error
    integration.refresh_from_db()
    assert integration.cached_numbers == result_b.numbers == 8
    assert integration.last_error == ""
    assert integration.sync_state == SyncState.IDLE
    live = PhoneCacheEntry.objects.filter(integration=integration)
    assert set(live.values_list("generation", flat=True)) == {integration.cache_generation}
    assert live.count() == 8
    assert _match(tenant, "0208880000") == ["Written By B"]
    runs = {run.generation: run for run in SyncRun.objects.filter(integration=integration)}
    assert len(runs) == 3  # the first sync, A and B each had their own generation
    assert runs[integration.cache_generation].status == SyncRunStatus.OK


@pytest.mark.django_db
def test_a_new_run_never_reuses_a_generation_even_after_a_crash(tenant):
    integration, double = _synced_book(tenant, count=1)
    first = integration.cache_generation
    Integration.objects.filter(pk=integration.pk).update(generation_counter=first + 5)  # runs that died

    assert _sync(integration, double).status == "ok"

    integration.refresh_from_db()
    assert integration.cache_generation == first + 6


@pytest.mark.django_db
def test_a_sync_keeps_its_heartbeat_fresh_while_it_reads(tenant, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    monkeypatch.setattr("integrations.sync.HEARTBEAT_EVERY_RECORDS", 2)
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    double = CardDavDouble(_cards(5))
    seen: list[dt.datetime | None] = []
    with time_machine.travel(start, tick=False) as clock:
        integration = _integration(tenant, double)

        def later(report: int) -> None:
            seen.append(Integration.objects.get(pk=integration.pk).sync_heartbeat_at)
            clock.shift(dt.timedelta(minutes=4))

        double.before_report = later
        assert _sync(integration, double).status == "ok"

    assert seen[0] == start
    assert seen[-1] is not None
    assert seen[-1] > start + dt.timedelta(minutes=4)  # refreshed after the first batches


# --- Issue 5, finding 7: Retry-After, back-off, time limits -------------------------------------


@pytest.mark.django_db
def test_a_long_retry_after_fails_the_sync_and_schedules_it_then_not_in_30_minutes(tenant):
    integration, double = _synced_book(tenant, count=1)
    double.script["REPORT"] = [httpx.Response(429, headers={"Retry-After": "3600"})]
    waits: list[float] = []
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    with time_machine.travel(now, tick=False):
        result = _sync(integration, double, waits=waits)

    assert result.status == "failed"
    assert "rate limiting" in result.error
    assert waits == []
    integration.refresh_from_db()
    assert integration.next_sync_at == now + dt.timedelta(seconds=3600)
    _cache_is_intact(tenant, integration, numbers=3)


@pytest.mark.django_db
def test_a_retry_after_given_as_an_http_date_is_honoured(tenant):
    integration, double = _synced_book(tenant, count=1)
    double.script["REPORT"] = [httpx.Response(503, headers={"Retry-After": "Sun, 01 Mar 2026 14:00:00 GMT"})]
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    with time_machine.travel(now, tick=False):
        result = _sync(integration, double)

    assert result.status == "failed"
    integration.refresh_from_db()
    assert integration.next_sync_at == dt.datetime(2026, 3, 1, 14, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_short_retry_after_is_waited_out_and_the_sync_goes_on(tenant):
    integration, double = _synced_book(tenant, count=1)
    double.script["REPORT"] = [httpx.Response(429, headers={"Retry-After": "7"})]
    waits: list[float] = []

    result = _sync(integration, double, waits=waits)

    assert (result.status, result.numbers) == ("ok", 3)
    assert waits == [7.0]


@pytest.mark.django_db
def test_a_retry_after_longer_than_the_sync_budget_is_not_waited(tenant, settings):
    settings.SYNC_SOFT_TIME_LIMIT_SECONDS = 20
    integration, double = _synced_book(tenant, count=1)
    double.script["PROPFIND"] = [httpx.Response(429, headers={"Retry-After": "45"})]
    waits: list[float] = []

    result = _sync(integration, double, waits=waits)

    assert result.status == "failed"
    assert waits == []


@pytest.mark.django_db
def test_a_503_once_is_retried_after_a_second(tenant):
    integration, double = _synced_book(tenant, count=1)
    double.script["REPORT"] = [httpx.Response(503)]
    waits: list[float] = []

    assert _sync(integration, double, waits=waits).status == "ok"
    assert waits == [1.0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
    ],
    ids=["timeout", "refused", "reset", "disconnected"],
)
def test_network_faults_are_retried_with_exponential_backoff_before_the_sync_fails(tenant, fault):
    integration, double = _synced_book(tenant, count=1)
    double.script["PROPFIND"] = [fault] * 4
    waits: list[float] = []

    result = _sync(integration, double, waits=waits)

    assert result.status == "failed"
    assert waits == [1.0, 2.0, 4.0]
    integration.refresh_from_db()
    assert integration.next_sync_at is not None
    assert integration.next_sync_at - timezone.now() > dt.timedelta(minutes=25)
    _cache_is_intact(tenant, integration, numbers=3)

    double.script["PROPFIND"] = [fault] * 2
    waits.clear()
    assert _sync(integration, double, waits=waits).status == "ok"
    assert waits == [1.0, 2.0]


@pytest.mark.django_db
def test_the_retry_count_and_backoff_are_settings(tenant, settings):
    settings.SYNC_HTTP_RETRIES = 1
    settings.SYNC_HTTP_BACKOFF_SECONDS = 0.5
    integration, double = _synced_book(tenant, count=1)
    double.script["REPORT"] = [httpx.Response(502)] * 2
    waits: list[float] = []

    assert _sync(integration, double, waits=waits).status == "failed"
    assert waits == [0.5]


@pytest.mark.django_db
def test_the_soft_time_limit_ends_the_sync_as_failed_and_keeps_the_old_cache(tenant):
    integration, double = _synced_book(tenant)

    def time_is_up(report: int) -> None:
        if report == 2:
            raise SoftTimeLimitExceeded()

    double.reports, double.before_report = 0, time_is_up
    result = _sync(integration, double)

    assert result.status == "failed"
    assert "took longer than 3600 s" in result.error
    _cache_is_intact(tenant, integration)
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 250


def test_the_sync_task_carries_the_celery_time_limits(settings):
    assert sync_integration.soft_time_limit == settings.SYNC_SOFT_TIME_LIMIT_SECONDS == 3600
    assert sync_integration.time_limit == settings.SYNC_TIME_LIMIT_SECONDS == 3900


# --- Sync history -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_sync_leaves_a_history_row(tenant):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"
    double.password = "changed"
    assert _sync(integration, double).status == "failed"

    runs = list(SyncRun.objects.filter(integration=integration))

    assert [run.status for run in runs] == [SyncRunStatus.FAILED, SyncRunStatus.HELD, SyncRunStatus.OK]
    failed, held, ok = runs
    assert "credentials" in failed.error
    assert (held.records, held.numbers) == (0, 0)
    assert (ok.records, ok.numbers, ok.skipped) == (249, 250, 0)
    assert all(run.finished_at is not None and run.tenant_id == tenant.pk for run in runs)
    assert len({run.generation for run in runs}) == 3


@pytest.mark.django_db
def test_history_older_than_the_retention_is_deleted_by_the_dispatcher(tenant, settings, monkeypatch):
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda pk: None)
    double = CardDavDouble(_cards(1))
    integration = _integration(tenant, double)
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        assert _sync(integration, double).status == "ok"
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        assert _sync(integration, double).status == "ok"

    with time_machine.travel(dt.datetime(2026, 4, 5, 12, 0, tzinfo=dt.UTC), tick=False):
        integrations_dispatch_due_syncs()

    [kept] = SyncRun.objects.filter(integration=integration)
    assert kept.started_at == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert settings.SYNC_HISTORY_DAYS == 90


@pytest.mark.django_db
def test_the_overview_shows_the_sync_history_newest_first_and_only_the_tenants_own(
    tenant, other_tenant, admin_client
):
    integration, double = _synced_book(tenant)
    double.cards.clear()
    assert _sync(integration, double).status == "held"
    theirs = CardDavDouble({"x.vcf": vcard("x", "Globex Person", "work:02 555 1234")})
    their_integration = _integration(other_tenant, theirs)
    assert _sync(their_integration, theirs).status == "ok"
    SyncRun.objects.filter(integration=their_integration).update(error="GLOBEX-ONLY-ERROR")

    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).text

    assert "Sync history" in page
    history = page[page.index("Sync history") :]
    assert history.index("Held") < history.index("OK")
    assert "GLOBEX-ONLY-ERROR" not in page


@pytest.mark.django_db
def test_the_status_block_shows_the_heartbeat_of_a_running_sync(tenant, admin_client):
    integration, _ = _synced_book(tenant)
    _stall(integration, minutes_ago=1)

    block = admin_client.get(reverse("integration-status", args=[integration.pk])).text

    assert "last sign of life" in block
    assert "stopped without finishing" not in block
    assert 'hx-trigger="every 2s"' in block


@pytest.mark.django_db
def test_the_end_of_a_run_that_lost_its_lock_is_refused_whether_it_succeeds_or_fails(tenant):
    from integrations import sync

    integration, _ = _synced_book(tenant, count=1)
    counters = {"records": 9, "skipped": 0, "numbers": 9}
    for finish in (
        lambda run: sync._finish(run, integration=integration, counters=counters),
        lambda run: sync._fail(run, integration=integration, counters=counters, exc=RuntimeError("late")),
    ):
        run = sync._acquire_lock(integration.pk, trigger=None)
        assert run is not None
        Integration.objects.filter(pk=integration.pk).update(sync_run_token="the-run-that-took-over")
        before = Integration.objects.values().get(pk=integration.pk)

        with contextlib.suppress(sync._LostLock):
            finish(run)

        assert Integration.objects.values().get(pk=integration.pk) == before
        _cache_is_intact(tenant, integration, numbers=3)
        Integration.objects.filter(pk=integration.pk).update(sync_state=SyncState.IDLE, sync_run_token="")
