"""Writes of PBX senders; every function takes the tenant explicitly (another tenant's id: DoesNotExist).

Changes are audit-logged by django-auditlog (configurator/audit.py registers `PbxSender`; the
token never reaches the log, the secret only as "changed").
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from integrations.pbx import handler_for
from integrations.pbx.models import PbxFormat, PbxSender
from tenants.models import Tenant


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


def _new_secrets(format_slug: str) -> dict[str, str] | None:
    handler = handler_for(format_slug)
    if handler is None or not handler.uses_secret:
        return None
    return {"secret": secrets.token_hex(32)}


def pbx_sender_list(*, tenant: Tenant) -> QuerySet[PbxSender]:
    """The tenant's PBX senders, by format then name."""
    return PbxSender.objects.filter(tenant=tenant).order_by("format", "name", "id")


def pbx_sender_get(*, tenant: Tenant, sender_id: int) -> PbxSender:
    """One of the tenant's senders; raises `PbxSender.DoesNotExist` for another tenant's id."""
    return PbxSender.objects.get(tenant=tenant, pk=sender_id)


def pbx_sender_create(*, tenant: Tenant, format_slug: str, name: str) -> PbxSender:
    """Add a sender of `format_slug` named `name` with a new random token (and secret if signed).

    Raises ValidationError for an unknown format, an empty name or a name the tenant already uses.
    """
    name = name.strip()
    if format_slug not in PbxFormat.values:
        raise ValidationError(gettext('"%(format)s" is not a PBX format.') % {"format": format_slug})
    if not name:
        raise ValidationError(gettext("Give the sender a name."))
    if PbxSender.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError(gettext("A PBX sender named “%(name)s” already exists.") % {"name": name})
    return PbxSender.objects.create(
        tenant=tenant, format=format_slug, name=name, token=_new_token(), secrets=_new_secrets(format_slug)
    )


def pbx_sender_rotate(*, tenant: Tenant, sender_id: int) -> PbxSender:
    """Give the sender a new token (so a new URL) and a new secret; the old ones stop working at once."""
    with transaction.atomic():
        sender = PbxSender.objects.select_for_update().get(tenant=tenant, pk=sender_id)
        sender.token = _new_token()
        sender.secrets = _new_secrets(sender.format)
        sender.rotated_at = timezone.now()
        sender.save(update_fields=["token", "secrets", "rotated_at"])
    return sender


def pbx_sender_set_enabled(*, tenant: Tenant, sender_id: int, enabled: bool) -> PbxSender:
    """Enable or disable the sender (a disabled sender's events are refused)."""
    sender = pbx_sender_get(tenant=tenant, sender_id=sender_id)
    if sender.enabled != enabled:
        sender.enabled = enabled
        sender.save(update_fields=["enabled"])
    return sender


def pbx_sender_delete(*, tenant: Tenant, sender_id: int) -> PbxSender:
    """Delete the sender; its URL is refused from now on. Returns the deleted row."""
    sender = pbx_sender_get(tenant=tenant, sender_id=sender_id)
    sender.delete()
    return sender
