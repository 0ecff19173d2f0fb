"""Writes on integrations and scripts. Every function takes the tenant (or a tenant-owned row).

Views, API views, tasks and management commands call these and stay thin.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

import scripts_engine
from integrations.connectors.base import Connector, ConnectorError, CrmRecord
from integrations.connectors.http_base import HttpConnector
from integrations.http import connector_client
from integrations.models import (
    BodyEncoding,
    CallEvent,
    HttpMethod,
    Integration,
    Script,
    ScriptKind,
    SyncMode,
    SyncRun,
    SyncRunStatus,
    SyncState,
    SyncTrigger,
    UnreadableNumber,
)
from integrations.outbound import (
    PRIVATE_ADDRESS_MESSAGE,
    OutboundAddressRefused,
    OutboundNameNotResolved,
    Resolver,
    numeric_resolver,
    overall_deadline,
    resolve_checked,
)
from integrations.phone_cache_store import drop_generations
from integrations.phones import PhoneNumberError, extract_numbers
from integrations.presets import Preset, ScriptApplies, SettingKind
from integrations.registry import PRESETS, get_preset
from integrations.sync import fail_stale_sync, stale_sync_q, sync_history_prune
from integrations.texts import Text, template_error, translated
from tenants.models import Tenant, validate_country

_url_validator = URLValidator(schemes=["http", "https"])


def integration_settings_clean(
    *, preset: Preset, values: Mapping[str, str], keep_secrets: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the values of a preset's settings form.

    Returns (plain settings, secrets). A secret left empty keeps its value from `keep_secrets`.
    Raises `ValidationError` with a message per setting name ("This field is required.", "Enter a
    valid URL…", "Choose one of …", and what the preset's connector finds wrong in them,
    `Connector.settings_problems`); unknown names are rejected too. A URL our server calls (a
    preset with a connector) whose host is or resolves to an address inside a private network
    gets exactly `PRIVATE_ADDRESS_MESSAGE`; a host that does not resolve is accepted (the
    connection test and the sync report it). Screen-pop-only URLs are opened by the agent's
    browser, not by us, and may point anywhere.
    """
    errors: dict[str, str] = {}
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    known = {s.name for s in preset.settings}
    for name in values:
        if name not in known:
            errors[name] = _('%(name)s has no setting "%(name2)s"; it has: %(value)s.') % {
                "name": preset.name,
                "name2": name,
                "value": ", ".join(sorted(known)) or "none",
            }
    for field in preset.settings:
        value = (values.get(field.name) or "").strip()
        if not value and field.kind == SettingKind.SECRET and keep_secrets and keep_secrets.get(field.name):
            value = keep_secrets[field.name]
        if not value and field.default:
            value = field.default
        if not value:
            if field.required:
                errors[field.name] = _("%(label)s: this field is required.") % {"label": field.label}
            continue
        if field.kind == SettingKind.URL:
            try:
                _url_validator(value)
            except ValidationError:
                # "http://2130706433/" and "http://0x7f.1/" are 127.0.0.1 to the C library.
                guarded = preset.connector_class is not None
                refused = guarded and _url_host_refused(value, resolver=numeric_resolver)
                errors[field.name] = (
                    PRIVATE_ADDRESS_MESSAGE
                    if refused
                    else _("%(label)s: enter a full http:// or https:// address.") % {"label": field.label}
                )
                continue
            if preset.connector_class is not None and _url_host_refused(value):
                errors[field.name] = PRIVATE_ADDRESS_MESSAGE
                continue
            # A bare origin ("https://host/") loses its slash so that default scripts written as
            # "{base_url}/path" do not get "//"; a URL with a path (a CardDAV collection) keeps it.
            value = value.rstrip("/") if value.count("/") <= 3 else value
        if field.kind == SettingKind.CHOICE and value not in {c for c, _ in field.choices}:
            labels = ", ".join(label for _, label in field.choices)
            errors[field.name] = _("%(label)s: choose one of %(choices)s.") % {
                "label": field.label,
                "choices": labels,
            }
            continue
        (secrets if field.kind == SettingKind.SECRET else plain)[field.name] = value
    if not errors and preset.connector_class is not None:
        names = {setting.name: setting.label for setting in preset.settings}
        problems = preset.connector_class.settings_problems({**plain, **secrets})
        errors.update({name: f"{names.get(name, name)}: {translated(why)}" for name, why in problems.items()})
    if not errors:
        errors.update(_default_script_problems(preset, {**plain, **secrets}))
    if errors:
        raise ValidationError(errors)
    return plain, secrets


_SETTING_PART = re.compile(r"\{([a-z0-9_]+)\}")


