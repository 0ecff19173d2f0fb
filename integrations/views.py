"""Views of the integration and script screens: add an integration, its overview, scripts.

Thin: each view resolves the tenant's rows (404 for another tenant's ids), calls a service and
renders. Every view is wrapped in `tenant_admin_required`, which passes the tenant.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import scripts_engine
from configurator.views import example_caller_number, render_page, sidebar_integrations, tenant_admin_required
from integrations.calls import Call, CallInputError, call_from_params
from integrations.connectors.base import ConnectorError
from integrations.connectors.phonebook import PhoneBookConnector
from integrations.forms import (
    APPLIES_LABELS,
    IntegrationDeleteForm,
    IntegrationForm,
    PresetSettingsForm,
    ScriptForm,
)
from integrations.models import (
    BodyEncoding,
    CallEvent,
    HttpMethod,
    Integration,
    LookupMode,
    Script,
    ScriptKind,
    SyncState,
)
from integrations.oauth import TOKEN_SECRET, NotConnectedError, oauth_config_for, preset_oauth_config
from integrations.phonebook_views import phonebook_overview_context
from integrations.presets import Preset, ScriptApplies, SettingKind
from integrations.registry import PRESETS, UnknownPresetError, find_preset, get_preset
from integrations.selectors import (
    integration_get,
    integration_list,
    script_get,
    script_list,
    sync_run_list,
)
from integrations.server_scripts import server_request_render, server_request_validate
from integrations.services import (
    integration_create,
    integration_delete,
    integration_hold_accept,
    integration_hold_reject,
    integration_sample_records,
    integration_set_enabled,
    integration_set_lookup_mode,
    integration_set_number_reading,
    integration_settings_clean,
    integration_sync_request,
    integration_test_connection,
    script_create,
    script_delete,
    script_update,
    script_validate,
)
from integrations.sync import STALE_MESSAGE, connector_settings, current_unreadable_numbers, sync_is_stale
from integrations.sync_chart import sync_chart
from tenants.models import Tenant

# The overview lists this many unreadable numbers; the rest are counted.
UNREADABLE_SHOWN = 200
SECRET_MASK = "••••••"  # noqa: S105 - what the overview shows instead of a secret

# The sample record of the script preview; other fields of the preset render as "Sample <Name>".
SAMPLE_RECORD: dict[str, str] = {
    "DisplayName": "Jan Jansen",
    "Identifier": "ACC-1001",
    "PopUpUri": "https://crm.example.com/contacts/1001",
    "Email": "jan@example.com",
    "Company": "Acme BV",
}


def _needs_connect(integration: Integration) -> bool:
    """Whether the integration authorizes with OAuth 2.0 Connect (not client credentials)."""
    config = oauth_config_for(integration)
    return config is not None and config.needs_connect


def _integration_or_404(*, tenant: Tenant, integration_id: int) -> Integration:
    try:
        return integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        raise Http404("No such integration.") from None


def _script_or_404(*, tenant: Tenant, script_id: int) -> Script:
    try:
        return script_get(tenant=tenant, script_id=script_id)
    except Script.DoesNotExist:
        raise Http404("No such script.") from None


def _preset_of(integration: Integration) -> Preset | None:
    """The integration's preset, or None if the catalog no longer has it."""
    return find_preset(integration.preset)


def _search_text(preset: Preset) -> str:
    return " ".join((preset.name, preset.description, *preset.keywords)).casefold()


def preset_matches(preset: Preset, query: str) -> bool:
    """Whether every word of `query` occurs in the preset's name, description or keywords (any case)."""
    text = _search_text(preset)
    return all(word in text for word in query.casefold().split())


def _put_errors(exc: ValidationError, *targets: forms.Form) -> None:
    """Show a service's `ValidationError` on the field it names, in the first form that has it."""
    if not hasattr(exc, "error_dict"):
        targets[0].add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form = next((f for f in targets if name in f.fields), None)
        for error in errors:
            if form is None:
                targets[0].add_error(None, error)
            else:
                form.add_error(name, error)


