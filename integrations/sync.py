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

Incremental sync (connectors with `supports_incremental`): `phone_cache_sync(mode="incremental")`
takes the same lock, asks the connector for the records changed since the start of the last
successful sync (full or incremental) and applies them to the LIVE generation, one transaction
per batch: a changed record's rows are replaced, a deleted record's rows removed, so a lookup
sees each record either old or new. A failure keeps the batches already applied and the
since-time, so the next run applies the same changes again (idempotent). Deletions are capped by
the shrink guard's thresholds: a run that would delete more fails and leaves them to the nightly
full sync, which holds them for the admin. The nightly full sync still runs and replaces everything.

Every run leaves a `SyncRun` row: the overview's history.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_noop

from integrations.connectors.base import (
    Connector,
    ConnectorError,
    CrmRecord,
    DeletedRecord,
    RetryPolicy,
    SkippedRecord,
)
from integrations.connectors.phonebook import INTEGRATION_ID_SETTING
from integrations.http import connector_client
from integrations.models import (
    Integration,
    PhoneCacheEntry,
    SyncMode,
    SyncRun,
    SyncRunStatus,
    SyncState,
    SyncTrigger,
    UnreadableNumber,
)
from integrations.number_readers import NumberReaders, Pending, Reading
from integrations.phone_cache_store import GenerationWriter, Row, drop_generations, fields_json, insert_rows
from integrations.phones import NormalizedNumber, PhoneNumberError, extract_numbers
from integrations.registry import get_preset
from integrations.scheduling import next_nightly_sync
from integrations.texts import Text, text_json

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# Rows per write (one COPY on PostgreSQL, one batched INSERT on SQLite, each its own transaction).
BATCH_SIZE = 5000
# Distinct number texts one sync remembers the reading of (a company's main number on every
# contact is read once); when full, the memo starts over, so memory stays flat.
NORMALIZE_MEMO_MAX = 50_000
# Past its first this-many records, a full sync reads its records' numbers this many records at a
# time, in helper processes (SYNC_NUMBER_READERS) one chunk ahead of the rows being written.
READ_AHEAD_RECORDS = 2000
# Records (changed or deleted) an incremental sync applies per transaction.
INCREMENTAL_BATCH_RECORDS = 500
# The heartbeat (and progress) is written every this many records read, at most once per
# HEARTBEAT_MIN_INTERVAL, besides every write and every wait between retries.
HEARTBEAT_EVERY_RECORDS = 100
HEARTBEAT_MIN_INTERVAL = dt.timedelta(seconds=1)
# The longest Retry-After the sync honours for its next try; a CRM asking for more gets a day.
MAX_RETRY_AFTER = dt.timedelta(days=1)

STALE_MESSAGE = Text(gettext_noop("The sync stopped without finishing (the worker died); it is retried."))
SETTINGS_CHANGED_MESSAGE = Text(
    gettext_noop(
        "Stopped: the integration's settings were changed while it ran; a new sync with them took over."
    )
)
TAKEN_OVER_MESSAGE = Text(
    gettext_noop(
        "This sync was declared dead (no heartbeat for SYNC_HEARTBEAT_STALE_MINUTES) and another sync "
        "took over; its result was dropped."
    )
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
    started_at: dt.datetime


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
            last_error_text=text_json(STALE_MESSAGE),
            last_error_at=now,
        )
    )
    if updated and row:
        SyncRun.objects.filter(
            integration_id=integration_id, run_token=row, status=SyncRunStatus.RUNNING
        ).update(
            status=SyncRunStatus.FAILED,
            finished_at=now,
            error=STALE_MESSAGE,
            error_text=text_json(STALE_MESSAGE),
        )
    if updated:
        logger.warning("sync of integration %s: %s", integration_id, STALE_MESSAGE)
    return bool(updated)


def _acquire_lock(integration_id: int, *, trigger: str | None, mode: str = SyncMode.FULL) -> _Run | None:
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
        mode=mode,
    )
    return _Run(
        integration_id=integration_id,
        tenant_id=tenant_id,
        token=token,
        generation=generation,
        sync_run_id=sync_run.pk,
        started_at=now,
    )


