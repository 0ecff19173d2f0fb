"""Writes on tenants, tenant admins and API keys."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tenants.models import Tenant, TenantAPIKey, TenantMembership


@transaction.atomic
def tenant_create(
    *,
    name: str,
    country: str = "NL",
    time_zone: str = "Europe/Amsterdam",
    admin_username: str,
    admin_password: str,
    admin_email: str = "",
) -> tuple[Tenant, AbstractUser]:
    """Create a tenant with its first tenant admin (what a provider does).

    Raises `ValidationError` for a taken tenant name or user name, an unknown country or time zone,
    or a password that fails `AUTH_PASSWORD_VALIDATORS` (the validators' messages, under "password").
    """
    tenant = Tenant(name=name.strip(), country=country.upper(), time_zone=time_zone)
    tenant.full_clean()
    tenant.save()
    user = user_create_for_tenant(
        tenant=tenant,
        username=admin_username,
        password=admin_password,
        email=admin_email,
        is_tenant_admin=True,
    )
    return tenant, user


def user_create_for_tenant(
    *, tenant: Tenant, username: str, password: str, email: str = "", is_tenant_admin: bool = False
) -> AbstractUser:
    """Create a user belonging to `tenant`, a tenant admin or not.

    Raises `ValidationError` for a taken user name or a password that fails Django's
    `AUTH_PASSWORD_VALIDATORS` (too short, too common, all digits, too like the user name/email).
    """
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError({"username": f'The user name "{username}" is taken.'})
    user = user_model(username=username, email=email)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user = user_model.objects.create_user(username=username, email=email, password=password)
    TenantMembership.objects.create(user=user, tenant=tenant, is_tenant_admin=is_tenant_admin)
    assert isinstance(user, AbstractUser)
    return user


def api_key_create(*, tenant: Tenant, name: str) -> tuple[TenantAPIKey, str]:
    """Create an API key for the matching API; returns (row, key). The key is shown only now.

    The row keeps a SHA-512 hash and an 8-character prefix (djangorestframework-api-key).
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the key after the PBX or system that will use it.")})
    api_key, key = TenantAPIKey.objects.create_key(tenant=tenant, name=name[:50])
    assert isinstance(api_key, TenantAPIKey)
    return api_key, key


def api_key_revoke(*, tenant: Tenant, prefix: str) -> TenantAPIKey:
    """Revoke the tenant's key with this prefix (cannot be undone).

    Raises `TenantAPIKey.DoesNotExist` for an unknown prefix or another tenant's key.
    """
    api_key: TenantAPIKey = TenantAPIKey.objects.get(tenant=tenant, prefix=prefix)
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    return api_key


def tenant_set_internal_number_length(*, tenant: Tenant, length: int) -> Tenant:
    """Caller numbers of at most `length` digits (1..15) are the tenant's internal extensions.

    Raises `ValidationError` ({"internal_number_length": ...}) outside 1..15.
    """
    if not 1 <= length <= 15:
        raise ValidationError({"internal_number_length": _("Enter a number of digits from 1 to 15.")})
    if tenant.internal_number_length != length:
        tenant.internal_number_length = length
        tenant.save(update_fields=["internal_number_length"])
    return tenant
