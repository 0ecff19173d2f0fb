"""The audit log: who created, changed, disabled, enabled, deleted or revoked what, and when.

Built on django-auditlog (https://django-auditlog.readthedocs.io/): `register_models()` (called
from `ConfiguratorConfig.ready()`) registers the configuration models with an allow-list of their
configuration fields, so the sync's bookkeeping columns (`sync_state`, `cached_numbers`, …) are
never logged. `auditlog.middleware.AuditlogMiddleware` sets the actor from `request.user`;
management commands wrap their work in `command_line()`.

Every entry carries `additional_data`:
- `tenant_id`: the tenant the object belongs to (models' `get_additional_data()`); the audit page
  shows only its tenant's entries, including those of deleted objects;
- `name`: the object's name when the entry was written (Integration "CRM", API key "PBX 1");
- `actor_username`: the signed-in user's name, kept even if the user is deleted later;
- `via`: "cli" for entries written by a management command.

Secrets never reach the log: an integration's `secrets` diff is masked to "(set)"/"(not set)"
before it is stored, and an API key's primary key (its prefix plus the SHA-512 hash) is reduced
to the prefix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand
from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.signals import post_save, pre_save
from django.utils.translation import gettext_noop

from integrations.texts import Text
from tenants.models import Tenant, TenantAPIKey, TenantMembership

MASK_PRESENT = "(set)"
MASK_ABSENT = "(not set)"
_EMPTY_SECRETS = {"", "None", "null", "{}"}

# Which fields are configuration and therefore audited. An allow-list, so that bookkeeping
# fields added later (sync state, heartbeats…) stay out of the log without anyone remembering.
INTEGRATION_FIELDS = [
    "tenant",
    "preset",
    "name",
    "settings",
    "secrets",
    "notification_fields",
    "enabled",
    "position",
    "multiple_matches",
    "region",
    "fallback_to_main_number",
]
SCRIPT_FIELDS = [
    "tenant",
    "integration",
    "name",
    "template",
    "applies",
    "auto_open",
    "position",
    "kind",
    "http_method",
    "request_headers",
    "body_template",
    "body_encoding",
    "on_events",
]
API_KEY_FIELDS = ["tenant", "name", "prefix", "revoked", "expiry_date"]
TENANT_FIELDS = ["name", "country", "time_zone", "extra_url_schemes", "internal_number_length"]
MEMBERSHIP_FIELDS = ["user", "tenant", "is_tenant_admin"]
IGNORED_NUMBER_FIELDS = ["tenant", "number", "kind", "action", "note"]
# The token (the URL) is never logged; a rotation shows as a new `rotated_at`, the secret as "changed".
PBX_SENDER_FIELDS = ["tenant", "format", "name", "secrets", "enabled", "rotated_at"]
CALL_LOG_FIELDS = ["tenant", "enabled", "days_kept", "mask_numbers"]

_via: ContextVar[str | None] = ContextVar("cti_audit_via", default=None)


def mask_secrets(value: str) -> str:
    """django-auditlog mask callable for `Integration.secrets`: "(set)" or "(not set)", never the value.

    `value` is the text form of the secrets JSON (or "None"); the result holds nothing of it.
    """
    return MASK_ABSENT if value.strip() in _EMPTY_SECRETS else MASK_PRESENT


def mask_header_values(value: str) -> str:
    """django-auditlog mask callable for `Script.request_headers`: the header names, values hidden.

    Headers carry API tokens (`Authorization: Bearer …`); the log shows `Authorization: •••`.
    """
    lines = []
    for line in value.splitlines():
        name, colon, _ = line.partition(":")
        if line.strip():
            lines.append(f"{name.strip()}: •••" if colon else "•••")
    return "\n".join(lines)


def register_models() -> None:
    """Register the audited models with django-auditlog (once, from `AppConfig.ready()`)."""
    from integrations.models import CallJournalOptions, IgnoredNumber, Integration, PbxSender, Script

    registrations: list[tuple[type[models.Model], dict[str, Any]]] = [
        (
            Integration,
            {
                "include_fields": INTEGRATION_FIELDS,
                "mask_fields": ["secrets"],
                "mask_callable": "configurator.audit.mask_secrets",
            },
        ),
        (
            Script,
            {
                "include_fields": SCRIPT_FIELDS,
                "mask_fields": ["request_headers"],
                "mask_callable": "configurator.audit.mask_header_values",
            },
        ),
        (TenantAPIKey, {"include_fields": API_KEY_FIELDS}),
        (Tenant, {"include_fields": TENANT_FIELDS}),
        (TenantMembership, {"include_fields": MEMBERSHIP_FIELDS}),
        (IgnoredNumber, {"include_fields": IGNORED_NUMBER_FIELDS}),
        (
            PbxSender,
            {
                "include_fields": PBX_SENDER_FIELDS,
                "mask_fields": ["secrets"],
                "mask_callable": "configurator.audit.mask_secrets",
            },
        ),
        (CallJournalOptions, {"include_fields": CALL_LOG_FIELDS}),
    ]
    for model, options in registrations:
        if not auditlog.contains(model):
            auditlog.register(model, **options)
    pre_save.connect(_stamp_entry, sender=LogEntry, dispatch_uid="configurator.audit.stamp_entry")
    post_save.connect(_keep_actor_name, sender=LogEntry, dispatch_uid="configurator.audit.keep_actor_name")


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Mark the audit entries written inside this block as made from the command line."""
    token = _via.set("cli")
    try:
        yield
    finally:
        _via.reset(token)