def _beat(run: _Run, *, progress: int | None = None) -> None:
    """Refresh the heartbeat (and progress); raise `_LostLock` if another run owns the lock now."""
    fields: dict[str, object] = {"sync_heartbeat_at": timezone.now()}
    if progress is not None:
        fields["sync_progress"] = progress
    if not Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token).update(**fields):
        raise _LostLock()


class NumberMemo:
    """The readings of the number texts one sync has seen: `extract_numbers` runs once per
    distinct text (and region). Holds at most `limit` texts; when full it starts over."""

    def __init__(self, *, country: str, limit: int | None = None) -> None:
        self.country = country
        self.limit = NORMALIZE_MEMO_MAX if limit is None else limit
        self._known: dict[str, list[NormalizedNumber] | PhoneNumberError] = {}

    def read(self, text: str) -> list[NormalizedNumber]:
        """The numbers in `text` (`integrations.phones.extract_numbers`); raises its
        `PhoneNumberError` again for a text that could not be read before."""
        known = self._known.get(text)
        if known is None:
            try:
                known = extract_numbers(text, country=self.country)
            except PhoneNumberError as exc:
                known = exc
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[text] = known
        if isinstance(known, PhoneNumberError):
            raise known.with_traceback(None)  # a traceback per raise would pile up on the one error
        return known

    def submit(self, records: list[CrmRecord | SkippedRecord], readers: NumberReaders) -> Pending:
        """Send the number texts of `records` this memo has not read to `readers` (`remember`
        takes the readings)."""
        texts = {
            phone.number: None
            for item in records
            if isinstance(item, CrmRecord)
            for phone in item.phones
            if phone.number not in self._known
        }
        return readers.submit(list(texts), country=self.country)

    def remember(self, readers: NumberReaders, pending: Pending) -> None:
        """Keep the readings of what `submit` sent (`NumberReaders.collect`)."""
        readings: list[Reading] = readers.collect(pending)
        for text, reading in zip(pending.texts, readings, strict=True):
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[text] = reading


