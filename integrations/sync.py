"""The phone-cache sync: all-or-nothing, one owner at a time per integration, never shrinking by accident.

A sync reads every record from the CRM through the preset's connector and writes the numbers as
a new cache generation. Lookups keep reading the integration's `cache_generation` until the new
one is complete; then the pointer is switched in one short transaction and the other rows are
dropped. A failed sync drops what it wrote, keeps the old cache, records the error on the
integration and schedules a retry (at the CRM's Retry-After when it gave one).

Ownership: taking the lock gives the run a random token, a generation number no other run ever
had (`generation_counter` + 1) and a heartbeat it refreshes while it reads; every write it makes
at the end is conditional on still holding the token. A run whose heartbeat is older than
`SYNC_HEARTBEAT_STALE_MINUTES` is declared dead, and the next sync (dispatcher, "Sync now", CLI)
takes over; should the dead run wake up, its end is refused and the new cache stays intact.

Shrink guard: a sync whose cache would lose more than `SYNC_HOLD_MAX_DROP_RATIO` of the numbers
and more than `SYNC_HOLD_MIN_DROP` of them (or all of them) is held: the old cache stays live,
the new generation's rows are kept aside (`held_generation`) until the admin accepts or rejects
them (`integration_hold_accept` / `integration_hold_reject` in services).

Every run leaves a `SyncRun` row: the overview's history.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from integrations.connectors.base import Connector, ConnectorError, CrmRecord, RetryPolicy, SkippedRecord
from integrations.connectors.phonebook import INTEGRATION_ID_SETTING
from integrations.http import connector_client
from integrations.models import (
    Integration,
    PhoneCacheEntry,
    SyncRun,
    SyncRunStatus,
    SyncState,
    SyncTrigger,
)
from integrations.phones import PhoneNumberError, normalize_phone
from integrations.registry import get_preset
from integrations.scheduling import next_nightly_sync

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# The heartbeat (and progress) is written every this many records read, besides every write
# and every wait between retries.
HEARTBEAT_EVERY_RECORDS = 100
# The longest Retry-After the sync honours for its next try; a CRM asking for more gets a day.
MAX_RETRY_AFTER = dt.timedelta(days=1)

STALE_MESSAGE = "The sync stopped without finishing (the worker died); it is retried."
TAKEN_OVER_MESSAGE = (
    "This sync was declared dead (no heartbeat for SYNC_HEARTBEAT_STALE_MINUTES) and another sync "
    "took over; its result was dropped."
)


@dataclass(frozen=True)
class SyncResult:
    """What a sync did.

    `status`: "ok"; "failed" (the old cache is kept); "held" (the cache would shrink too much: the
    old cache is kept until the admin accepts the new one); "busy" (another sync held the lock,
    nothing was done). `numbers` cached (or held), `records` read, `skipped` bad records plus
    unreadable numbers, `error` the message recorded on the integration when it failed or was held.
    """

    status: str
    numbers: int = 0
    records: int = 0
    skipped: int = 0
    error: str = ""


@dataclass(frozen=True)
class _Run:
    integration_id: int
    tenant_id: int
    token: str
    generation: int
    sync_run_id: int


class _LostLock(Exception):
    """Another sync took over this run's lock (this run was declared dead)."""


def connector_settings(integration: Integration) -> dict[str, str]:
    """The integration's plain settings and decrypted secrets, as the connector expects them.

    Also carries the integration's id as `_integration_id`, for connectors that read stored
    data instead of the network (the phone book upload).
    """
    return {
        **(integration.settings or {}),
        **(integration.secrets or {}),
        INTEGRATION_ID_SETTING: str(integration.pk),
    }


def stale_sync_q(*, now: dt.datetime) -> Q:
    """Integrations whose sync is RUNNING without a heartbeat for `SYNC_HEARTBEAT_STALE_MINUTES`."""
    cutoff = now - dt.timedelta(minutes=settings.SYNC_HEARTBEAT_STALE_MINUTES)
    no_heartbeat = Q(sync_heartbeat_at__isnull=True) & (
        Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=cutoff)
    )
    return Q(sync_state=SyncState.RUNNING) & (Q(sync_heartbeat_at__lt=cutoff) | no_heartbeat)