class AuditedCommand(BaseCommand):
    """Base of management commands that write configuration: their audit entries say "command line"."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        with command_line():
            return super().execute(*args, **options)


def _stamp_entry(sender: type[LogEntry], instance: LogEntry, **kwargs: Any) -> None:
    """Before a new entry is stored: add how it was made, reduce API-key ids, re-check the mask."""
    if instance.pk is not None:
        return
    via = _via.get()
    if via:
        instance.additional_data = {**(instance.additional_data or {}), "via": via}
    model = ContentType.objects.get_for_id(instance.content_type_id).model_class()
    if model is TenantAPIKey:
        # The key's primary key is "<prefix>.<SHA-512 hash>": keep only the prefix.
        instance.object_pk = str(instance.object_pk).split(".", 1)[0]
    changes = instance.changes
    if isinstance(changes, dict) and "secrets" in changes:
        # Belt and braces: whatever registered the model, secrets leave only as set / not set.
        changes["secrets"] = [
            value if value in (MASK_PRESENT, MASK_ABSENT) else mask_secrets(str(value))
            for value in changes["secrets"]
        ]


def _keep_actor_name(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """After a new entry is stored: keep the actor's user name, which outlives a deleted user.

    AuditlogMiddleware's receiver sets `actor` in pre_save after ours has run, hence here.
    """
    if not created or instance.actor_id is None:
        return
    data = {**(instance.additional_data or {}), "actor_username": instance.actor.get_username()}
    LogEntry.objects.filter(pk=instance.pk).update(additional_data=data)
    instance.additional_data = data


# Reading the log ---------------------------------------------------------------------------------


# The page's words. Texts: English strs (the template compares them: row.action == "deleted")
# that show in the reader's language.
_CREATED = Text(gettext_noop("created"))
_DELETED = Text(gettext_noop("deleted"))
_ENABLED = Text(gettext_noop("enabled"))
_DISABLED = Text(gettext_noop("disabled"))
_REVOKED = Text(gettext_noop("revoked"))
_CHANGED = Text(gettext_noop("changed"))
_COMMAND_LINE = Text(gettext_noop("command line"))
_SYSTEM = Text(gettext_noop("system"))
_YES = Text(gettext_noop("yes"))
_NO = Text(gettext_noop("no"))
_SET_NOT_SHOWN = Text(gettext_noop("set (not shown)"))
_CHANGED_NOT_SHOWN = Text(gettext_noop("changed (not shown)"))
# The audited fields as the page names them.
_FIELD_LABELS = {
    name: Text(label)
    for name, label in {
        "preset": gettext_noop("preset"),
        "name": gettext_noop("name"),
        "settings": gettext_noop("settings"),
        "secrets": gettext_noop("secrets"),
        "notification_fields": gettext_noop("notification fields"),
        "enabled": gettext_noop("enabled"),
        "position": gettext_noop("position"),
        "multiple_matches": gettext_noop("multiple matches"),
        "region": gettext_noop("region"),
        "fallback_to_main_number": gettext_noop("fallback to main number"),
        "integration": gettext_noop("integration"),
        "template": gettext_noop("template"),
        "applies": gettext_noop("applies"),
        "auto_open": gettext_noop("auto open"),
        "kind": gettext_noop("kind"),
        "http_method": gettext_noop("http method"),
        "request_headers": gettext_noop("request headers"),
        "body_template": gettext_noop("body template"),
        "body_encoding": gettext_noop("body encoding"),
        "on_events": gettext_noop("on events"),
        "prefix": gettext_noop("prefix"),
        "revoked": gettext_noop("revoked"),
        "country": gettext_noop("country"),
        "time_zone": gettext_noop("time zone"),
        "extra_url_schemes": gettext_noop("extra url schemes"),
        "internal_number_length": gettext_noop("internal number length"),
        "user": gettext_noop("user"),
        "is_tenant_admin": gettext_noop("is tenant admin"),
        "number": gettext_noop("number"),
        "action": gettext_noop("action"),
        "note": gettext_noop("note"),
        "format": gettext_noop("format"),
        "rotated_at": gettext_noop("rotated at"),
        "days_kept": gettext_noop("days kept"),
        "mask_numbers": gettext_noop("mask caller numbers"),
    }.items()
}


@dataclass(frozen=True)
class AuditKind:
    """A kind of audited object as the audit page names and filters it."""

    slug: str
    label: str
    model: type[models.Model]


def audit_kinds() -> list[AuditKind]:
    """The audited object kinds, in the order the page's filter lists them."""
    from integrations.models import CallJournalOptions, IgnoredNumber, Integration, PbxSender, Script

    return [
        AuditKind("integration", Text(gettext_noop("Integration")), Integration),
        AuditKind("script", Text(gettext_noop("Script")), Script),
        AuditKind("api-key", Text(gettext_noop("API key")), TenantAPIKey),
        AuditKind("pbx-sender", Text(gettext_noop("PBX sender")), PbxSender),
        AuditKind("organization", Text(gettext_noop("Organization")), Tenant),
        AuditKind("admin", Text(gettext_noop("User")), TenantMembership),
        AuditKind("ignore-list", Text(gettext_noop("Ignore list")), IgnoredNumber),
        AuditKind("call-log", Text(gettext_noop("Call log options")), CallJournalOptions),
    ]


