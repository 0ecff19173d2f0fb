"""Celery tasks: thin wrappers that call the sync services."""

from __future__ import annotations

from celery import shared_task

from integrations.services import integrations_dispatch_due_syncs
from integrations.sync import phone_cache_sync


@shared_task(name="integrations.sync_integration", ignore_result=True)
def sync_integration(integration_id: int) -> str:
    """Sync one integration's phone cache; returns the result status ("ok", "failed", "busy")."""
    return phone_cache_sync(integration_id=integration_id).status


@shared_task(name="integrations.dispatch_due_syncs", ignore_result=True)
def dispatch_due_syncs() -> int:
    """Queue every enabled integration whose nightly (or retry) sync is due; returns how many."""
    return integrations_dispatch_due_syncs()
