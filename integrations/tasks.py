"""Celery tasks: thin wrappers that call the sync services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from integrations.journal import call_journal_purge
from integrations.models import SyncMode
from integrations.server_scripts import server_script_runs_purge, server_script_runs_stale, server_script_send
from integrations.services import integrations_dispatch_due_syncs
from integrations.sync import phone_cache_sync


# The soft limit raises SoftTimeLimitExceeded inside the sync, which ends it as failed with the
# old cache kept; the hard limit kills a worker stuck beyond that, and the heartbeat check then
# declares the sync dead and retries it.
@shared_task(
    name="integrations.sync_integration",
    ignore_result=True,
    soft_time_limit=settings.SYNC_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.SYNC_TIME_LIMIT_SECONDS,
)
def sync_integration(integration_id: int, mode: str = SyncMode.FULL) -> str:
    """Sync one integration's phone cache, `mode` "full" (default) or "incremental" (`SyncMode`);
    returns the result status ("ok", "failed", "held", "busy")."""
    if mode == SyncMode.INCREMENTAL:
        return phone_cache_sync(integration_id=integration_id, mode=SyncMode.INCREMENTAL).status
    return phone_cache_sync(integration_id=integration_id).status


@shared_task(name="integrations.dispatch_due_syncs", ignore_result=True)
def dispatch_due_syncs() -> int:
    """Queue every enabled integration whose nightly (or retry) sync is due, declare dead syncs
    with a stale heartbeat failed and queue them again, prune old sync history; returns how many
    were queued. Also queues again the server requests nothing will send any more
    (`server_script_runs_stale`: their queueing failed or their worker died)."""
    for run_id in server_script_runs_stale():
        send_server_script.delay(run_id)
    return integrations_dispatch_due_syncs()


@shared_task(name="integrations.purge_call_journal", ignore_result=True)
def purge_call_journal() -> int:
    """Delete call-log entries (and finished server requests) older than each tenant's days kept;
    returns how many call-log entries were deleted."""
    server_script_runs_purge()
    return call_journal_purge()


@shared_task(bind=True, name="integrations.send_server_script", ignore_result=True, max_retries=None)
def send_server_script(self: Any, run_id: int) -> None:
    """Make one attempt of a server request (`integrations.server_scripts.server_script_send`);
    a retryable failure schedules the next attempt with Celery's retry after the back-off."""
    wait = server_script_send(run_id=run_id)
    if wait is not None:
        raise self.retry(countdown=wait, max_retries=None)