def audit_entry_list(
    *, tenant: Tenant, kind: str | None = None, integration_id: int | None = None
) -> QuerySet[LogEntry]:
    """The tenant's audit entries, newest first, of deleted objects too.

    `kind` narrows to one `AuditKind.slug`; `integration_id` to one integration's history (the
    integration and its scripts). Another tenant's ids simply give no entries.
    """
    kinds = {k.slug: k for k in audit_kinds()}
    selected = [kinds[kind]] if kind else list(kinds.values())
    content_types = ContentType.objects.get_for_models(*(k.model for k in selected))
    entries = LogEntry.objects.filter(
        additional_data__tenant_id=tenant.pk, content_type__in=list(content_types.values())
    )
    if integration_id is not None:
        from integrations.models import Integration, Script

        entries = entries.filter(
            Q(content_type=ContentType.objects.get_for_model(Integration), object_id=integration_id)
            | Q(
                content_type=ContentType.objects.get_for_model(Script),
                additional_data__integration_id=integration_id,
            )
        )
    ordered: QuerySet[LogEntry] = entries.order_by("-timestamp", "-pk")
    return ordered.select_related("actor", "content_type")


def audit_integration_name(*, tenant: Tenant, integration_id: int) -> str | None:
    """The integration's name in its newest audit entry (it may be deleted by now), or None."""
    entry = audit_entry_list(tenant=tenant, kind="integration", integration_id=integration_id).first()
    if entry is None or not isinstance(entry.additional_data, dict):
        return None
    name = entry.additional_data.get("name")
    return str(name) if name else None


