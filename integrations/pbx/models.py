"""A tenant's PBX senders: one URL (and, for signed formats, one secret) per PBX event source.

A PBX posts its call events to `/pbx/<format>/<token>/`; the random `token` in the URL names the
sender (and so the tenant), the way Zammad's generic CTI endpoint `/api/v1/cti/<token>` does.
Formats that sign their requests with a shared secret (Placetel's `X-PLACETEL-SIGNATURE`) keep
it in `secrets` (`{"secret": "..."}`), encrypted at rest like integration secrets
(`integrations.fields.EncryptedJSONField`, keys `FIELD_ENCRYPTION_KEYS`).
"""

from __future__ import annotations

from django.db import models

from integrations.fields import EncryptedJSONField
from tenants.models import Tenant


class PbxFormat(models.TextChoices):
    """The call-event formats a PBX sender may speak (one module each in `integrations.pbx`)."""

    ZAMMAD = "zammad", "Zammad generic CTI"
    PLACETEL = "placetel", "Placetel Notify API"
    SIPGATE = "sipgate", "sipgate.io Push API"
    ANYWHERE365 = "anywhere365", "Anywhere365 CTI Broker"
    CLOUDCTI = "cloudcti", "CloudCTI call state"


class PbxSender(models.Model):
    """One PBX (or PBX account) that posts call events in one `format` for one tenant.

    `token` (43 url-safe characters, unique) is the last part of its URL; `secrets` holds the
    shared signing secret of formats that need one (None otherwise); `rotated_at` changes when
    the token (and secret) are replaced, so the audit log records each rotation.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="pbx_senders")
    format = models.CharField(max_length=16, choices=PbxFormat.choices)
    name = models.CharField(max_length=100)
    token = models.CharField(max_length=64, unique=True)
    secrets = EncryptedJSONField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("format", "name", "id")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "name"), name="pbx_sender_name_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.format})"

    @property
    def secret(self) -> str:
        """The shared signing secret ("" when the format has none or it cannot be decrypted)."""
        value = self.secrets.get("secret", "") if isinstance(self.secrets, dict) else ""
        return value if isinstance(value, str) else ""

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this sender (configurator/audit.py); never the token."""
        return {"tenant_id": self.tenant_id, "name": self.name}
