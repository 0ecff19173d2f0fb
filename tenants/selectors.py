"""Reads of tenants, memberships and API keys."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from tenants.models import Tenant, TenantAPIKey, TenantMembership


def tenant_admin_tenant(*, user: AbstractBaseUser | AnonymousUser) -> Tenant | None:
    """The tenant `user` administers, or None if the user lacks the tenant-admin privilege."""
    if not user.is_authenticated:
        return None
    membership = TenantMembership.objects.select_related("tenant").filter(user_id=user.pk).first()
    if membership is None or not membership.is_tenant_admin:
        return None
    return membership.tenant


def api_key_list(*, tenant: Tenant) -> QuerySet[TenantAPIKey]:
    """The tenant's API keys, newest first (revoked ones included, marked)."""
    return TenantAPIKey.objects.filter(tenant=tenant).order_by("-created")