def sync_is_stale(integration: Integration, *, now: dt.datetime | None = None) -> bool:
    """Whether the integration's RUNNING sync has shown no sign of life for too long (for display)."""
    last_seen = integration.sync_heartbeat_at or integration.sync_started_at
    if integration.sync_state != SyncState.RUNNING or last_seen is None:
        return False
    now = now or timezone.now()
    return last_seen < now - dt.timedelta(minutes=settings.SYNC_HEARTBEAT_STALE_MINUTES)


def fail_stale_sync(*, integration_id: int, now: dt.datetime | None = None) -> bool:
    """Declare the integration's sync dead if its heartbeat is stale; True if it was.

    The integration goes back to idle with `STALE_MESSAGE` as its last error and the dead run's
    `SyncRun` is marked failed; the run's rows are left for the next sync's clean-up. Should the
    dead run wake up, its token no longer matches and all its writes are refused.
    """
    now = now or timezone.now()
    row = (
        Integration.objects.filter(pk=integration_id)
        .filter(stale_sync_q(now=now))
        .values_list("sync_run_token", flat=True)
        .first()
    )
    if row is None:
        return False
    updated = (
        Integration.objects.filter(pk=integration_id, sync_run_token=row)
        .filter(stale_sync_q(now=now))
        .update(
            sync_state=SyncState.IDLE,
            sync_run_token="",
            sync_started_at=None,
            sync_heartbeat_at=None,
            last_error=STALE_MESSAGE,
            last_error_at=now,
        )
    )
    if updated and row:
        SyncRun.objects.filter(
            integration_id=integration_id, run_token=row, status=SyncRunStatus.RUNNING
        ).update(status=SyncRunStatus.FAILED, finished_at=now, error=STALE_MESSAGE)
    if updated:
        logger.warning("sync of integration %s: %s", integration_id, STALE_MESSAGE)
    return bool(updated)


def _acquire_lock(integration_id: int, *, trigger: str | None) -> _Run | None:
    """Take the integration's sync lock with a fresh token and generation; None if a live sync holds it.

    A stale sync (see `fail_stale_sync`) is declared dead first, so its lock counts as free.
    """
    now = timezone.now()
    fail_stale_sync(integration_id=integration_id, now=now)
    token = secrets.token_hex(16)
    queued_trigger = (
        Integration.objects.filter(pk=integration_id).values_list("sync_trigger", flat=True).first()
    )
    taken = (
        Integration.objects.filter(pk=integration_id)
        .exclude(sync_state=SyncState.RUNNING)
        .update(
            sync_state=SyncState.RUNNING,
            sync_run_token=token,
            sync_started_at=now,
            sync_heartbeat_at=now,
            sync_progress=0,
            sync_trigger="",
            generation_counter=Greatest(F("generation_counter"), F("cache_generation")) + 1,
        )
    )
    if not taken:
        return None
    values = (
        Integration.objects.filter(pk=integration_id, sync_run_token=token)
        .values_list("tenant_id", "generation_counter")
        .first()
    )
    if values is None:  # taken over within milliseconds: cannot happen unless the clock jumps
        return None
    tenant_id, generation = values
    sync_run = SyncRun.objects.create(
        tenant_id=tenant_id,
        integration_id=integration_id,
        started_at=now,
        trigger=trigger or queued_trigger or SyncTrigger.MANUAL,
        run_token=token,
        generation=generation,
    )
    return _Run(
        integration_id=integration_id,
        tenant_id=tenant_id,
        token=token,
        generation=generation,
        sync_run_id=sync_run.pk,
    )


def _beat(run: _Run, *, progress: int | None = None) -> None:
    """Refresh the heartbeat (and progress); raise `_LostLock` if another run owns the lock now."""
    fields: dict[str, object] = {"sync_heartbeat_at": timezone.now()}
    if progress is not None:
        fields["sync_progress"] = progress
    if not Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token).update(**fields):
        raise _LostLock()


