"""What matching needs of a tenant besides the phone cache, held in process between calls.

A call's answer needs the tenant's integrations (name, preset, order, several-matches policy,
notification fields), its scripts with their parsed templates, which integrations are looked up
live, and its ignore list. They change when an admin edits them, seldom compared to calls, so each
web process keeps one `MatchConfig` per tenant and reloads it when `Tenant.match_config_version`
moved. That counter is raised in the same transaction as every save or delete of an
`Integration`, `Script` or `IgnoredNumber` (Django signals, wired in `IntegrationsConfig.ready`),
and the request reads it with the tenant it authenticates (the API key's query, the PBX sender's
query), so no process answers from a copy older than the request: an edit is seen by the next
call in every process.

Writes that bypass signals (`QuerySet.update()`) touch only bookkeeping that matching reads from
the database itself (sync state and counters, OAuth tokens, held syncs); the phone-cache query
still checks each integration's `enabled`, `lookup_mode` and `cache_generation` in SQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save, pre_save

from integrations.models import (
    CallJournalOptions,
    IgnoredNumber,
    IgnoreKind,
    Integration,
    LookupMode,
    Script,
)
from tenants.models import Tenant

# Tenants whose configuration one process keeps; the least recently used one is dropped beyond it.
MAX_TENANTS = 10_000


@dataclass(frozen=True)
class MatchConfig:
    """One tenant's matching configuration at `version` (`Tenant.match_config_version`).

    `integrations` maps every integration id of the tenant to a snapshot of its row; `scripts`
    are the tenant's scripts that can render (tenant-wide ones, and those of enabled integrations
    of the tenant) in the admin's order, link and server-request alike, each with `integration`
    set from `integrations`; `live_ids` the enabled live-lookup integrations in match order;
    `ignored` the ignore list by E.164 number or prefix; `journal_options` the call log's
    options (None: the defaults).
    """

    version: int
    integrations: dict[int, Integration]
    scripts: tuple[Script, ...]
    live_ids: tuple[int, ...]
    ignored: dict[str, IgnoredNumber]
    journal_options: CallJournalOptions | None = None

    def ignored_entry(self, e164: str | None) -> IgnoredNumber | None:
        """The ignore-list entry covering caller `e164`, as `integrations.ignore_list.caller_ignored`
        decides it (the whole number before a prefix, a longer prefix before a shorter), or None."""
        if not e164 or not e164.startswith("+") or not self.ignored:
            return None
        entry = self.ignored.get(e164)
        if entry is not None and entry.kind == IgnoreKind.NUMBER:
            return entry
        for end in range(len(e164), 1, -1):
            entry = self.ignored.get(e164[:end])
            if entry is not None and entry.kind == IgnoreKind.PREFIX:
                return entry
        return None


_configs: OrderedDict[int, MatchConfig] = OrderedDict()
_lock = threading.Lock()


def match_config(tenant: Tenant, *, version: int | None = None) -> MatchConfig:
    """The tenant's `MatchConfig`, at least at `version` (the version the caller just read; by
    default the one `tenant` was read with); loaded (five queries) only when this process has
    no such copy."""
    config = _configs.get(tenant.pk)
    wanted = tenant.match_config_version if version is None else version
    # A copy at least as new as the version the caller read serves (this process drops its own
    # copy on its own writes, so an older `tenant` object never pins a stale copy).
    if config is not None and config.version >= wanted:
        with _lock:
            if tenant.pk in _configs:
                _configs.move_to_end(tenant.pk)
        return config
    config = _load(tenant)
    with _lock:
        _configs[tenant.pk] = config
        _configs.move_to_end(tenant.pk)
        while len(_configs) > MAX_TENANTS:
            _configs.popitem(last=False)
    return config


def _load(tenant: Tenant) -> MatchConfig:
    # The version is read first: a write racing this load raises it again, so at worst the copy
    # is reloaded once more, never kept newer-looking than it is.
    version = Tenant.objects.filter(pk=tenant.pk).values_list("match_config_version", flat=True).first()
    integrations = {
        row.pk: row for row in Integration.objects.filter(tenant=tenant).order_by("position", "id")
    }
    scripts = []
    for script in (
        Script.objects.filter(tenant=tenant)
        .filter(Q(integration__isnull=True) | Q(integration__enabled=True, integration__tenant=tenant))
        .order_by("position", "id")
    ):
        if script.integration_id is not None:
            script.integration = integrations[script.integration_id]
        scripts.append(script)
    live_ids = tuple(
        pk for pk, row in integrations.items() if row.enabled and row.lookup_mode == LookupMode.LIVE
    )
    ignored = {entry.number: entry for entry in IgnoredNumber.objects.filter(tenant=tenant)}
    journal_options = CallJournalOptions.objects.filter(tenant=tenant).first()
    return MatchConfig(
        version=int(version or 0),
        integrations=integrations,
        scripts=tuple(scripts),
        live_ids=live_ids,
        ignored=ignored,
        journal_options=journal_options,
    )


def match_config_changed(tenant_id: int | None) -> None:
    """Raise the tenant's `match_config_version` (in the caller's transaction, if any) and drop
    this process's copy; other processes see the new version with their next call's tenant."""
    if tenant_id is not None:
        Tenant.objects.filter(pk=tenant_id).update(match_config_version=F("match_config_version") + 1)
        with _lock:
            _configs.pop(tenant_id, None)


def match_config_forget() -> None:
    """Drop every copy this process holds (tests; a process that must start cold)."""
    with _lock:
        _configs.clear()


def _remember_old_tenant(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    # An integration moved to another tenant (Django admin) changes both tenants' configuration.
    if instance.pk is not None and not kwargs.get("raw"):
        instance._match_config_old_tenant_id = (
            type(instance).objects.filter(pk=instance.pk).values_list("tenant_id", flat=True).first()
        )


def _changed(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    tenant_ids = {
        getattr(instance, "tenant_id", None),
        getattr(instance, "_match_config_old_tenant_id", None),
    }
    for tenant_id in tenant_ids - {None}:
        match_config_changed(tenant_id)


def connect_signals() -> None:
    """Raise the tenant's version on every save and delete of what a `MatchConfig` holds."""
    pre_save.connect(_remember_old_tenant, sender=Integration, dispatch_uid="match_config.integration.pre")
    for model in (Integration, Script, IgnoredNumber, CallJournalOptions):
        label = model._meta.label_lower
        post_save.connect(_changed, sender=model, dispatch_uid=f"match_config.{label}.save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"match_config.{label}.delete")


__all__ = [
    "MatchConfig",
    "connect_signals",
    "match_config",
    "match_config_changed",
    "match_config_forget",
]
