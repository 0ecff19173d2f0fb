"""The phone-cache sync: all-or-nothing, one at a time per integration.

A sync reads every record from the CRM through the preset's connector and writes the numbers as
a new cache generation. Lookups keep reading the previous generation until the new one is
complete; then the integration's `cache_generation` is switched in one short transaction and the
old rows are dropped. A failed sync drops what it wrote, keeps the old cache, records the error
on the integration and schedules a retry.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.connectors.base import Connector, ConnectorError, CrmRecord, SkippedRecord
from integrations.http import connector_client
from integrations.models import Integration, PhoneCacheEntry, SyncState
from integrations.phones import PhoneNumberError, normalize_phone
from integrations.registry import get_preset
from integrations.scheduling import next_nightly_sync

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: `status` is "ok", "failed" or "busy" (another sync held the lock).

    `numbers` cached, `records` read, `skipped` bad records plus unreadable numbers, `error` the
    message recorded on the integration when it failed.
    """

    status: str
    numbers: int = 0
    records: int = 0
    skipped: int = 0
    error: str = ""


def connector_settings(integration: Integration) -> dict[str, str]:
    """The integration's plain settings and decrypted secrets, as the connector expects them."""
    return {**(integration.settings or {}), **(integration.secrets or {})}


def _acquire_lock(integration_id: int) -> bool:
    """Mark the integration running unless a sync already runs (a stale lock counts as free)."""
    now = timezone.now()
    stale = now - dt.timedelta(minutes=settings.SYNC_LOCK_TIMEOUT_MINUTES)
    return (
        Integration.objects.filter(pk=integration_id)
        .filter(~Q(sync_state=SyncState.RUNNING) | Q(sync_started_at__lt=stale))
        .update(sync_state=SyncState.RUNNING, sync_started_at=now, sync_progress=0)
        == 1
    )


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


def phone_cache_sync(
    *,
    integration_id: int,
    client_factory: Callable[[], httpx.Client] | None = None,
) -> SyncResult:
    """Sync one integration's phone cache from its CRM.

    Returns a `SyncResult`; never raises for CRM trouble (it is recorded on the integration as
    `last_error` and retried after `SYNC_RETRY_MINUTES`, or the next night for permanent errors
    such as bad credentials). Returns status "busy" without doing anything when another sync of
    the same integration is running. `client_factory` makes the HTTP client (default
    `integrations.http.connector_client`).
    """
    if not _acquire_lock(integration_id):
        return SyncResult(status="busy")
    integration = Integration.objects.select_related("tenant").get(pk=integration_id)
    preset = get_preset(integration.preset)
    generation = integration.cache_generation + 1
    counters = {"records": 0, "skipped": 0, "numbers": 0}
    try:
        if preset.connector_class is None:
            raise ConnectorError(f"{preset.name} has no phone data to sync.", permanent=True)
        # Rows of an earlier sync that died before cleaning up.
        PhoneCacheEntry.objects.filter(integration_id=integration.pk).exclude(
            generation=integration.cache_generation
        ).delete()
        with (client_factory or connector_client)() as client:
            connector: Connector = preset.connector_class(
                settings=connector_settings(integration), client=client
            )
            batch: list[PhoneCacheEntry] = []
            for entry in _entries(
                connector.iter_records(), integration=integration, generation=generation, counters=counters
            ):
                batch.append(entry)
                if len(batch) >= BATCH_SIZE:
                    counters["numbers"] += _write(batch, integration_id=integration.pk, counters=counters)
            counters["numbers"] += _write(batch, integration_id=integration.pk, counters=counters)
    except Exception as exc:
        PhoneCacheEntry.objects.filter(integration_id=integration.pk, generation=generation).delete()
        permanent = isinstance(exc, ConnectorError) and exc.permanent
        message = exc.message if isinstance(exc, ConnectorError) else f"Unexpected error: {exc!r}"
        if not isinstance(exc, ConnectorError):
            logger.exception("sync of integration %s failed", integration.pk)
        now = timezone.now()
        retry_at = (
            next_nightly_sync(
                integration_id=integration.pk, time_zone=integration.tenant.time_zone, after=now
            )
            if permanent
            else now + dt.timedelta(minutes=settings.SYNC_RETRY_MINUTES)
        )
        Integration.objects.filter(pk=integration.pk).update(
            sync_state=SyncState.IDLE,
            sync_started_at=None,
            last_error=message,
            last_error_at=now,
            next_sync_at=retry_at,
        )
        return SyncResult(
            status="failed", records=counters["records"], skipped=counters["skipped"], error=message
        )

    now = timezone.now()
    with transaction.atomic():
        Integration.objects.filter(pk=integration.pk).update(
            cache_generation=generation,
            cached_numbers=counters["numbers"],
            sync_state=SyncState.IDLE,
            sync_started_at=None,
            last_sync_at=now,
            last_sync_skipped=counters["skipped"],
            last_error="",
            last_error_at=None,
            next_sync_at=next_nightly_sync(
                integration_id=integration.pk, time_zone=integration.tenant.time_zone, after=now
            ),
        )
    # Readers follow `cache_generation`, so the old rows are already invisible.
    PhoneCacheEntry.objects.filter(integration_id=integration.pk, generation__lt=generation).delete()
    return SyncResult(
        status="ok", numbers=counters["numbers"], records=counters["records"], skipped=counters["skipped"]
    )


def _write(batch: list[PhoneCacheEntry], *, integration_id: int, counters: dict[str, int]) -> int:
    written = len(batch)
    if batch:
        PhoneCacheEntry.objects.bulk_create(batch)
        batch.clear()
    Integration.objects.filter(pk=integration_id).update(sync_progress=counters["records"])
    return written
