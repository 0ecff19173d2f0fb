"""Reads of integrations and scripts; every function takes the tenant explicitly."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import Integration, Script, SyncRun
from tenants.models import Tenant


def integration_list(*, tenant: Tenant) -> QuerySet[Integration]:
    """The tenant's integrations in match order."""
    return Integration.objects.filter(tenant=tenant).order_by("position", "id")


def integration_get(*, tenant: Tenant, integration_id: int) -> Integration:
    """One of the tenant's integrations; raises `Integration.DoesNotExist` for another tenant's id."""
    return Integration.objects.get(tenant=tenant, pk=integration_id)


def script_list(*, tenant: Tenant, integration: Integration | None = None) -> QuerySet[Script]:
    """The tenant-wide scripts (integration None) or the scripts of one integration."""
    return Script.objects.filter(tenant=tenant, integration=integration).order_by("position", "id")


def script_get(*, tenant: Tenant, script_id: int) -> Script:
    """One of the tenant's scripts; raises `Script.DoesNotExist` for another tenant's id."""
    return Script.objects.select_related("integration").get(tenant=tenant, pk=script_id)


def sync_run_list(*, tenant: Tenant, integration: Integration, limit: int = 20) -> QuerySet[SyncRun]:
    """The integration's last `limit` sync runs, newest first."""
    return SyncRun.objects.filter(tenant=tenant, integration=integration).order_by("-started_at", "-id")[
        :limit
    ]