def _read_ahead(
    records: Iterable[CrmRecord | SkippedRecord], *, memo: NumberMemo, readers: NumberReaders
) -> Iterator[CrmRecord | SkippedRecord]:
    """`records` unchanged. The first `READ_AHEAD_RECORDS` pass straight through (their numbers
    are read as they are used, in this process: a small sync starts no helper); after them, with
    `readers.count` above 0, each chunk of `READ_AHEAD_RECORDS` is yielded once `memo` holds the
    readings of its number texts, and the next chunk goes to the helper processes before this
    one is yielded, so they read it while the caller writes this chunk's rows."""
    items = iter(records)
    passed = 0
    for item in items:
        yield item
        passed += 1
        if passed >= READ_AHEAD_RECORDS:
            break
    if passed < READ_AHEAD_RECORDS or readers.count == 0:
        yield from items
        return
    waiting: tuple[list[CrmRecord | SkippedRecord], Pending] | None = None
    chunk: list[CrmRecord | SkippedRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= READ_AHEAD_RECORDS:
            sent = (chunk, memo.submit(chunk, readers))
            if waiting is not None:
                memo.remember(readers, waiting[1])
                yield from waiting[0]
            waiting, chunk = sent, []
    if waiting is not None:
        memo.remember(readers, waiting[1])
        yield from waiting[0]
    yield from chunk  # the last, short chunk: read as it is used


def _entries(
    records: Iterable[CrmRecord | SkippedRecord],
    *,
    integration: Integration,
    generation: int,
    counters: dict[str, int],
    unreadable: list[UnreadableNumber] | None = None,
    memo: NumberMemo | None = None,
) -> Iterator[Row]:
    """The phone-cache rows (`integrations.phone_cache_store.Row`) of `records`: each number of
    each phone field (several per field are read, `integrations.phones.extract_numbers`) in the
    integration's region, once per record. `memo` remembers readings across calls of one sync.

    Numbers that cannot be read are counted as skipped and, up to `UNREADABLE_NUMBERS_MAX`,
    appended to `unreadable` (unsaved rows) with the record and the reason.
    """
    country = integration.number_region
    if memo is None or memo.country != country:
        memo = NumberMemo(country=country)
    cap = settings.UNREADABLE_NUMBERS_MAX
    tenant_id, integration_id = integration.tenant_id, integration.pk
    for item in records:
        if isinstance(item, SkippedRecord):
            counters["skipped"] += 1
            logger.info("sync %s: skipped record %s: %s", integration.pk, item.id, item.reason)
            continue
        counters["records"] += 1
        seen: set[str] = set()
        record_id, record_type, name = item.id[:255], item.type[:50], item.display_name[:255]
        fields: str | None = None
        for phone in item.phones:
            try:
                numbers = memo.read(phone.number)
            except PhoneNumberError as exc:
                counters["skipped"] += 1
                logger.info("sync %s: record %s: %s", integration.pk, item.id, exc)
                if unreadable is not None and len(unreadable) < cap:
                    unreadable.append(
                        UnreadableNumber(
                            tenant_id=integration.tenant_id,
                            integration_id=integration.pk,
                            record_id=item.id[:255],
                            record_type=item.type[:50],
                            record_name=item.display_name[:255],
                            record_url=item.url or str(item.fields.get("PopUpUri", "")),
                            raw_text=phone.number[:200],
                            reason=str(exc)[:300],
                        )
                    )
                continue
            for number in numbers:
                if number.e164 in seen:
                    continue
                seen.add(number.e164)
                if fields is None:
                    fields = fields_json(dict(item.fields))
                yield (
                    tenant_id,
                    integration_id,
                    generation,
                    number.e164,
                    number.extension[:20],
                    phone.number[:100],
                    phone.type[:50],
                    record_id,
                    record_type,
                    name,
                    item.url,
                    fields,
                )


def _with_heartbeat(records: Iterable[_T], *, run: _Run, counters: dict[str, int]) -> Iterator[_T]:
    last = timezone.now()
    for count, item in enumerate(records, 1):
        if count % HEARTBEAT_EVERY_RECORDS == 0:
            # At most one write a second: a fast source would otherwise pay a round trip (and
            # a commit) per HEARTBEAT_EVERY_RECORDS records.
            now = timezone.now()
            if now - last >= HEARTBEAT_MIN_INTERVAL:
                _beat(run, progress=counters["records"])
                last = now
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


def _held_message(*, records: int, numbers: int, skipped: int, previous: int, upload: bool = False) -> Text:
    if upload:
        template = gettext_noop(
            "The uploaded phone book held %(records)s contacts%(unreadable)s with %(numbers)s phone numbers, "
            "the last sync had %(previous)s phone numbers; the old cache is kept. Accept the new result or "
            "keep the old one."
        )
    else:
        template = gettext_noop(
            "The CRM returned %(records)s contacts%(unreadable)s with %(numbers)s phone numbers, the last "
            "sync had %(previous)s phone numbers; the old cache is kept. Accept the new result or keep the "
            "old one."
        )
    unreadable = Text(gettext_noop(" (%(skipped)s unreadable)"), skipped=skipped) if skipped else ""
    return Text(template, records=records, unreadable=unreadable, numbers=numbers, previous=previous)


def phone_cache_sync(
    *,
    integration_id: int,
    client_factory: Callable[[], httpx.Client] | None = None,
    sleep: Callable[[float], None] | None = None,
    trigger: str | None = None,
    mode: str = SyncMode.FULL,
) -> SyncResult:
    """Sync one integration's phone cache from its CRM.

    Returns a `SyncResult`; never raises for CRM trouble (it is recorded on the integration as
    `last_error` and retried after `SYNC_RETRY_MINUTES`, at the CRM's Retry-After, or the next
    night for permanent errors such as bad credentials). Returns status "busy" without doing
    anything when a live sync of the same integration is running, "held" when the shrink guard
    keeps the old cache (see the module docstring). `client_factory` makes the HTTP client
    (default `integrations.http.connector_client`); `sleep` (seconds -> None, default
    `time.sleep`) is how the connector waits between retries. `trigger` (a `SyncTrigger` value)
    goes into the history; default: what queued the sync, else "manual". `mode` "incremental"
    (`SyncMode`) applies only what changed since the last successful sync (see the module
    docstring and `phone_cache_sync_incremental`).
    """
    if mode == SyncMode.INCREMENTAL:
        return phone_cache_sync_incremental(
            integration_id=integration_id, client_factory=client_factory, sleep=sleep, trigger=trigger
        )
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
            raise ConnectorError(
                Text(gettext_noop("%(name)s has no phone data to sync."), name=preset.name), permanent=True
            )
        # Rows no live run writes: an earlier run that died, a generation that was dropped.
        kept = [integration.cache_generation]
        if integration.held_generation is not None:
            kept.append(integration.held_generation)
        drop_generations(integration.pk, keep=kept)
        writer = GenerationWriter(
            tenant_id=integration.tenant_id, integration_id=integration.pk, generation=run.generation
        )
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
            batch: list[Row] = []
            unreadable: list[UnreadableNumber] = []
            memo = NumberMemo(country=integration.number_region)
            with NumberReaders(settings.SYNC_NUMBER_READERS) as readers:
                for entry in _entries(
                    _read_ahead(records, memo=memo, readers=readers),
                    integration=integration,
                    generation=run.generation,
                    counters=counters,
                    unreadable=unreadable,
                    memo=memo,
                ):
                    batch.append(entry)
                    if len(batch) >= BATCH_SIZE:
                        counters["numbers"] += _write(batch, writer=writer, run=run, counters=counters)
            counters["numbers"] += _write(batch, writer=writer, run=run, counters=counters)
        writer.publish()
        return _finish(run, integration=integration, counters=counters, unreadable=unreadable)
    except _LostLock:
        return _taken_over(run, counters=counters)
    except Exception as exc:
        return _fail(run, integration=integration, counters=counters, exc=exc)


def incremental_since(integration: Integration) -> dt.datetime | None:
    """Where an incremental sync of `integration` starts: the start of its last successful sync,
    full or incremental (None when no full sync has succeeded yet)."""
    if integration.last_full_sync_at is None:
        return None
    if integration.last_incremental_sync_at is None:
        return integration.last_full_sync_at
    return max(integration.last_full_sync_at, integration.last_incremental_sync_at)


class _TooManyDeletions(ConnectorError):
    """The deletions an incremental sync was asked to apply pass the shrink guard's thresholds."""


def phone_cache_sync_incremental(
    *,
    integration_id: int,
    client_factory: Callable[[], httpx.Client] | None = None,
    sleep: Callable[[float], None] | None = None,
    trigger: str | None = None,
) -> SyncResult:
    """Apply the records changed (and deleted) in the CRM since the last successful sync.

    Shares the lock, run token, heartbeat and `SyncRun` history of `phone_cache_sync` (the run is
    recorded with mode "incremental"). Reads `Connector.iter_changes(since)`, `since` from
    `incremental_since`, and applies `INCREMENTAL_BATCH_RECORDS` records per transaction to the
    live generation (`cache_generation`): rows of a changed record are replaced, rows of a
    `DeletedRecord` removed, `cached_numbers` follows. Returns `SyncResult` ("ok", "failed",
    "busy"; `numbers` = rows written); never "held": deletions that together pass the shrink
    guard (`should_hold` against the numbers cached at the start) fail the run before that batch
    is applied, and the nightly full sync (with its guard) deals with them. A failure keeps the
    batches already applied, records the error, leaves `next_sync_at` (the nightly sync) alone
    and keeps the since-time, so the next run applies the same changes again. Fails (permanent)
    when the connector cannot list changes or no full sync succeeded yet.
    """
    run = _acquire_lock(integration_id, trigger=trigger or SyncTrigger.HOURLY, mode=SyncMode.INCREMENTAL)
    if run is None:
        return SyncResult(status="busy")
    integration = Integration.objects.select_related("tenant").get(pk=integration_id)
    counters = {"records": 0, "skipped": 0, "numbers": 0, "deleted_numbers": 0}
    real_sleep = sleep or time.sleep
    start_numbers = integration.cached_numbers
    memo = NumberMemo(country=integration.number_region)

    def wait(seconds: float) -> None:
        _beat(run, progress=counters["records"])
        real_sleep(seconds)

    try:
        preset = get_preset(integration.preset)
        connector_class = preset.connector_class
        if connector_class is None or not connector_class.incremental_supported(
            connector_settings(integration)
        ):
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(name)s cannot list changed records (as configured); only full syncs run."
                    ),
                    name=preset.name,
                ),
                permanent=True,
            )
        since = incremental_since(integration)
        if since is None:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "No full sync has succeeded yet: the incremental sync waits for the first full one."
                    )
                ),
                permanent=True,
            )
        policy = RetryPolicy(
            retries=settings.SYNC_HTTP_RETRIES,
            backoff=settings.SYNC_HTTP_BACKOFF_SECONDS,
            max_retry_after=settings.SYNC_RETRY_AFTER_MAX_WAIT_SECONDS,
            deadline=time.monotonic() + settings.SYNC_SOFT_TIME_LIMIT_SECONDS,
        )
        with (client_factory or connector_client)() as client:
            connector: Connector = connector_class(
                settings=connector_settings(integration), client=client, sleep=wait, retry=policy
            )
            changes = _with_heartbeat(connector.iter_changes(since), run=run, counters=counters)
            batch: list[CrmRecord | DeletedRecord] = []
            for item in changes:
                if isinstance(item, SkippedRecord):
                    counters["skipped"] += 1
                    logger.info("sync %s: skipped record %s: %s", integration.pk, item.id, item.reason)
                    continue
                batch.append(item)
                if len(batch) >= INCREMENTAL_BATCH_RECORDS:
                    _apply_changes(
                        batch,
                        run=run,
                        integration=integration,
                        counters=counters,
                        start=start_numbers,
                        memo=memo,
                    )
            _apply_changes(
                batch, run=run, integration=integration, counters=counters, start=start_numbers, memo=memo
            )
        return _finish_incremental(run, counters=counters)
    except _LostLock:
        return _taken_over(run, counters=counters)
    except Exception as exc:
        return _fail(run, integration=integration, counters=counters, exc=exc, incremental=True)


