"""Views of an integration's overview: status, Sync now, enable/disable/delete, numbers, samples.

Thin: each view resolves the tenant's rows (404 for another tenant's ids), calls a service and
renders. Every view is wrapped in `tenant_admin_required`, which passes the tenant.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from configurator.frame import render_page, sidebar_integrations, tenant_admin_required
from integrations.connectors.base import ConnectorError
from integrations.connectors.phonebook import PhoneBookConnector
from integrations.forms import APPLIES_LABELS, IntegrationDeleteForm
from integrations.models import Integration, LookupMode, SyncState
from integrations.oauth import TOKEN_SECRET, oauth_config_for
from integrations.phonebook_views import phonebook_overview_context
from integrations.phones import problem_text
from integrations.presets import Preset, SettingKind
from integrations.selectors import script_list, sync_run_list
from integrations.services import (
    integration_delete,
    integration_hold_accept,
    integration_hold_reject,
    integration_sample_records,
    integration_set_enabled,
    integration_set_lookup_mode,
    integration_set_number_reading,
    integration_sync_request,
)
from integrations.sync import STALE_MESSAGE, connector_settings, current_unreadable_numbers, sync_is_stale
from integrations.sync_chart import sync_chart
from integrations.ui_helpers import SECRET_MASK, _integration_or_404, _preset_of
from tenants.models import Tenant

# The overview lists this many unreadable numbers; the rest are counted.
UNREADABLE_SHOWN = 200


def _needs_connect(integration: Integration) -> bool:
    """Whether the integration authorizes with OAuth 2.0 Connect (not client credentials)."""
    config = oauth_config_for(integration)
    return config is not None and config.needs_connect


def _settings_rows(integration: Integration, preset: Preset | None) -> list[dict[str, str]]:
    """The integration's settings for display; secrets only say whether they are set."""
    if preset is None:
        return [{"label": name, "value": str(value)} for name, value in integration.settings.items()]
    secrets = integration.secrets or {}
    rows = []
    for setting in preset.settings:
        if setting.kind == SettingKind.SECRET:
            value = SECRET_MASK if secrets.get(setting.name) else ""
        else:
            value = str(integration.settings.get(setting.name, ""))
            if setting.kind == SettingKind.CHOICE:
                value = dict(setting.choices).get(value, value)
        rows.append({"label": setting.label, "value": value})
    return rows


def _status_context(*, tenant: Tenant, integration: Integration) -> dict[str, Any]:
    preset = _preset_of(integration)
    stale = sync_is_stale(integration)
    return {
        "tenant": tenant,
        "integration": integration,
        "has_phone_data": bool(preset and preset.has_phone_data),
        # A sync whose worker died is not "under way": the page says so and offers Sync now.
        "syncing": integration.sync_state in (SyncState.QUEUED, SyncState.RUNNING) and not stale,
        "sync_stale": stale,
        "stale_message": STALE_MESSAGE,
        "held": integration.held_generation is not None,
        "uses_oauth": _needs_connect(integration),
        "oauth_connected": TOKEN_SECRET in (integration.secrets or {}),
    }