def _default_script_problems(preset: Preset, values: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with the settings a pre-configured script is built from, by setting name.

    A value that makes the script invalid ("my company" as a subdomain, a custom URL with an
    unclosed placeholder) is reported under the first setting the script uses, with the
    template language's message, so that the admin sees it on the form rather than as a failed
    create. Record fields are not checked here (the preset's own scripts use only its fields).
    """
    labels = {setting.name: setting.label for setting in preset.settings}
    problems: dict[str, str] = {}
    for script, spec in zip(
        preset.default_scripts, preset_default_scripts(preset=preset, settings_values=values), strict=True
    ):
        used = [name for name in _SETTING_PART.findall(script.template) if name in labels]
        if not used:
            continue
        name = next((n for n in used if n not in problems), used[0])
        try:
            template = scripts_engine.validate(
                spec.template, record_fields=[f.name for f in preset.all_fields] or None
            )
        except scripts_engine.TemplateError as exc:
            problems[name] = _("%(label)s: the script “%(script)s” it builds is not valid: %(error)s") % {
                "label": _(labels[name]),
                "script": script.name,
                "error": template_error(exc),
            }
            continue
        if any(p.kind == "record" for p in template.placeholders):
            continue
        link = scripts_engine.render(
            template,
            call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="1"),
            record=None,
            country="NL",
        )
        if link and link.lower().startswith(("http://", "https://")):
            try:
                _url_validator(link)
            except ValidationError:
                problems[name] = _(
                    "%(value)s: the script “%(name)s” would open %(link)s, which is not a valid address."
                ) % {"value": labels[name], "name": script.name, "link": link}
    return problems


def _url_host_refused(url: str, *, resolver: Resolver | None = None) -> bool:
    """Whether our server must not call this URL's host (see `integrations.outbound`).

    Resolves the host now. A name that does not resolve (offline, a typo, DNS not set up yet) is
    accepted here: saving does not wait on DNS, and the connection test and the sync then say
    "its host name could not be resolved"; the connection itself is checked again every time.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False  # not a URL we can read: the URL check reports it
    if not host:
        return False
    try:
        resolve_checked(host, port, resolver=resolver)
    except OutboundAddressRefused:
        return True
    except OutboundNameNotResolved:
        return False
    return False


def _connection_test_cap() -> float:
    """Seconds a connection test or sample fetch may take in all (`CONNECTION_TEST_TIMEOUT_SECONDS`)."""
    return float(settings.CONNECTION_TEST_TIMEOUT_SECONDS)


def _not_answered(
    *, seconds: float, hosts: Sequence[str], preset: Preset, settings_values: Mapping[str, str]
) -> ConnectorError:
    """The error of a connection test that ran out of time: which host kept it waiting."""
    host = hosts[-1] if hosts else ""
    if not host:
        urls = [settings_values.get(f.name) or "" for f in preset.settings if f.kind == SettingKind.URL]
        # LDAP's server is an ldap(s):// URL, not a URL setting.
        urls.append(str(settings_values.get("server_url") or ""))
        host = next((h for h in map(_host_of, urls) if h), "")
    return ConnectorError(
        Text(
            gettext_noop(
                "The CRM did not answer within %(seconds)s seconds at %(host)s. Check the address, and "
                "that the server is running and can be reached from here."
            ),
            seconds=f"{seconds:g}",
            host=host or Text(gettext_noop("its address")),
        ),
        timed_out=True,
    )


def _host_of(url: str) -> str:
    """The host of `url` ("" when it has none or is not a URL)."""
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""


@contextmanager
def _capped(
    *, preset: Preset, settings_values: Mapping[str, str], deadline: float | None, **options: Any
) -> Iterator[Connector]:
    """The preset's connector for these settings (built with `options`), for the admin's test or
    sample: a URL setting inside a private network raises `PRIVATE_ADDRESS_MESSAGE` first, and
    every request ends by the connection-test cap (or `deadline`, a `time.monotonic()` value,
    when earlier), also a connector's own timeout (LDAP uses no HTTP client). A timed-out
    `ConnectorError` raised inside once the cap is reached becomes `_not_answered`'s message."""
    assert preset.connector_class is not None
    for field in preset.settings:
        value = (settings_values.get(field.name) or "").strip()
        # "http://0177.0.0.1/" is 127.0.0.1 to the C library but not a URL httpx will call.
        if field.kind == SettingKind.URL and _url_host_refused(value, resolver=numeric_resolver):
            raise ConnectorError(PRIVATE_ADDRESS_MESSAGE, permanent=True)
    cap = _connection_test_cap()
    if deadline is not None:
        cap = min(cap, max(deadline - time.monotonic(), 0.0))
    hosts: list[str] = []
    with overall_deadline(cap) as end, connector_client() as client:
        client.event_hooks["request"] = [*client.event_hooks["request"], lambda r: hosts.append(r.url.host)]
        connector = preset.connector_class(settings=settings_values, client=client, **options)
        left = max(end - time.monotonic(), 0.001)
        connector.timeout = left if connector.timeout is None else min(connector.timeout, left)
        try:
            yield connector
        except ConnectorError as exc:
            # Socket timeouts may wake a hair before the deadline they were given.
            if exc.timed_out and time.monotonic() >= end - 0.05:
                raise _not_answered(
                    seconds=_connection_test_cap(),
                    hosts=hosts,
                    preset=preset,
                    settings_values=settings_values,
                ) from exc
            raise


def integration_test_connection(
    *, preset: Preset, settings_values: Mapping[str, str], deadline: float | None = None
) -> None:
    """Reach the CRM with these settings (plain and secret together).

    Raises `ConnectorError` with a message for the admin (bad credentials, unreachable host, no
    permission…); an address inside a private network gives exactly `PRIVATE_ADDRESS_MESSAGE`
    whatever the address, port or reason, and nothing is connected to. Presets without phone
    data have nothing to test and always pass.

    The whole test (all its requests) takes at most `CONNECTION_TEST_TIMEOUT_SECONDS` (or until
    `deadline`, a `time.monotonic()` value, when that is earlier); a CRM that does not answer by
    then gives "The CRM did not answer within 10 seconds at <host>…" (`timed_out` set).
    """
    if preset.connector_class is None:
        return
    with _capped(preset=preset, settings_values=settings_values, deadline=deadline) as connector:
        try:
            connector.test_connection()
        except httpx.InvalidURL as exc:  # not an httpx.HTTPError, so connectors let it through
            raise ConnectorError(
                Text(gettext_noop("The address is not a URL we can call: %(exc)s."), exc=exc), permanent=True
            ) from exc


@dataclass(frozen=True)
class SampleNumber:
    """A number of a sample record: as written in the CRM, its type, and its E.164 form ("" when
    it cannot be read, then `problem` says why)."""

    as_written: str
    type: str
    e164: str
    problem: str = ""


@dataclass(frozen=True)
class SampleRecord:
    """A record as the sync would cache it (see `integration_sample_records`)."""

    id: str
    display_name: str
    url: str
    numbers: tuple[SampleNumber, ...]
    fields: dict[str, str]


def integration_sample_records(
    *,
    preset: Preset,
    settings_values: Mapping[str, str],
    limit: int = 5,
    country: str = "",
    deadline: float | None = None,
) -> list[SampleRecord]:
    """The first `limit` records (with phone numbers) the preset's connector lists with these
    settings, as they would be cached; `country` (ISO 3166 alpha-2, e.g. the tenant's) reads
    national numbers. Records the sync would skip are left out.

    For the wizard's "fetch a sample". Makes at most a few requests (no retries, no waiting),
    within the connection test's time cap (`CONNECTION_TEST_TIMEOUT_SECONDS`, or until
    `deadline`, a `time.monotonic()` value, when earlier). Raises `ConnectorError` as
    `integration_test_connection` does; [] for presets without data.
    """
    if preset.connector_class is None:
        return []
    samples: list[SampleRecord] = []
    options = {"max_requests": 5} if issubclass(preset.connector_class, HttpConnector) else {}
    with _capped(preset=preset, settings_values=settings_values, deadline=deadline, **options) as connector:
        try:
            for item in connector.iter_records():
                if not isinstance(item, CrmRecord):
                    continue
                numbers: list[SampleNumber] = []
                for phone in item.phones:
                    try:
                        read = extract_numbers(phone.number, country=country)
                        e164, problem = ", ".join(n.e164 for n in read), ""
                    except PhoneNumberError as exc:
                        e164, problem = "", exc.text
                    numbers.append(SampleNumber(phone.number, phone.type, e164, problem))
                samples.append(
                    SampleRecord(item.id, item.display_name, item.url, tuple(numbers), dict(item.fields))
                )
                if len(samples) >= limit:
                    break
        except ConnectorError:
            if not samples:  # a budget reached after some records still shows those
                raise
        except httpx.InvalidURL as exc:
            raise ConnectorError(
                Text(gettext_noop("The address is not a URL we can call: %(exc)s."), exc=exc), permanent=True
            ) from exc
    return samples


@dataclass(frozen=True)
class ScriptSpec:
    """A script to create with an integration (the wizard's step 4, or a preset default)."""

    name: str
    template: str
    applies: str = ScriptApplies.ON_MATCH
    auto_open: bool = False


def preset_default_scripts(*, preset: Preset, settings_values: Mapping[str, str]) -> list[ScriptSpec]:
    """The preset's pre-configured scripts with `{setting}` parts filled from the settings."""
    return [
        ScriptSpec(
            name=script.name,
            template=script.template.format_map(dict(settings_values)),
            applies=script.applies,
            auto_open=script.auto_open,
        )
        for script in preset.default_scripts
    ]


def script_validate(
    *, tenant: Tenant, preset: Preset | None, template: str, applies: str
) -> scripts_engine.Template:
    """Check a script template for a tenant-wide script (`preset` None) or an integration's.

    Raises `ValidationError` whose message gives the error and its position ("… (at character
    12)"). Record fields `$(…)` are allowed only in scripts of a preset with phone data, and not
    in scripts that apply when nothing matched.
    """
    record_fields: list[str] | None = None
    if preset is not None and preset.has_phone_data and applies != ScriptApplies.ON_NO_MATCH:
        record_fields = [f.name for f in preset.all_fields]
    try:
        return scripts_engine.validate(
            template, record_fields=record_fields, extra_schemes=tenant.extra_schemes
        )
    except scripts_engine.TemplateError as exc:
        # Shown under the template field, in the reader's language (the engine's message is a Text).
        raise ValidationError(template_error(exc), code="template") from exc


def _next_position(queryset: QuerySet[Any]) -> int:
    top = queryset.aggregate(top=Max("position"))["top"]
    return 0 if top is None else int(top) + 1


@transaction.atomic
def integration_create(
    *,
    tenant: Tenant,
    preset_slug: str,
    name: str,
    settings_values: Mapping[str, str],
    notification_fields: Sequence[str] | None = None,
    scripts: Sequence[ScriptSpec] | None = None,
    start_sync: bool = True,
) -> Integration:
    """Create an integration of a preset for the tenant, with its scripts, and queue its first sync.

    `notification_fields` defaults to the preset's; `scripts` to the preset's default scripts.
    Raises `ValidationError` for bad settings, an unknown notification field, a duplicate name or
    a bad script template (nothing is created then).
    """
    preset = get_preset(preset_slug)
    name = name.strip() or preset.name
    if Integration.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": f'An integration named "{name}" already exists.'})
    plain, secrets = integration_settings_clean(preset=preset, values=settings_values)
    fields = list(preset.default_notification_fields if notification_fields is None else notification_fields)
    known_fields = {f.name for f in preset.all_fields}
    unknown = [f for f in fields if f not in known_fields]
    if unknown:
        raise ValidationError({"notification_fields": f"{preset.name} has no field {', '.join(unknown)}."})
    integration = Integration.objects.create(
        tenant=tenant,
        preset=preset.slug,
        name=name,
        settings=plain,
        secrets=secrets or None,
        notification_fields=fields,
        position=_next_position(Integration.objects.filter(tenant=tenant)),
    )
    specs = (
        preset_default_scripts(preset=preset, settings_values={**plain, **secrets})
        if scripts is None
        else scripts
    )
    for spec in specs:
        script_create(
            tenant=tenant,
            integration=integration,
            name=spec.name,
            template=spec.template,
            applies=spec.applies,
            auto_open=spec.auto_open,
        )
    if preset.has_phone_data and start_sync:
        integration_sync_request(tenant=tenant, integration=integration)
    return integration


def integration_sync_request(*, tenant: Tenant, integration: Integration) -> bool:
    """Queue a sync ("Sync now", creation). Returns False when a sync is already queued or running.

    A running sync whose heartbeat is stale (`SYNC_HEARTBEAT_STALE_MINUTES`) is declared dead
    first, so "Sync now" restarts a sync whose worker died.
    """
    from integrations.tasks import sync_integration

    if integration.tenant_id != tenant.pk:
        raise Integration.DoesNotExist("Integration not found for this tenant.")
    if not get_preset(integration.preset).has_phone_data:
        return False
    fail_stale_sync(integration_id=integration.pk)
    updated = (
        Integration.objects.filter(pk=integration.pk, tenant=tenant)
        .exclude(sync_state__in=[SyncState.RUNNING, SyncState.QUEUED])
        .update(sync_state=SyncState.QUEUED, sync_trigger=SyncTrigger.MANUAL)
    )
    if not updated:
        return False
    transaction.on_commit(lambda: sync_integration.delay(integration.pk))
    return True


def integrations_dispatch_due_syncs(*, now: dt.datetime | None = None) -> int:
    """Queue the syncs that are due (nightly or retry), across all tenants; returns how many.

    An integration that is queued but whose message was lost is queued again after
    `SYNC_LOCK_TIMEOUT_MINUTES`; one whose running sync has a stale heartbeat
    (`SYNC_HEARTBEAT_STALE_MINUTES`) is declared dead and queued again at once. Also deletes
    sync history older than `SYNC_HISTORY_DAYS`. Then queues the incremental syncs that are due
    (`SYNC_INCREMENTAL_INTERVAL_MINUTES`, see `_dispatch_incremental_syncs`); the count includes them.
    """
    from integrations.tasks import sync_integration

    now = now or timezone.now()
    sync_history_prune(now=now)
    phone_presets = [preset.slug for preset in PRESETS if preset.has_phone_data]
    enabled = Integration.objects.filter(enabled=True, preset__in=phone_presets)
    for integration_id in enabled.filter(stale_sync_q(now=now)).values_list("pk", flat=True):
        if fail_stale_sync(integration_id=integration_id, now=now):
            Integration.objects.filter(pk=integration_id).update(next_sync_at=now)
    is_due = Q(next_sync_at__lte=now) | Q(next_sync_at__isnull=True)
    due = enabled.filter(is_due).exclude(sync_state=SyncState.RUNNING).values_list("pk", "last_error")
    count = 0
    for integration_id, last_error in due:
        retry_at = now + dt.timedelta(minutes=settings.SYNC_LOCK_TIMEOUT_MINUTES)
        trigger = SyncTrigger.RETRY if last_error else SyncTrigger.NIGHTLY
        # Still due when queued: another dispatcher (a second beat, or two dispatch tasks on two
        # workers) that read the same due list may have queued it meanwhile, moving next_sync_at
        # to retry_at; then it is not queued twice.
        if (
            Integration.objects.filter(is_due, pk=integration_id)
            .exclude(sync_state=SyncState.RUNNING)
            .update(sync_state=SyncState.QUEUED, next_sync_at=retry_at, sync_trigger=trigger)
        ):
            sync_integration.delay(integration_id)
            count += 1
    return count + _dispatch_incremental_syncs(now=now, enabled=enabled)


def _dispatch_incremental_syncs(*, now: dt.datetime, enabled: QuerySet[Integration]) -> int:
    """Queue an incremental sync (`SyncMode.INCREMENTAL`, trigger "hourly") for every idle
    integration whose connector can list changes with its settings, that has a live cache (a
    successful full sync), whose last sync (full or incremental) started more than
    `SYNC_INCREMENTAL_INTERVAL_MINUTES` ago and whose nightly full sync is not due. `next_sync_at`
    (the nightly sync) is not touched. Returns how many were queued; 0 when the setting is 0.
    """
    from integrations.tasks import sync_integration

    interval = settings.SYNC_INCREMENTAL_INTERVAL_MINUTES
    if interval <= 0:
        return 0
    cutoff = now - dt.timedelta(minutes=interval)
    candidates = (
        enabled.filter(sync_state=SyncState.IDLE, last_full_sync_at__lte=cutoff, next_sync_at__gt=now)
        .filter(Q(last_incremental_sync_at__isnull=True) | Q(last_incremental_sync_at__lte=cutoff))
        .values_list("pk", "preset", "settings")
    )
    count = 0
    for integration_id, preset_slug, plain in candidates:
        connector_class = get_preset(preset_slug).connector_class
        if connector_class is None or not connector_class.incremental_supported(plain or {}):
            continue
        # The same conditions again: another dispatcher may have queued (and even run) it since.
        if (
            Integration.objects.filter(pk=integration_id, sync_state=SyncState.IDLE)
            .filter(next_sync_at__gt=now)
            .filter(Q(last_incremental_sync_at__isnull=True) | Q(last_incremental_sync_at__lte=cutoff))
            .update(sync_state=SyncState.QUEUED, sync_trigger=SyncTrigger.HOURLY)
        ):
            sync_integration.delay(integration_id, SyncMode.INCREMENTAL.value)
            count += 1
    return count


def _held_integration(*, tenant: Tenant, integration: Integration) -> Integration | None:
    """The tenant's integration locked for update if it has a held sync, else None."""
    if integration.tenant_id != tenant.pk:
        raise Integration.DoesNotExist("Integration not found for this tenant.")
    return (
        Integration.objects.select_for_update()
        .filter(pk=integration.pk, tenant=tenant, held_generation__isnull=False)
        .first()
    )


_HOLD_CLEARED: dict[str, Any] = {
    "held_generation": None,
    "held_numbers": 0,
    "held_records": 0,
    "held_skipped": 0,
    "held_at": None,
    "held_message": "",
}


@transaction.atomic
def integration_hold_accept(*, tenant: Tenant, integration: Integration) -> bool:
    """Accept a held sync: its numbers become the live phone cache and the old rows are dropped.

    Returns False when there is nothing held (any more). Raises `Integration.DoesNotExist` for
    another tenant's integration.
    """
    held = _held_integration(tenant=tenant, integration=integration)
    if held is None or held.held_generation is None:
        return False
    generation = held.held_generation
    held_started = (
        SyncRun.objects.filter(tenant=tenant, integration_id=held.pk, generation=generation)
        .values_list("started_at", flat=True)
        .first()
    )
    Integration.objects.filter(pk=held.pk, tenant=tenant, held_generation=generation).update(
        last_full_sync_at=held_started or held.held_at,
        cache_generation=generation,
        cached_numbers=held.held_numbers,
        last_sync_at=held.held_at,
        last_sync_skipped=held.held_skipped,
        last_error="",
        last_error_at=None,
        **_HOLD_CLEARED,
    )
    # Older generations only: a sync running now writes a newer one.
    drop_generations(held.pk, below=generation)
    # The held sync's unreadable numbers are the list now.
    UnreadableNumber.objects.filter(integration_id=held.pk).exclude(generation=generation).delete()
    SyncRun.objects.filter(
        tenant=tenant, integration_id=held.pk, generation=generation, status=SyncRunStatus.HELD
    ).update(status=SyncRunStatus.ACCEPTED)
    integration.refresh_from_db()
    return True


@transaction.atomic
def integration_hold_reject(*, tenant: Tenant, integration: Integration) -> bool:
    """Keep the old phone cache: the held sync's rows are dropped. The next sync asks again if it
    still finds fewer numbers.

    Returns False when there is nothing held (any more). Raises `Integration.DoesNotExist` for
    another tenant's integration.
    """
    held = _held_integration(tenant=tenant, integration=integration)
    if held is None or held.held_generation is None:
        return False
    generation = held.held_generation
    Integration.objects.filter(pk=held.pk, tenant=tenant, held_generation=generation).update(**_HOLD_CLEARED)
    Integration.objects.filter(pk=held.pk, tenant=tenant, last_error=held.held_message).update(
        last_error="", last_error_at=None
    )
    drop_generations(held.pk, only=[generation])
    UnreadableNumber.objects.filter(integration_id=held.pk, generation=generation).delete()
    SyncRun.objects.filter(
        tenant=tenant, integration_id=held.pk, generation=generation, status=SyncRunStatus.HELD
    ).update(status=SyncRunStatus.REJECTED)
    integration.refresh_from_db()
    return True


def integration_set_enabled(*, tenant: Tenant, integration: Integration, enabled: bool) -> Integration:
    """Disable (matches suppressed, nothing removed) or re-enable an integration.

    Saves only `enabled` (a running sync's bookkeeping columns are left alone); the audit log
    records "disabled"/"enabled" when the value changes. Another tenant's integration is left
    unchanged.
    """
    row = Integration.objects.filter(pk=integration.pk, tenant=tenant).first()
    if row is not None and row.enabled != enabled:
        row.enabled = enabled
        row.save(update_fields=["enabled"])
    integration.refresh_from_db()
    return integration


def integration_set_lookup_mode(*, tenant: Tenant, integration: Integration, mode: str) -> Integration:
    """Match the integration's calls against its phone cache ("cached") or ask its CRM live ("live").

    Raises `ValidationError` ({"lookup_mode": ...}) for an unknown mode, or "live" for a preset
    whose connector cannot search by number or whose settings lack what it needs (e.g. the REST
    source's search endpoint). Saves only `lookup_mode`; another tenant's integration is left
    unchanged.
    """
    from integrations.models import LookupMode

    if mode not in LookupMode.values:
        raise ValidationError({"lookup_mode": f'"{mode}" is not a lookup mode; choose cached or live.'})
    row = Integration.objects.filter(pk=integration.pk, tenant=tenant).first()
    if row is None:
        return integration
    if mode == LookupMode.LIVE:
        preset = get_preset(row.preset)
        connector_class = preset.connector_class
        problem = (
            f"{preset.name} cannot be searched by phone number: it can only be synced."
            if connector_class is None or not connector_class.supports_lookup
            else connector_class.lookup_problem({**(row.settings or {}), **(row.secrets or {})})
        )
        if problem:
            raise ValidationError({"lookup_mode": problem})
    if row.lookup_mode != mode:
        row.lookup_mode = mode
        row.save(update_fields=["lookup_mode"])
    integration.refresh_from_db()
    return integration


def integration_set_number_reading(
    *, tenant: Tenant, integration: Integration, region: str, fallback_to_main_number: bool
) -> Integration:
    """Set how the integration's numbers are read and matched.

    `region`: ISO 3166 alpha-2 (any case) for the CRM's numbers written without a country code,
    "" for the tenant's country; takes effect at the next sync. `fallback_to_main_number`: a
    caller whose full number is in no CRM matches the main number it is an extension of.
    Raises `ValidationError` ({"region": ...}) for a region libphonenumber does not know.
    Another tenant's integration is left unchanged.
    """
    region = region.strip().upper()
    if region:
        try:
            validate_country(region)
        except ValidationError as exc:
            raise ValidationError({"region": exc.messages}) from None
    row = Integration.objects.filter(pk=integration.pk, tenant=tenant).first()
    if row is None:
        return integration
    if (row.region, row.fallback_to_main_number) != (region, fallback_to_main_number):
        row.region = region
        row.fallback_to_main_number = fallback_to_main_number
        row.save(update_fields=["region", "fallback_to_main_number"])
    integration.refresh_from_db()
    return integration


@transaction.atomic
def integration_delete(*, tenant: Tenant, integration: Integration) -> None:
    """Erase an integration, its settings, scripts and cached numbers. Cannot be undone.

    The audit log records the integration and each of its scripts as deleted; the cached
    numbers go in one bulk delete and are not logged. Another tenant's integration is left alone.
    """
    row = Integration.objects.filter(pk=integration.pk, tenant=tenant).first()
    if row is None:
        return
    row.delete()  # its phone-cache tables go first (pre_delete, integrations.phone_cache_store)


def script_create(
    *,
    tenant: Tenant,
    integration: Integration | None,
    name: str,
    template: str,
    applies: str = ScriptApplies.ON_MATCH,
    auto_open: bool = False,
    kind: str = ScriptKind.LINK,
    http_method: str = HttpMethod.POST,
    request_headers: str = "",
    body_template: str = "",
    body_encoding: str = BodyEncoding.JSON,
    on_events: Sequence[str] | None = None,
) -> Script:
    """Create a tenant-wide (integration None) or integration script after validating it.

    `kind` "server_request" makes it a request the server sends on the call events `on_events`
    (default: call start), checked by `integrations.server_scripts.server_request_validate`.
    Raises `ValidationError` (message with position) for a bad template, an empty name, or an
    integration of another tenant.
    """
    if integration is not None and integration.tenant_id != tenant.pk:
        raise ValidationError(_("That integration does not belong to this tenant."))
    events = list(on_events) if on_events is not None else [CallEvent.START.value]
    _check_script_fields(name=name, applies=applies, kind=kind)
    preset = get_preset(integration.preset) if integration is not None else None
    _validate_kind(
        tenant=tenant,
        preset=preset,
        kind=kind,
        template=template,
        applies=applies,
        http_method=http_method,
        request_headers=request_headers,
        body_template=body_template,
        body_encoding=body_encoding,
        on_events=events,
    )
    server = kind == ScriptKind.SERVER_REQUEST
    return Script.objects.create(
        tenant=tenant,
        integration=integration,
        name=name.strip(),
        template=template.strip(),
        applies=applies,
        auto_open=auto_open and not server,
        position=_next_position(Script.objects.filter(tenant=tenant, integration=integration)),
        kind=kind,
        http_method=http_method if server else HttpMethod.POST,
        request_headers=request_headers.strip() if server else "",
        body_template=body_template.strip() if server else "",
        body_encoding=body_encoding if server else BodyEncoding.JSON,
        on_events=events if server else [CallEvent.START.value],
    )


def _validate_kind(
    *,
    tenant: Tenant,
    preset: Preset | None,
    kind: str,
    template: str,
    applies: str,
    http_method: str,
    request_headers: str,
    body_template: str,
    body_encoding: str,
    on_events: Sequence[str],
) -> None:
    from integrations.server_scripts import server_request_validate

    if kind == ScriptKind.SERVER_REQUEST:
        server_request_validate(
            preset=preset,
            url=template,
            http_method=http_method,
            request_headers=request_headers,
            body_template=body_template,
            body_encoding=body_encoding,
            on_events=on_events,
            applies=applies,
        )
    else:
        script_validate(tenant=tenant, preset=preset, template=template, applies=applies)


def script_update(
    *,
    tenant: Tenant,
    script: Script,
    name: str,
    template: str,
    applies: str,
    auto_open: bool,
    kind: str = ScriptKind.LINK,
    http_method: str = HttpMethod.POST,
    request_headers: str = "",
    body_template: str = "",
    body_encoding: str = BodyEncoding.JSON,
    on_events: Sequence[str] | None = None,
) -> Script:
    """Change a script after validating it like `script_create`."""
    if script.tenant_id != tenant.pk:
        raise ValidationError(_("That script does not belong to this tenant."))
    events = list(on_events) if on_events is not None else [CallEvent.START.value]
    _check_script_fields(name=name, applies=applies, kind=kind)
    preset = get_preset(script.integration.preset) if script.integration is not None else None
    _validate_kind(
        tenant=tenant,
        preset=preset,
        kind=kind,
        template=template,
        applies=applies,
        http_method=http_method,
        request_headers=request_headers,
        body_template=body_template,
        body_encoding=body_encoding,
        on_events=events,
    )
    server = kind == ScriptKind.SERVER_REQUEST
    script.name, script.template, script.applies = name.strip(), template.strip(), applies
    script.auto_open = auto_open and not server
    script.kind = kind
    script.http_method = http_method if server else HttpMethod.POST
    script.request_headers = request_headers.strip() if server else ""
    script.body_template = body_template.strip() if server else ""
    script.body_encoding = body_encoding if server else BodyEncoding.JSON
    script.on_events = events if server else [CallEvent.START.value]
    script.save(
        update_fields=[
            "name",
            "template",
            "applies",
            "auto_open",
            "kind",
            "http_method",
            "request_headers",
            "body_template",
            "body_encoding",
            "on_events",
        ]
    )
    return script


def script_delete(*, tenant: Tenant, script: Script) -> None:
    """Delete one of the tenant's scripts (the audit log records it); another tenant's is left alone."""
    row = Script.objects.filter(pk=script.pk, tenant=tenant).first()
    if row is not None:
        row.delete()


def _check_script_fields(*, name: str, applies: str, kind: str = ScriptKind.LINK) -> None:
    if kind not in ScriptKind.values:
        raise ValidationError({"kind": f'"{kind[:20]}" is not link or server_request.'})
    if not name.strip():
        raise ValidationError({"name": _("Give the script a name; agents see it on the action button.")})
    if applies not in {a.value for a in ScriptApplies}:
        raise ValidationError({"applies": f'"{applies}" is not one of on_match, on_no_match, always.'})


@dataclass(frozen=True)
class IntegrationUpdate:
    """What `integration_update` changed and what it did about the phone cache.

    `changed`: the parts that changed, of "name", "settings", "secrets", "notification_fields";
    `source_changed`: a setting that identifies the data source changed (the cache is replaced
    by the queued full sync); `sync_queued`: a new sync was queued.
    """

    changed: tuple[str, ...]
    source_changed: bool
    sync_queued: bool


# Secrets the connector platform keeps beside the preset's own (the OAuth token): an edit keeps
# them unless the OAuth client they were granted to changes.
_OAUTH_SETTING_PREFIX = "oauth_"
_NAME_MAX_LENGTH = 100  # Integration.name


@transaction.atomic
def integration_update(
    *,
    tenant: Tenant,
    integration: Integration,
    name: str,
    settings_values: Mapping[str, str],
    notification_fields: Sequence[str] | None = None,
    start_sync: bool = True,
) -> IntegrationUpdate:
    """Change an integration's name, settings, credentials and call notification fields.

    `settings_values` is checked like `integration_create`'s (`integration_settings_clean`: the
    preset's checks and the outbound guard's `PRIVATE_ADDRESS_MESSAGE`); a secret left empty keeps
    its stored value, a value replaces it. `notification_fields` (ordered record field names;
    None keeps them) are read at match time from the integration (`matching._match_json`), and
    the phone cache stores every field of each record, so changing them, or the name, leaves the
    cache alone. The cache is kept unless what changed makes it wrong:
    - a setting with `SettingField.identifies_source` (another address book, base URL, account):
      the incremental since-times and a held result of the old source are dropped and a full
      sync is queued, which replaces the cache all-or-nothing (a failure keeps the old one);
    - a secret (a new password): the last error (the 401) is cleared and a sync is queued.
    Either way a sync running with the old values is stopped first (`sync_stop_for_new_settings`).
    A changed OAuth client (`oauth_*` settings) drops the stored token: Connect must run again.
    The save goes through the model, so the audit log records the change with secrets masked.

    Raises `ValidationError` (by field name) for bad settings, an unknown or repeated notification
    field, or a name another of the tenant's integrations has; `Integration.DoesNotExist` for
    another tenant's integration; `UnknownPresetError` when the catalog no longer has its preset.
    Nothing is changed when it raises.
    """
    from integrations.sync import sync_stop_for_new_settings

    row = Integration.objects.select_for_update().filter(pk=integration.pk, tenant=tenant).first()
    if row is None:
        raise Integration.DoesNotExist("Integration not found for this tenant.")
    preset = get_preset(row.preset)
    errors: dict[str, str] = {}
    new_name = name.strip() or row.name
    if len(new_name) > _NAME_MAX_LENGTH:
        errors["name"] = _("The name is too long (at most 100 characters).")
    elif Integration.objects.filter(tenant=tenant, name=new_name).exclude(pk=row.pk).exists():
        errors["name"] = _('An integration named "%(new_name)s" already exists.') % {"new_name": new_name}
    old_secrets: dict[str, str] = dict(row.secrets or {})
    try:
        plain, secrets = integration_settings_clean(
            preset=preset, values=settings_values, keep_secrets=old_secrets
        )
    except ValidationError as exc:
        errors.update({k: str(v[0]) for k, v in exc.message_dict.items()})
        plain, secrets = {}, {}
    fields = list(row.notification_fields if notification_fields is None else notification_fields)
    known_fields = {f.name for f in preset.all_fields}
    unknown = [f for f in fields if f not in known_fields]
    if unknown:
        errors["notification_fields"] = _("%(name)s has no field %(value)s.") % {
            "name": preset.name,
            "value": ", ".join(unknown),
        }
    elif len(set(fields)) != len(fields):
        errors["notification_fields"] = _("Each field can be shown once.")
    if errors:
        raise ValidationError(errors)

    old_plain: dict[str, str] = dict(row.settings or {})
    source_changed = any(
        setting.identifies_source and old_plain.get(setting.name, "") != plain.get(setting.name, "")
        for setting in preset.settings
        if setting.kind != SettingKind.SECRET
    )
    preset_secrets = preset.secret_setting_names
    secrets_changed = any(old_secrets.get(n, "") != secrets.get(n, "") for n in preset_secrets)
    oauth_changed = any(
        ({**old_plain, **old_secrets}.get(s.name, "") != {**plain, **secrets}.get(s.name, ""))
        for s in preset.settings
        if s.name.startswith(_OAUTH_SETTING_PREFIX)
    )
    # Keep what the platform stored beside the preset's secrets (the OAuth token) unless the
    # client it was granted to changed.
    kept = {k: v for k, v in old_secrets.items() if k not in preset_secrets and not oauth_changed}
    new_secrets = {**kept, **secrets}

    changed: list[str] = []
    if new_name != row.name:
        changed.append("name")
    if plain != old_plain:
        changed.append("settings")
    if new_secrets != old_secrets:
        changed.append("secrets")
    if fields != list(row.notification_fields):
        changed.append("notification_fields")
    if changed:
        row.name, row.settings, row.secrets, row.notification_fields = (
            new_name,
            plain,
            new_secrets or None,
            fields,
        )
        row.save(update_fields=["name", "settings", "secrets", "notification_fields"])
        _default_scripts_follow(
            tenant=tenant,
            integration=row,
            preset=preset,
            old_values={**old_plain, **old_secrets},
            new_values={**plain, **secrets},
        )

    resync = preset.has_phone_data and (source_changed or secrets_changed)
    sync_queued = False
    if resync:
        sync_stop_for_new_settings(integration_id=row.pk)
        bookkeeping: dict[str, Any] = {"last_error": "", "last_error_at": None}
        if oauth_changed:
            bookkeeping["oauth_reconnect_required"] = False
        if source_changed:
            # The old source's since-time must not drive an incremental sync of the new one.
            bookkeeping.update(last_full_sync_at=None, last_incremental_sync_at=None)
            held = row.held_generation
            if held is not None:
                bookkeeping.update(_HOLD_CLEARED)
                drop_generations(row.pk, only=[held])
        Integration.objects.filter(pk=row.pk, tenant=tenant).update(**bookkeeping)
        row.refresh_from_db()
        if start_sync and row.enabled:
            sync_queued = integration_sync_request(tenant=tenant, integration=row)
        if not sync_queued:
            # Disabled, or asked not to start: the dispatcher syncs it as soon as it may.
            Integration.objects.filter(pk=row.pk, tenant=tenant).update(next_sync_at=timezone.now())
    integration.refresh_from_db()
    return IntegrationUpdate(changed=tuple(changed), source_changed=source_changed, sync_queued=sync_queued)


def _default_scripts_follow(
    *,
    tenant: Tenant,
    integration: Integration,
    preset: Preset,
    old_values: Mapping[str, str],
    new_values: Mapping[str, str],
) -> None:
    """Pre-configured scripts still as the old settings built them follow the new settings.

    A script the admin changed (its template differs from what the preset built) is left alone.
    """
    try:
        old_specs = preset_default_scripts(preset=preset, settings_values=old_values)
    except (KeyError, ValueError, IndexError):
        return  # the old settings lacked a part the template needs: nothing can be recognized
    new_specs = preset_default_scripts(preset=preset, settings_values=new_values)
    for old, new in zip(old_specs, new_specs, strict=True):
        if old.template == new.template:
            continue
        for script in Script.objects.filter(
            tenant=tenant, integration=integration, kind=ScriptKind.LINK, name=old.name, template=old.template
        ):
            script_update(
                tenant=tenant,
                script=script,
                name=script.name,
                template=new.template,
                applies=script.applies,
                auto_open=script.auto_open,
            )


__all__ = [
    "ConnectorError",
    "IntegrationUpdate",
    "ScriptSpec",
    "integration_create",
    "integration_delete",
    "integration_hold_accept",
    "integration_hold_reject",
    "integration_set_enabled",
    "integration_settings_clean",
    "integration_sync_request",
    "integration_test_connection",
    "integration_update",
    "integrations_dispatch_due_syncs",
    "preset_default_scripts",
    "script_create",
    "script_delete",
    "script_update",
    "script_validate",
]