def _entries(
    records: Iterable[CrmRecord | SkippedRecord],
    *,
    integration: Integration,
    generation: int,
    counters: dict[str, int],
) -> Iterable[PhoneCacheEntry]:
    country = integration.tenant.country
    for item in records:
        if isinstance(item, SkippedRecord):
            counters["skipped"] += 1
            logger.info("sync %s: skipped record %s: %s", integration.pk, item.id, item.reason)
            continue
        counters["records"] += 1
        seen: set[str] = set()
        for phone in item.phones:
            try:
                number = normalize_phone(phone.number, country=country)
            except PhoneNumberError as exc:
                counters["skipped"] += 1
                logger.info("sync %s: record %s: %s", integration.pk, item.id, exc)
                continue
            if number.e164 in seen:
                continue
            seen.add(number.e164)
            yield PhoneCacheEntry(
                tenant_id=integration.tenant_id,
                integration_id=integration.pk,
                generation=generation,
                e164=number.e164,
                extension=number.extension[:20],
                number_as_written=phone.number[:100],
                number_type=phone.type[:50],
                record_id=item.id[:255],
                record_type=item.type[:50],
                display_name=item.display_name[:255],
                record_url=item.url,
                fields=dict(item.fields),
            )


def _with_heartbeat(
    records: Iterable[CrmRecord | SkippedRecord], *, run: _Run, counters: dict[str, int]
) -> Iterator[CrmRecord | SkippedRecord]:
    for count, item in enumerate(records, 1):
        if count % HEARTBEAT_EVERY_RECORDS == 0:
            _beat(run, progress=counters["records"])
        yield item


def should_hold(*, previous: int, new: int) -> bool:
    """Whether a sync going from `previous` to `new` cached numbers must be held for the admin.

    Held when it drops to zero from anything, or drops by more than `SYNC_HOLD_MAX_DROP_RATIO`
    of `previous` and by more than `SYNC_HOLD_MIN_DROP` numbers. A first sync (previous 0) and
    a growing cache are never held.
    """
    if previous <= 0 or new >= previous:
        return False
    if new == 0:
        return True
    drop = previous - new
    ratio: float = settings.SYNC_HOLD_MAX_DROP_RATIO
    minimum: int = settings.SYNC_HOLD_MIN_DROP
    return drop > previous * ratio and drop > minimum


def _held_message(*, records: int, numbers: int, skipped: int, previous: int) -> str:
    unreadable = f" ({skipped} unreadable)" if skipped else ""
    return (
        f"The CRM returned {records} contacts{unreadable} with {numbers} phone numbers, the last sync "
        f"had {previous} phone numbers; the old cache is kept. Accept the new result or keep the old one."
    )