@dataclass(frozen=True)
class AuditChange:
    """One changed field of an entry: its label and the old and new values as text."""

    field: str
    old: str
    new: str
    note: str = ""


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the page shows it."""

    timestamp: dt.datetime
    who: str
    kind: str
    name: str
    action: str
    changes: list[AuditChange]


def _who(entry: LogEntry) -> str:
    data = entry.additional_data or {}
    if data.get("actor_username"):
        return str(data["actor_username"])
    if entry.actor is not None:
        return str(entry.actor.get_username())
    if data.get("via") == "cli":
        return _COMMAND_LINE
    return _SYSTEM


def _action(entry: LogEntry, model: type[models.Model] | None, changes: dict[str, Any]) -> str:
    if entry.action == LogEntry.Action.CREATE:
        return _CREATED
    if entry.action == LogEntry.Action.DELETE:
        return _DELETED
    from integrations.models import Integration, PbxSender

    keys = set(changes) - {"tenant"}
    if model in (Integration, PbxSender) and keys == {"enabled"}:
        return _ENABLED if changes["enabled"][1] in (True, "True") else _DISABLED
    if model is TenantAPIKey and "revoked" in keys and changes["revoked"][1] in (True, "True"):
        return _REVOKED
    return _CHANGED


def _text(value: Any, choices: dict[Any, Any] | None = None) -> str:
    if value is None or value == "None" or value == "":
        return "—"
    if choices and value in choices:
        return str(choices[value])
    if isinstance(value, bool):
        return _YES if value else _NO
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "—"
    return str(value)


def _changes(entry: LogEntry, model: type[models.Model] | None, changes: dict[str, Any]) -> list[AuditChange]:
    rows = []
    for name, values in changes.items():
        if name == "tenant" or not isinstance(values, list | tuple) or len(values) != 2:
            continue
        old, new = values
        label = name.replace("_", " ")
        choices = None
        if model is not None:
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
            if isinstance(field, models.Field):
                label = str(field.verbose_name)
                choices = dict(field.choices) if field.choices else None
        label = _FIELD_LABELS.get(name, label)
        if name == "secrets":
            if entry.action == LogEntry.Action.CREATE:
                if new == MASK_PRESENT:
                    rows.append(AuditChange(label, "", "", note=_SET_NOT_SHOWN))
            elif entry.action == LogEntry.Action.UPDATE:
                rows.append(AuditChange(label, "", "", note=_CHANGED_NOT_SHOWN))
            continue
        if entry.action == LogEntry.Action.DELETE:
            continue
        if isinstance(old, dict | None) and isinstance(new, dict | None) and (old or new):
            # A JSON object (an integration's settings): only the keys that changed.
            old_d, new_d = old or {}, new or {}
            for key in [*old_d, *(k for k in new_d if k not in old_d)]:
                if old_d.get(key) != new_d.get(key):
                    rows.append(
                        AuditChange(
                            Text(gettext_noop("%(field)s %(key)s"), field=label, key=key),
                            _text(old_d.get(key)),
                            _text(new_d.get(key)),
                        )
                    )
            continue
        rows.append(AuditChange(label, _text(old, choices), _text(new, choices)))
    return rows


def audit_rows(entries: Iterable[LogEntry]) -> list[AuditRow]:
    """The entries as the audit page shows them: who, what, the action and the changes."""
    labels = {k.model: k.label for k in audit_kinds()}
    rows = []
    for entry in entries:
        model = entry.content_type.model_class()
        changes = entry.changes if isinstance(entry.changes, dict) else {}
        data = entry.additional_data or {}
        rows.append(
            AuditRow(
                timestamp=entry.timestamp,
                who=_who(entry),
                kind=labels.get(model, entry.content_type.name) if model else entry.content_type.name,
                name=str(data.get("name") or entry.object_repr),
                action=_action(entry, model, changes),
                changes=_changes(entry, model, changes),
            )
        )
    return rows
