"""Tenants, their admins and their API keys.

Every row of configuration and of the phone cache belongs to exactly one tenant; code reaches a
tenant's data only through selectors and services that take `tenant=` explicitly.
"""

from __future__ import annotations

import zoneinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


def validate_country(value: str) -> None:
    """Accept an ISO 3166-1 alpha-2 region that libphonenumber knows (e.g. "NL")."""
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f'"{value}" is not a country code libphonenumber knows (e.g. NL, BE, DE).')


def validate_time_zone(value: str) -> None:
    """Accept an IANA time zone name (e.g. "Europe/Amsterdam")."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f'"{value}" is not an IANA time zone (e.g. Europe/Amsterdam).')


def validate_url_schemes(value: str) -> None:
    """Accept a comma-separated list of URL schemes such as "teams, zoommtg"."""
    import re

    for scheme in (s.strip() for s in value.split(",")):
        if scheme and not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
            raise ValidationError(f'"{scheme}" is not a URL scheme (letters, digits, "+", "-", ".").')
        if scheme in {"javascript", "data", "vbscript", "file", "blob"}:
            raise ValidationError(f'The scheme "{scheme}" can run code or read files and is never allowed.')


class Tenant(models.Model):
    """An organization: its country decides how phone numbers without a country code are read."""

    name = models.CharField(max_length=200, unique=True)
    country = models.CharField(
        max_length=2,
        default="NL",
        validators=[validate_country],
        help_text=gettext_lazy(
            "ISO 3166 country code used for phone numbers written without a country code."
        ),
    )
    time_zone = models.CharField(max_length=64, default="Europe/Amsterdam", validators=[validate_time_zone])
    extra_url_schemes = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_url_schemes],
        help_text=gettext_lazy(
            "App schemes scripts may use besides http, https, mailto, tel, callto, sip, sips "
            "(comma-separated, e.g. teams, zoommtg)."
        ),
    )
    internal_number_length = models.PositiveSmallIntegerField(
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(15)],
        help_text=gettext_lazy(
            "Caller numbers of at most this many digits are internal extensions and never matched."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised by every write of what matching holds in process per tenant (its integrations,
    # scripts and ignore list; integrations.match_config): a request that reads the tenant
    # with its API key sees at once whether that copy is current.
    match_config_version = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        db_table = "configurator_tenant"  # the table from before the tenants app

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The tenant's time zone object."""
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def extra_schemes(self) -> frozenset[str]:
        """The tenant's extra allowed URL schemes, lower-case."""
        return frozenset(s.strip().lower() for s in self.extra_url_schemes.split(",") if s.strip())

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this tenant (configurator/audit.py)."""
        return {"tenant_id": self.pk, "name": self.name}


class TenantMembership(models.Model):
    """Links a user to their tenant; only tenant admins may use the configurator."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    is_tenant_admin = models.BooleanField(
        default=False,
        help_text=gettext_lazy("May sign in to configure integrations and scripts for the whole tenant."),
    )

    class Meta:
        db_table = "configurator_tenantmembership"  # the table from before the tenants app

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this membership (configurator/audit.py)."""
        try:
            name = self.user.get_username()
        except models.ObjectDoesNotExist:
            name = ""
        return {"tenant_id": self.tenant_id, "name": name}


class TenantAPIKeyManager(BaseAPIKeyManager):
    """Keys are stored hashed (SHA-512 of a 32-character random secret, djangorestframework-api-key)."""

    def get_usable_keys(self) -> models.QuerySet[TenantAPIKey]:
        # The match API needs the key's tenant on every request: fetch it in the same query.
        return TenantAPIKey.objects.filter(revoked=False).select_related("tenant")


class TenantAPIKey(AbstractAPIKey):
    """A PBX's key for the matching API; shown once at creation, stored hashed, revocable."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    # When a request last authenticated with this key; written at most once a minute per key.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    objects = TenantAPIKeyManager()  # type: ignore[misc,assignment]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "tenant API key"
        verbose_name_plural = "tenant API keys"
        db_table = "configurator_tenantapikey"  # the table from before the tenants app

    def get_additional_data(self) -> dict[str, int | str | None]:
        """The audit log's context of an entry about this key (configurator/audit.py); never the key."""
        return {"tenant_id": self.tenant_id, "name": self.name}