def phone_cache_sync(
    *,
    integration_id: int,
    client_factory: Callable[[], httpx.Client] | None = None,
    sleep: Callable[[float], None] | None = None,
    trigger: str | None = None,
) -> SyncResult:
    """Sync one integration's phone cache from its CRM.

    Returns a `SyncResult`; never raises for CRM trouble (it is recorded on the integration as
    `last_error` and retried after `SYNC_RETRY_MINUTES`, at the CRM's Retry-After, or the next
    night for permanent errors such as bad credentials). Returns status "busy" without doing
    anything when a live sync of the same integration is running, "held" when the shrink guard
    keeps the old cache (see the module docstring). `client_factory` makes the HTTP client
    (default `integrations.http.connector_client`); `sleep` (seconds -> None, default
    `time.sleep`) is how the connector waits between retries. `trigger` (a `SyncTrigger` value)
    goes into the history; default: what queued the sync, else "manual".
    """
    run = _acquire_lock(integration_id, trigger=trigger)
    if run is None:
        return SyncResult(status="busy")
    integration = Integration.objects.select_related("tenant").get(pk=integration_id)
    counters = {"records": 0, "skipped": 0, "numbers": 0}
    real_sleep = sleep or time.sleep

    def wait(seconds: float) -> None:
        _beat(run, progress=counters["records"])
        real_sleep(seconds)

    try:
        preset = get_preset(integration.preset)
        if preset.connector_class is None:
            raise ConnectorError(f"{preset.name} has no phone data to sync.", permanent=True)
        # Rows no live run writes: an earlier run that died, a generation that was dropped.
        kept = [integration.cache_generation]
        if integration.held_generation is not None:
            kept.append(integration.held_generation)
        PhoneCacheEntry.objects.filter(integration_id=integration.pk).exclude(generation__in=kept).delete()
        policy = RetryPolicy(
            retries=settings.SYNC_HTTP_RETRIES,
            backoff=settings.SYNC_HTTP_BACKOFF_SECONDS,
            max_retry_after=settings.SYNC_RETRY_AFTER_MAX_WAIT_SECONDS,
            deadline=time.monotonic() + settings.SYNC_SOFT_TIME_LIMIT_SECONDS,
        )
        with (client_factory or connector_client)() as client:
            connector: Connector = preset.connector_class(
                settings=connector_settings(integration), client=client, sleep=wait, retry=policy
            )
            records = _with_heartbeat(connector.iter_records(), run=run, counters=counters)
            batch: list[PhoneCacheEntry] = []
            for entry in _entries(
                records, integration=integration, generation=run.generation, counters=counters
            ):
                batch.append(entry)
                if len(batch) >= BATCH_SIZE:
                    counters["numbers"] += _write(batch, run=run, counters=counters)
            counters["numbers"] += _write(batch, run=run, counters=counters)
        return _finish(run, integration=integration, counters=counters)
    except _LostLock:
        return _taken_over(run, counters=counters)
    except Exception as exc:
        return _fail(run, integration=integration, counters=counters, exc=exc)


def _write(batch: list[PhoneCacheEntry], *, run: _Run, counters: dict[str, int]) -> int:
    written = len(batch)
    if batch:
        PhoneCacheEntry.objects.bulk_create(batch)
        batch.clear()
    _beat(run, progress=counters["records"])
    return written


def _finish(run: _Run, *, integration: Integration, counters: dict[str, int]) -> SyncResult:
    """Switch to the new generation, or hold it; both only while this run still owns the lock."""
    now = timezone.now()
    numbers, records, skipped = counters["numbers"], counters["records"], counters["skipped"]
    next_sync = next_nightly_sync(
        integration_id=integration.pk, time_zone=integration.tenant.time_zone, after=now
    )
    released = {
        "sync_state": SyncState.IDLE,
        "sync_run_token": "",
        "sync_started_at": None,
        "sync_heartbeat_at": None,
        "next_sync_at": next_sync,
    }
    with transaction.atomic():
        current = (
            Integration.objects.select_for_update()
            .filter(pk=run.integration_id, sync_run_token=run.token)
            .values_list("cached_numbers", "held_generation")
            .first()
        )
        if current is None:
            raise _LostLock()
        previous, old_held = current
        mine = Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token)
        if should_hold(previous=previous, new=numbers):
            message = _held_message(records=records, numbers=numbers, skipped=skipped, previous=previous)
            mine.update(
                **released,
                held_generation=run.generation,
                held_numbers=numbers,
                held_records=records,
                held_skipped=skipped,
                held_at=now,
                held_message=message,
                last_error=message,
                last_error_at=now,
            )
            if old_held is not None:
                _drop_held(run, generation=old_held, now=now)
            _record_run(run, status=SyncRunStatus.HELD, counters=counters, error=message, now=now)
            logger.warning("sync of integration %s held: %s", run.integration_id, message)
            return SyncResult(status="held", numbers=numbers, records=records, skipped=skipped, error=message)
        mine.update(
            **released,
            cache_generation=run.generation,
            cached_numbers=numbers,
            last_sync_at=now,
            last_sync_skipped=skipped,
            last_error="",
            last_error_at=None,
            held_generation=None,
            held_numbers=0,
            held_records=0,
            held_skipped=0,
            held_at=None,
            held_message="",
        )
        if old_held is not None:
            _drop_held(run, generation=old_held, now=now)
        # Readers follow `cache_generation`, so every other generation is already invisible.
        PhoneCacheEntry.objects.filter(integration_id=run.integration_id).exclude(
            generation=run.generation
        ).delete()
        _record_run(run, status=SyncRunStatus.OK, counters=counters, now=now)
    return SyncResult(status="ok", numbers=numbers, records=records, skipped=skipped)