def _apply_changes(
    batch: list[CrmRecord | DeletedRecord],
    *,
    run: _Run,
    integration: Integration,
    counters: dict[str, int],
    start: int,
    memo: NumberMemo | None = None,
) -> None:
    """Apply one batch of changes to the live generation in one transaction (see the caller)."""
    if not batch:
        _beat(run, progress=counters["records"])
        return
    latest: dict[tuple[str, str], CrmRecord | DeletedRecord] = {}
    for item in batch:  # the last word on a record wins (changed, then deleted)
        latest[(item.type[:50], item.id[:255])] = item
    by_type: dict[str, list[str]] = {}
    for record_type, record_id in latest:
        by_type.setdefault(record_type, []).append(record_id)
    changed = [item for item in latest.values() if isinstance(item, CrmRecord)]
    deleted = {key for key, item in latest.items() if isinstance(item, DeletedRecord)}
    batch_counters = {"records": 0, "skipped": 0}
    with transaction.atomic():
        live = (
            Integration.objects.select_for_update()
            .filter(pk=run.integration_id, sync_run_token=run.token)
            .values_list("cache_generation", flat=True)
            .first()
        )
        if live is None:
            raise _LostLock()
        rows = PhoneCacheEntry.objects.filter(
            tenant_id=run.tenant_id, integration_id=run.integration_id, generation=live
        )  # the tenant first: PostgreSQL reads only its partitions
        match = Q(pk__in=[])
        for record_type, ids in by_type.items():
            match |= Q(record_type=record_type, record_id__in=ids)
        if deleted:
            delete_match = Q(pk__in=[])
            for record_type, record_id in deleted:
                delete_match |= Q(record_type=record_type, record_id=record_id)
            dropping = rows.filter(delete_match).count()
            total = counters["deleted_numbers"] + dropping
            if should_hold(previous=start, new=max(0, start - total)):
                raise _TooManyDeletions(
                    f"The CRM reported deleted records with {total} of the {start} cached phone numbers; "
                    "the incremental sync does not apply that many deletions. The nightly full sync "
                    "checks them (and holds them for you if the cache would shrink too far).",
                    permanent=True,
                )
            counters["deleted_numbers"] = total
        removed, _ = rows.filter(match).delete()
        unreadable: list[UnreadableNumber] = []
        entries = list(
            _entries(
                changed,
                integration=integration,
                generation=live,
                counters=batch_counters,
                unreadable=unreadable,
                memo=memo,
            )
        )
        _replace_unreadable(run.integration_id, record_ids=[i for _, i in latest], rows=unreadable)
        insert_rows(entries)
        Integration.objects.filter(pk=run.integration_id).update(
            cached_numbers=Greatest(F("cached_numbers") + len(entries) - removed, 0)
        )
    counters["records"] += batch_counters["records"] + len(deleted)
    counters["skipped"] += batch_counters["skipped"]
    counters["numbers"] += len(entries)
    batch.clear()
    _beat(run, progress=counters["records"])