@tenant_admin_required
@require_GET
def integration_overview(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """The integration's settings, notification fields, status and scripts, with its actions."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    preset = _preset_of(integration)
    labels = {f.name: f.label for f in preset.all_fields} if preset else {}
    return render_page(
        request,
        "integrations/integration_overview.html",
        tenant=tenant,
        context={
            **_status_context(tenant=tenant, integration=integration),
            "preset": preset,
            "settings_rows": _settings_rows(integration, preset),
            "notification_fields": [labels.get(name, name) for name in integration.notification_fields],
            "scripts": script_list(tenant=tenant, integration=integration),
            **_history_context(tenant=tenant, integration=integration),
            "applies_labels": APPLIES_LABELS,
            "active_integration_id": integration.pk,
            **_lookup_context(integration, preset),
            **_numbers_context(tenant=tenant, integration=integration),
            **phonebook_overview_context(tenant=tenant, integration=integration),
        },
    )


def _history_context(*, tenant: Tenant, integration: Integration) -> dict[str, Any]:
    """The overview's sync history: the last 20 runs for the table, and their chart."""
    runs = list(sync_run_list(tenant=tenant, integration=integration))
    return {"sync_runs": runs, "sync_chart": sync_chart(runs)}


def _numbers_context(*, tenant: Tenant, integration: Integration) -> dict[str, Any]:
    """The overview's number reading (region, fallback) and the numbers the last sync could not read."""
    unreadable = current_unreadable_numbers(integration.pk).filter(tenant=tenant)
    count = unreadable.count()
    return {
        "regions": sorted(phonenumbers.SUPPORTED_REGIONS),
        "unreadable_count": count,
        "unreadable_capped": count >= settings.UNREADABLE_NUMBERS_MAX,
        "unreadable_numbers": [
            {
                "name": row.record_name or row.record_id,
                "link": row.record_url if row.record_url.lower().startswith(("https://", "http://")) else "",
                "raw_text": row.raw_text,
                "reason": problem_text(row.reason),
            }
            for row in unreadable[:UNREADABLE_SHOWN]
        ],
        "unreadable_shown": UNREADABLE_SHOWN,
    }


def _lookup_context(integration: Integration, preset: Preset | None) -> dict[str, Any]:
    """The overview's "Matching" card: cached or live, and why live is not possible ("" if it is)."""
    connector_class = preset.connector_class if preset else None
    if connector_class is None or connector_class is PhoneBookConnector:
        return {"lookup_card": False}
    problem = (
        connector_class.lookup_problem({**(integration.settings or {}), **(integration.secrets or {})})
        if connector_class.supports_lookup
        else _("%(preset)s cannot be searched by phone number: it can only be synced.")
        % {"preset": preset.name if preset else _("This CRM")}
    )
    return {
        "lookup_card": True,
        "lookup_live": integration.lookup_mode == LookupMode.LIVE,
        "lookup_problem": problem,
    }


@tenant_admin_required
@require_POST
def integration_lookup_mode(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Switch between matching against the phone cache and asking the CRM live, per call."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    mode = request.POST.get("lookup_mode", "")
    try:
        integration_set_lookup_mode(tenant=tenant, integration=integration, mode=mode)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if mode == LookupMode.LIVE:
            messages.success(
                request, _("Calls are now matched by asking the CRM live; the phone cache is not used.")
            )
        else:
            messages.success(request, _("Calls are now matched against the phone cache, synced every night."))
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_numbers(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Save the Matching card's number reading: the CRM's region and the main-number fallback."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    try:
        integration_set_number_reading(
            tenant=tenant,
            integration=integration,
            region=request.POST.get("region", "")[:10],
            fallback_to_main_number=request.POST.get("fallback_to_main_number") == "on",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Number reading saved; a changed country applies from the next sync."))
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_sample(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """ "Fetch a sample": the first records the CRM lists, as the sync would cache them."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    preset = _preset_of(integration)
    records: list[Any] = []
    error = ""
    if preset is None or preset.connector_class is None or preset.connector_class is PhoneBookConnector:
        error = "This integration has no CRM to fetch records from."
    else:
        try:
            records = integration_sample_records(
                preset=preset,
                settings_values={**connector_settings(integration)},
                country=integration.region or tenant.country,
            )
        except ConnectorError as exc:
            error = exc.message
    return render_page(
        request,
        "integrations/integration_sample.html",
        tenant=tenant,
        context={
            "integration": integration,
            "records": records,
            "error": error,
            "active_integration_id": integration.pk,
        },
    )


@tenant_admin_required
@require_GET
def integration_status(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """The overview's status block alone; it polls itself every 2 s while a sync is queued or running.

    The answer also carries the sidebar's integrations and the sync history (table and chart) out of
    band (htmx `hx-swap-oob`), so that they follow the sync too; the poll stops with the block that
    no longer polls once the sync has ended.
    """
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    context = {
        **_status_context(tenant=tenant, integration=integration),
        **_history_context(tenant=tenant, integration=integration),
        "sidebar_integrations": sidebar_integrations(tenant=tenant),
        "active_integration_id": integration.pk,
    }
    return TemplateResponse(request, "integrations/_status_poll.html", context)


@tenant_admin_required
@require_POST
def integration_sync(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Queue a sync ("Sync now") unless one is already queued or running."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    preset = _preset_of(integration)
    if preset is None or not preset.has_phone_data:
        messages.info(request, _("This integration has no phone data to sync."))
    elif integration_sync_request(tenant=tenant, integration=integration):
        messages.success(request, _("Sync started; the status below follows its progress."))
    else:
        messages.warning(request, _("A sync is already queued or running; it was not started twice."))
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_hold_accept_view(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """ "Accept the new result": the held sync's numbers become the live phone cache."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    if integration_hold_accept(tenant=tenant, integration=integration):
        messages.success(
            request,
            _("The new result was accepted: %(numbers)s phone numbers are cached now.")
            % {"numbers": integration.cached_numbers},
        )
    else:
        messages.info(request, _("There is no held sync result to accept (any more)."))
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_hold_reject_view(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """ "Keep the old one": the held sync's result is dropped, the old phone cache stays."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    if integration_hold_reject(tenant=tenant, integration=integration):
        messages.success(
            request,
            _("The old phone cache is kept (%(numbers)s phone numbers); the next sync checks the CRM again.")
            % {"numbers": integration.cached_numbers},
        )
    else:
        messages.info(request, _("There is no held sync result to reject (any more)."))
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_enable(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Re-enable a disabled integration: its matches and scripts are offered again."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    integration_set_enabled(tenant=tenant, integration=integration, enabled=True)
    messages.success(
        request, _("%(name)s is enabled; its matches are shown again.") % {"name": integration.name}
    )
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_POST
def integration_disable(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Disable an integration: its matches are suppressed, nothing is removed."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    integration_set_enabled(tenant=tenant, integration=integration, enabled=False)
    messages.success(
        request,
        _("%(name)s is disabled; its matches are suppressed. No settings or cached data were removed.")
        % {"name": integration.name},
    )
    return redirect("integration-overview", integration_id=integration.pk)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_delete_view(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Confirm by typing the name, then erase the integration, its scripts and cached numbers."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    form = IntegrationDeleteForm(request.POST or None, expected_name=integration.name)
    if request.method == "POST" and form.is_valid():
        name = integration.name
        integration_delete(tenant=tenant, integration=integration)
        messages.success(
            request,
            _("%(name)s is deleted, with its settings, scripts and cached phone numbers.") % {"name": name},
        )
        return redirect("home")
    return render_page(
        request,
        "integrations/integration_delete.html",
        tenant=tenant,
        context={
            "integration": integration,
            "form": form,
            "active_integration_id": integration.pk,
        },
    )