def _unused_name(*, tenant: Tenant, base: str) -> str:
    """`base`, or "base 2", "base 3"… if the tenant already has an integration of that name."""
    taken = set(integration_list(tenant=tenant).values_list("name", flat=True))
    name, number = base, 2
    while name in taken:
        name, number = f"{base} {number}", number + 1
    return name


# Presets -----------------------------------------------------------------------------------


@tenant_admin_required
@require_GET
def preset_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Every preset as a tile; `?q=` filters on the server, static/app/ui.js as you type."""
    query = request.GET.get("q", "").strip()
    tiles = [
        {"preset": preset, "search": _search_text(preset)}
        for preset in PRESETS
        if preset_matches(preset, query)
    ]
    return render_page(
        request,
        "integrations/preset_list.html",
        tenant=tenant,
        context={"tiles": tiles, "query": query, "preset_count": len(PRESETS), "active": "integration-add"},
    )


def _test_connection(*, preset: Preset, settings_values: dict[str, str]) -> dict[str, Any]:
    """Run the connection test; returns {"ok": bool, "message": str} for the page."""
    if not preset.has_phone_data:
        return {
            "ok": True,
            "message": _("%(preset)s has no API to test: its script passes the call to the CRM.")
            % {"preset": preset.name},
        }
    try:
        integration_test_connection(preset=preset, settings_values=settings_values)
    except NotConnectedError:
        return {
            "ok": True,
            "message": _(
                "The settings are usable; after creating, Connect grants the app access in the CRM."
            ),
        }
    except ConnectorError as exc:
        return {"ok": False, "message": exc.message}
    return {"ok": True, "message": _("Connection OK: the CRM answered with these settings.")}


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_add(request: HttpRequest, tenant: Tenant, preset_slug: str) -> HttpResponse:
    """One page to configure a preset: settings, name, notification fields; test and create.

    "Create integration" tests the connection first for presets with phone data and creates
    nothing if it fails.
    """
    try:
        preset = get_preset(preset_slug)
    except UnknownPresetError:
        raise Http404("No such preset.") from None

    connection: dict[str, Any] | None = None
    if request.method == "POST":
        form = IntegrationForm(request.POST, preset=preset)
        settings_form = PresetSettingsForm(request.POST, preset=preset, prefix="settings")
        action = request.POST.get("action", "create")
        forms_valid = form.is_valid() & settings_form.is_valid()  # both, to show all errors
        try:
            plain, secrets = integration_settings_clean(preset=preset, values=settings_form.values())
        except ValidationError as exc:
            _put_errors(exc, settings_form, form)
        else:
            if action == "test" or preset.has_phone_data:
                connection = _test_connection(preset=preset, settings_values={**plain, **secrets})
            if action == "create" and forms_valid and connection is not None and not connection["ok"]:
                connection["message"] = _("Not created: %(reason)s") % {"reason": connection["message"]}
            elif action == "create" and forms_valid:
                fields = form.ordered_notification_fields() if preset.has_phone_data else None
                # OAuth: no token yet; the first sync waits for Connect, which runs next.
                oauth = preset_oauth_config(preset.connector_class, plain)
                uses_oauth = oauth is not None and oauth.needs_connect
                try:
                    integration = integration_create(
                        tenant=tenant,
                        preset_slug=preset.slug,
                        name=form.cleaned_data["name"],
                        settings_values=settings_form.values(),
                        notification_fields=fields,
                        start_sync=not uses_oauth,
                    )
                except ValidationError as exc:
                    _put_errors(exc, form, settings_form)
                else:
                    if uses_oauth:
                        messages.success(request, _("Integration created; grant the app access in the CRM."))
                        return redirect("integration-oauth-connect", integration_id=integration.pk)
                    if preset.has_phone_data:
                        messages.success(request, _("Integration created; the first sync has started."))
                    else:
                        messages.success(request, _("Integration created; its script is ready to use."))
                    return redirect("integration-overview", integration_id=integration.pk)
    else:
        form = IntegrationForm(preset=preset, initial={"name": _unused_name(tenant=tenant, base=preset.name)})
        settings_form = PresetSettingsForm(preset=preset, prefix="settings")

    return render_page(
        request,
        "integrations/integration_add.html",
        tenant=tenant,
        context={
            "preset": preset,
            "form": form,
            "settings_form": settings_form,
            "connection": connection,
            "default_scripts": preset.default_scripts,
            "active": "integration-add",
        },
    )


# Integration overview ----------------------------------------------------------------------


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
                "reason": row.reason,
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


# Scripts -----------------------------------------------------------------------------------


def _script_return_url(integration: Integration | None) -> str:
    if integration is None:
        return reverse("home")
    return reverse("integration-overview", kwargs={"integration_id": integration.pk})


def _script_form_page(
    request: HttpRequest, tenant: Tenant, *, integration: Integration | None, script: Script | None
) -> HttpResponse:
    """Add (script None) or edit a tenant-wide (integration None) or integration script.

    An htmx request gets the script dialog's content (integrations/_script_dialog.html) instead of
    the page: the same form, posted back with htmx; a saved script answers `HX-Refresh` so that the
    page under the dialog shows it (and the message).
    """
    dialog = bool(getattr(request, "htmx", False))
    auto_id = "dialog_%s" if dialog else "id_%s"
    preview: dict[str, Any] | None = None
    if request.method == "POST" and "preview" in request.POST:
        # The preview without JavaScript: the same page, the form as typed, nothing saved.
        form = ScriptForm(request.POST, auto_id=auto_id)
        preview = _preview_context(request.POST, tenant, integration=integration)
    elif request.method == "POST":
        form = ScriptForm(request.POST, auto_id=auto_id)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if script is None:
                    script_create(tenant=tenant, integration=integration, **data)
                else:
                    script_update(tenant=tenant, script=script, **data)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    _put_errors(exc, form)
                else:
                    form.add_error("template", exc)
            else:
                name = data["name"].strip()
                done = _("Script “%(name)s” added.") if script is None else _("Script “%(name)s” saved.")
                messages.success(request, done % {"name": name})
                if dialog:
                    return HttpResponse(headers={"HX-Refresh": "true"})
                return redirect(_script_return_url(integration))
    elif script is not None:
        form = ScriptForm(
            auto_id=auto_id,
            initial={
                "name": script.name,
                "template": script.template,
                "applies": script.applies,
                "auto_open": script.auto_open,
                "kind": script.kind,
                "http_method": script.http_method,
                "request_headers": script.request_headers,
                "body_template": script.body_template,
                "body_encoding": script.body_encoding,
                "on_events": script.on_events,
            },
        )
    else:
        # Record scripts pop on a match; the others (tenant-wide, screen-pop-only presets) are
        # usually searches or "pass the call on" links that make sense for every call.
        preset = _preset_of(integration) if integration is not None else None
        default_applies = ScriptApplies.ON_MATCH if preset and preset.has_phone_data else ScriptApplies.ALWAYS
        form = ScriptForm(auto_id=auto_id, initial={"applies": default_applies.value})

    preset = _preset_of(integration) if integration is not None else None
    if integration is None:
        preview_url = reverse("script-preview")
    else:
        preview_url = reverse("integration-script-preview", kwargs={"integration_id": integration.pk})
    # Live validation and preview: htmx posts the form to the preview endpoint as the URL changes.
    for name in ("template", "request_headers", "body_template"):
        form.fields[name].widget.attrs.update(
            {
                "data-insert-target": "",
                "hx-post": preview_url,
                "hx-trigger": "input changed delay:300ms" + (", load" if name == "template" else ""),
                "hx-target": "#script-dialog-preview" if dialog else "#script-preview",
                "hx-include": "closest form",
                "hx-sync": "this:replace",
            }
        )
    context: dict[str, Any] = {
        "form": form,
        "script": script,
        "integration": integration,
        "preset": preset,
        "call_properties": [p.name for p in scripts_engine.CALL_PROPERTIES[:7]],
        "record_fields": list(preset.all_fields) if preset else [],
        "preview_url": preview_url,
        "preview": preview,
        "server_timeout": f"{float(settings.SERVER_SCRIPT_TIMEOUT_SECONDS):g}",
        "cancel_url": _script_return_url(integration),
        "active": "script-add" if integration is None else "",
        "active_integration_id": integration.pk if integration is not None else None,
    }
    if dialog:
        if script is not None:
            title = _("Edit script “%(name)s”") % {"name": script.name}
        elif integration is not None:
            title = _("Add Script to %(name)s") % {"name": integration.name}
        else:
            title = _("Add New Script")
        context.update(
            {
                "tenant": tenant,
                "dialog_title": title,
                "action_url": request.path,
                "fields_template": "integrations/_script_fields.html",
                "submit_label": _("Save script") if script is not None else _("Add script"),
                "preview_name": "preview",
                "preview_value": "1",
                "intro": _script_intro(integration, preset),
            }
        )
        return TemplateResponse(request, "integrations/_script_dialog.html", context)
    return render_page(request, "integrations/script_form.html", tenant=tenant, context=context)


def _script_intro(integration: Integration | None, preset: Preset | None) -> str:
    """The dialog's line on what a script can use (the page says the same above its form)."""
    if integration is None:
        return _(
            "A tenant-wide script is offered for every call; it can use the call properties, such as "
            "#(Caller number)."
        )
    if preset is not None and preset.all_fields:
        return _(
            "Besides the call properties it can use the fields of the matched %(name)s record, like "
            "$(DisplayName)."
        ) % {"name": preset.name}
    return ""


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def script_add(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Add a tenant-wide script (call properties only)."""
    return _script_form_page(request, tenant, integration=None, script=None)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_script_add(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Add a script to an integration (record fields allowed for presets with phone data)."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    return _script_form_page(request, tenant, integration=integration, script=None)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def script_edit(request: HttpRequest, tenant: Tenant, script_id: int) -> HttpResponse:
    """Edit one of the tenant's scripts."""
    script = _script_or_404(tenant=tenant, script_id=script_id)
    return _script_form_page(request, tenant, integration=script.integration, script=script)


@tenant_admin_required
@require_POST
def script_delete_view(request: HttpRequest, tenant: Tenant, script_id: int) -> HttpResponse:
    """Delete one of the tenant's scripts."""
    script = _script_or_404(tenant=tenant, script_id=script_id)
    integration = script.integration
    script_delete(tenant=tenant, script=script)
    messages.success(request, _("Script “%(name)s” deleted.") % {"name": script.name})
    return redirect(_script_return_url(integration))


def sample_call(*, tenant: Tenant) -> Call:
    """The call the script preview renders for: Jan Jansen calling device 201 on a DDI, now.

    Numbers are of the tenant's country ("+31201234567" and "+31207654321" for NL).
    """
    caller = example_caller_number(country=tenant.country)
    if tenant.country == "NL":
        ddi = "+31207654321"
    else:
        ddi = caller[:-4] + ("9876" if caller[-4:] != "9876" else "1234")
    params = {
        "caller_number": caller,
        "caller_name": "Jan Jansen",
        "device_number": "201",
        "device_name": "Reception",
        "ddi_number": ddi,
        "ddi_name": "Sales",
        "call_id": "1001",
        "direction": "in",
    }
    try:
        return call_from_params(tenant=tenant, params=params)
    except CallInputError:
        # A country whose example DDI is not a possible number: use the caller's.
        return call_from_params(tenant=tenant, params={**params, "ddi_number": caller})


def sample_record(preset: Preset) -> dict[str, str]:
    """The record the preview renders integration scripts for: Jan Jansen of Acme BV."""
    return {f.name: SAMPLE_RECORD.get(f.name, f"Sample {f.name}") for f in preset.all_fields}


def _preview(request: HttpRequest, tenant: Tenant, *, integration: Integration | None) -> HttpResponse:
    context = _preview_context(request.POST, tenant, integration=integration)
    return TemplateResponse(request, "integrations/_script_preview.html", context)


def _preview_context(
    data: Any, tenant: Tenant, *, integration: Integration | None, preset: Preset | None = None
) -> dict[str, Any]:
    """What the preview shows for the typed script: its error with the position, or the link (or
    the request the server would send) for the sample call and record.

    `preset` stands in for the integration's when there is none yet (the wizard's scripts step).
    """
    source = data.get("template", "")
    applies = data.get("applies", "")
    if applies not in {a.value for a in ScriptApplies}:
        applies = ScriptApplies.ON_MATCH.value
    if integration is not None:
        preset = _preset_of(integration)
    context: dict[str, Any] = {"source": source, "tenant": tenant}
    if not source.strip():
        context["empty"] = True
        return context
    call = sample_call(tenant=tenant)
    uses_record = preset is not None and preset.has_phone_data and applies != ScriptApplies.ON_NO_MATCH
    record = sample_record(preset) if preset is not None and uses_record else None
    sample = {
        "call": call,
        "caller_number_shown": scripts_engine.format_phone(call.caller_number, None, tenant.country),
        # strftime, not the |date filter: Django drops the zone name of a time in the
        # ambiguous fall-back hour, where the name (CEST or CET) is exactly what tells them apart.
        "start_time_shown": call.start_time.strftime("%Y-%m-%d %H:%M:%S %Z") if call.start_time else "",
        "record": record,
    }
    if data.get("kind") == ScriptKind.SERVER_REQUEST:
        return _server_request_preview(data, context, preset=preset, applies=applies, sample=sample)
    try:
        template = script_validate(tenant=tenant, preset=preset, template=source, applies=applies)
    except ValidationError as exc:
        context["error"] = exc.messages[0]
        cause = exc.__cause__
        if isinstance(cause, scripts_engine.TemplateError):
            position = min(max(cause.position, 0), len(source))
            context["error"] = cause.message
            context["error_character"] = position + 1
            context["before"] = source[:position]
            context["at"] = source[position : position + 1] or " "
            context["after"] = source[position + 1 :]
        return context
    link = scripts_engine.render(
        template,
        call=call.properties(),
        record=record,
        country=tenant.country,
        extra_schemes=tenant.extra_schemes,
    )
    context.update({"link": link, "scheme_refused": link is None, **sample})
    return context


def _server_request_preview(
    data: Any, context: dict[str, Any], *, preset: Preset | None, applies: str, sample: dict[str, Any]
) -> dict[str, Any]:
    """The request the server would send for the sample call, or every problem of the script."""
    events = data.getlist("on_events") if hasattr(data, "getlist") else list(data.get("on_events", []))
    values = {
        "http_method": data.get("http_method") or HttpMethod.POST.value,
        "request_headers": data.get("request_headers", ""),
        "body_template": data.get("body_template", ""),
        "body_encoding": data.get("body_encoding") or BodyEncoding.JSON.value,
    }
    try:
        server_request_validate(
            preset=preset,
            url=context["source"],
            applies=applies,
            on_events=events or [CallEvent.START.value],
            **values,
        )
    except ValidationError as exc:
        context["errors"] = [message for messages in exc.message_dict.values() for message in messages]
        return context
    script = Script(template=context["source"].strip(), **values)
    call = sample["call"]
    rendered = server_request_render(
        script=script, call_json=call.as_json(), record=sample["record"], country=context["tenant"].country
    )
    context.update({"server_request": rendered.as_json(), **sample})
    return context


@tenant_admin_required
@require_POST
def script_preview(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Validate a tenant-wide script's template and render it for the sample call (htmx fragment)."""
    return _preview(request, tenant, integration=None)


@tenant_admin_required
@require_POST
def integration_script_preview(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Validate an integration script's template and render it for the sample call and record."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    return _preview(request, tenant, integration=integration)