def current_unreadable_numbers(integration_id: int) -> QuerySet[UnreadableNumber]:
    """The integration's unreadable numbers of its current cache (not those of a held sync)."""
    return UnreadableNumber.objects.filter(integration_id=integration_id).filter(
        Q(generation__isnull=True) | Q(generation=F("integration__cache_generation"))
    )


def _replace_unreadable(integration_id: int, *, record_ids: list[str], rows: list[UnreadableNumber]) -> None:
    """An incremental batch's records: their unreadable numbers are now `rows` (within the cap)."""
    kept = current_unreadable_numbers(integration_id)
    kept.filter(record_id__in=record_ids).delete()
    room = max(0, settings.UNREADABLE_NUMBERS_MAX - kept.count())
    UnreadableNumber.objects.bulk_create(rows[:room])


def _finish_incremental(run: _Run, *, counters: dict[str, int]) -> SyncResult:
    """Release the lock and move the since-time; `next_sync_at` (the nightly sync) is left alone.

    Clears the last error only when it came from an incremental run (a failed full sync's error
    stays until a full sync succeeds).
    """
    now = timezone.now()
    with transaction.atomic():
        if (
            Integration.objects.select_for_update()
            .filter(pk=run.integration_id, sync_run_token=run.token)
            .first()
        ) is None:
            raise _LostLock()
        previous_mode = (
            SyncRun.objects.filter(integration_id=run.integration_id, finished_at__isnull=False)
            .exclude(pk=run.sync_run_id)
            .values_list("mode", "status")
            .first()
        )
        fields: dict[str, object] = {
            "sync_state": SyncState.IDLE,
            "sync_run_token": "",
            "sync_started_at": None,
            "sync_heartbeat_at": None,
            "last_incremental_sync_at": run.started_at,
        }
        if previous_mode == (SyncMode.INCREMENTAL, SyncRunStatus.FAILED):
            fields.update(last_error="", last_error_at=None)
        Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token).update(**fields)
        _record_run(run, status=SyncRunStatus.OK, counters=counters, now=now)
    return SyncResult(
        status="ok", numbers=counters["numbers"], records=counters["records"], skipped=counters["skipped"]
    )