def _drop_held(run: _Run, *, generation: int, now: dt.datetime) -> None:
    """A newer sync replaces an earlier held result: its rows go, its history row says so."""
    PhoneCacheEntry.objects.filter(integration_id=run.integration_id, generation=generation).delete()
    SyncRun.objects.filter(
        integration_id=run.integration_id, generation=generation, status=SyncRunStatus.HELD
    ).update(status=SyncRunStatus.REJECTED)


def _record_run(
    run: _Run, *, status: str, counters: dict[str, int], now: dt.datetime, error: str = ""
) -> None:
    SyncRun.objects.filter(pk=run.sync_run_id).update(
        status=status,
        finished_at=now,
        records=counters["records"],
        numbers=counters["numbers"],
        skipped=counters["skipped"],
        error=error,
    )


def _taken_over(run: _Run, *, counters: dict[str, int]) -> SyncResult:
    """This run was declared dead and another took over: drop its own rows, touch nothing else."""
    PhoneCacheEntry.objects.filter(integration_id=run.integration_id, generation=run.generation).delete()
    _record_run(
        run, status=SyncRunStatus.FAILED, counters=counters, error=TAKEN_OVER_MESSAGE, now=timezone.now()
    )
    logger.warning("sync of integration %s: %s", run.integration_id, TAKEN_OVER_MESSAGE)
    return SyncResult(
        status="failed", records=counters["records"], skipped=counters["skipped"], error=TAKEN_OVER_MESSAGE
    )


def _fail(run: _Run, *, integration: Integration, counters: dict[str, int], exc: Exception) -> SyncResult:
    """Drop this run's rows, keep the old cache, record the error and schedule the retry."""
    PhoneCacheEntry.objects.filter(integration_id=run.integration_id, generation=run.generation).delete()
    permanent = isinstance(exc, ConnectorError) and exc.permanent
    retry_after = exc.retry_after if isinstance(exc, ConnectorError) else None
    if isinstance(exc, ConnectorError):
        message = exc.message
    elif isinstance(exc, SoftTimeLimitExceeded):
        message = (
            f"The sync took longer than {settings.SYNC_SOFT_TIME_LIMIT_SECONDS} s "
            "(SYNC_SOFT_TIME_LIMIT_SECONDS) and was stopped; the old cache is kept and the sync is retried."
        )
    else:
        logger.exception("sync of integration %s failed", run.integration_id)
        message = f"Unexpected error: {exc!r}"
    now = timezone.now()
    if permanent:
        retry_at = next_nightly_sync(
            integration_id=run.integration_id, time_zone=integration.tenant.time_zone, after=now
        )
    elif retry_after is not None:
        retry_at = now + min(dt.timedelta(seconds=retry_after), MAX_RETRY_AFTER)
    else:
        retry_at = now + dt.timedelta(minutes=settings.SYNC_RETRY_MINUTES)
    owned = Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token).update(
        sync_state=SyncState.IDLE,
        sync_run_token="",
        sync_started_at=None,
        sync_heartbeat_at=None,
        last_error=message,
        last_error_at=now,
        next_sync_at=retry_at,
    )
    if not owned:
        message = f"{message} ({TAKEN_OVER_MESSAGE})"
    _record_run(run, status=SyncRunStatus.FAILED, counters=counters, error=message, now=now)
    return SyncResult(
        status="failed", records=counters["records"], skipped=counters["skipped"], error=message
    )


def sync_history_prune(*, now: dt.datetime | None = None) -> int:
    """Delete `SyncRun` rows started more than `SYNC_HISTORY_DAYS` ago (all tenants); returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.SYNC_HISTORY_DAYS)
    deleted, _ = SyncRun.objects.filter(started_at__lt=cutoff).exclude(status=SyncRunStatus.RUNNING).delete()
    return deleted
