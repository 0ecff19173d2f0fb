"""Views of the preset catalog: the list of presets and the one-page "add an integration" form.

Thin: each view calls a service and renders. Every view is wrapped in `tenant_admin_required`,
which passes the tenant.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from configurator.frame import render_page, tenant_admin_required
from integrations.forms import IntegrationForm, PresetSettingsForm
from integrations.oauth import preset_oauth_config
from integrations.registry import PRESETS, UnknownPresetError, get_preset
from integrations.services import integration_create, integration_settings_clean
from integrations.ui_helpers import _put_errors, _search_text, _test_connection, _unused_name, preset_matches
from tenants.models import Tenant


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