def _write(batch: list[Row], *, writer: GenerationWriter, run: _Run, counters: dict[str, int]) -> int:
    written = len(batch)
    if batch:
        try:
            writer.write(batch)
        except DatabaseError:
            _beat(run)  # a run that took over dropped this run's table: _LostLock, not a failure
            raise
        batch.clear()
    _beat(run, progress=counters["records"])
    return written


def _finish(
    run: _Run,
    *,
    integration: Integration,
    counters: dict[str, int],
    unreadable: list[UnreadableNumber] | None = None,
) -> SyncResult:
    """Switch to the new generation, or hold it; both only while this run still owns the lock.

    On the switch, the integration's unreadable numbers are replaced by this run's `unreadable`.
    """
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
    held = False
    message: str = ""
    with transaction.atomic():
        current = (
            Integration.objects.select_for_update()
            .filter(pk=run.integration_id, sync_run_token=run.token)
            .values_list("cached_numbers", "held_generation", "cache_generation")
            .first()
        )
        if current is None:
            raise _LostLock()
        previous, old_held, previous_generation = current
        mine = Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token)
        if should_hold(previous=previous, new=numbers):
            message = _held_message(
                records=records,
                numbers=numbers,
                skipped=skipped,
                previous=previous,
                upload=integration.preset == "phonebook_upload",
            )
            mine.update(
                **released,
                held_generation=run.generation,
                held_numbers=numbers,
                held_records=records,
                held_skipped=skipped,
                held_at=now,
                held_message=message,
                last_error=message,
                last_error_text=text_json(message),
                last_error_at=now,
            )
            if old_held is not None:
                _reject_held(run, generation=old_held)
            # The held run's unreadable numbers wait beside the current list until the admin
            # accepts (they become the list) or rejects (they go) the held sync.
            UnreadableNumber.objects.filter(
                integration_id=run.integration_id, generation__isnull=False
            ).exclude(generation=previous_generation).delete()
            for row in unreadable or []:
                row.generation = run.generation
            UnreadableNumber.objects.bulk_create(unreadable or [])
            _record_run(run, status=SyncRunStatus.HELD, counters=counters, error=message, now=now)
            held = True
        else:
            _switch(run, mine=mine, released=released, counters=counters, now=now, unreadable=unreadable)
            if old_held is not None:
                _reject_held(run, generation=old_held)
    # The rows dropped below are invisible already (readers follow `cache_generation`); dropping
    # them after the commit keeps the switch short, and what a crash leaves here the next
    # sync's clean-up drops. Generations below this run's only: a run started since is newer.
    if held:
        if old_held is not None:
            drop_generations(run.integration_id, only=[old_held])
        logger.warning("sync of integration %s held: %s", run.integration_id, message)
        return SyncResult(status="held", numbers=numbers, records=records, skipped=skipped, error=message)
    drop_generations(run.integration_id, below=run.generation)
    return SyncResult(status="ok", numbers=numbers, records=records, skipped=skipped)


def _switch(
    run: _Run,
    *,
    mine: QuerySet[Integration],
    released: Mapping[str, object],
    counters: dict[str, int],
    now: dt.datetime,
    unreadable: list[UnreadableNumber] | None,
) -> None:
    """Point lookups at the run's generation (inside `_finish`'s transaction)."""
    mine.update(
        **released,
        cache_generation=run.generation,
        cached_numbers=counters["numbers"],
        last_sync_at=now,
        last_full_sync_at=run.started_at,
        last_sync_skipped=counters["skipped"],
        last_error="",
        last_error_text=None,
        last_error_at=None,
        held_generation=None,
        held_numbers=0,
        held_records=0,
        held_skipped=0,
        held_at=None,
        held_message="",
    )
    UnreadableNumber.objects.filter(integration_id=run.integration_id).delete()
    for row in unreadable or []:
        row.generation = run.generation
    UnreadableNumber.objects.bulk_create(unreadable or [])
    _record_run(run, status=SyncRunStatus.OK, counters=counters, now=now)


def _reject_held(run: _Run, *, generation: int) -> None:
    """A newer sync replaces an earlier held result: its history row says so (the caller drops
    its rows)."""
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
        error_text=text_json(error),
    )


def _taken_over(run: _Run, *, counters: dict[str, int]) -> SyncResult:
    """This run was declared dead, or stopped because the settings changed, and another took over:
    drop its own rows, touch nothing else."""
    drop_generations(run.integration_id, only=[run.generation])
    recorded = SyncRun.objects.filter(pk=run.sync_run_id).values_list("error", flat=True).first()
    error = SETTINGS_CHANGED_MESSAGE if recorded == SETTINGS_CHANGED_MESSAGE else TAKEN_OVER_MESSAGE
    _record_run(run, status=SyncRunStatus.FAILED, counters=counters, error=error, now=timezone.now())
    logger.warning("sync of integration %s: %s", run.integration_id, error)
    return SyncResult(status="failed", records=counters["records"], skipped=counters["skipped"], error=error)


def sync_stop_for_new_settings(*, integration_id: int, now: dt.datetime | None = None) -> bool:
    """Release the lock of the integration's queued or running sync, which reads settings that
    were just changed; True if there was one.

    The running sync's token no longer matches, so its writes are refused: at its next heartbeat
    it drops its own rows (the live cache is untouched) and its history entry says
    `SETTINGS_CHANGED_MESSAGE`. The integration is left idle for the caller to queue a new sync.
    """
    now = now or timezone.now()
    token = (
        Integration.objects.filter(pk=integration_id, sync_state=SyncState.RUNNING)
        .values_list("sync_run_token", flat=True)
        .first()
    )
    released = Integration.objects.filter(
        pk=integration_id, sync_state__in=[SyncState.RUNNING, SyncState.QUEUED]
    ).update(
        sync_state=SyncState.IDLE,
        sync_run_token="",
        sync_started_at=None,
        sync_heartbeat_at=None,
    )
    if token:
        SyncRun.objects.filter(
            integration_id=integration_id, run_token=token, status=SyncRunStatus.RUNNING
        ).update(
            status=SyncRunStatus.FAILED,
            finished_at=now,
            error=SETTINGS_CHANGED_MESSAGE,
            error_text=text_json(SETTINGS_CHANGED_MESSAGE),
        )
    return bool(released)


def _fail(
    run: _Run,
    *,
    integration: Integration,
    counters: dict[str, int],
    exc: Exception,
    incremental: bool = False,
) -> SyncResult:
    """Drop this run's rows, keep the old cache, record the error and schedule the retry.

    An incremental run leaves `next_sync_at` alone: the next hourly run is its retry, and the
    nightly full sync stays where it is.
    """
    drop_generations(run.integration_id, only=[run.generation])
    permanent = isinstance(exc, ConnectorError) and exc.permanent
    retry_after = exc.retry_after if isinstance(exc, ConnectorError) else None
    message: str
    if isinstance(exc, ConnectorError):
        message = exc.message
    elif isinstance(exc, SoftTimeLimitExceeded):
        message = Text(
            gettext_noop(
                "The sync took longer than %(seconds)s s (SYNC_SOFT_TIME_LIMIT_SECONDS) and was stopped; "
                "the old cache is kept and the sync is retried."
            ),
            seconds=settings.SYNC_SOFT_TIME_LIMIT_SECONDS,
        )
    else:
        logger.exception("sync of integration %s failed", run.integration_id)
        message = Text(gettext_noop("Unexpected error: %(error)s"), error=repr(exc))
    now = timezone.now()
    if permanent:
        retry_at = next_nightly_sync(
            integration_id=run.integration_id, time_zone=integration.tenant.time_zone, after=now
        )
    elif retry_after is not None:
        retry_at = now + min(dt.timedelta(seconds=retry_after), MAX_RETRY_AFTER)
    else:
        retry_at = now + dt.timedelta(minutes=settings.SYNC_RETRY_MINUTES)
    schedule = {} if incremental else {"next_sync_at": retry_at}
    owned = Integration.objects.filter(pk=run.integration_id, sync_run_token=run.token).update(
        sync_state=SyncState.IDLE,
        sync_run_token="",
        sync_started_at=None,
        sync_heartbeat_at=None,
        last_error=message,
        last_error_text=text_json(message),
        last_error_at=now,
        **schedule,
    )
    if not owned:
        message = Text(gettext_noop("%(error)s (%(reason)s)"), error=message, reason=TAKEN_OVER_MESSAGE)
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
