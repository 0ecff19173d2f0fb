"""Views of the script dialog: add, edit and delete a script, and its live preview.

Thin: each view resolves the tenant's rows (404 for another tenant's ids), calls a service and
renders. Every view is wrapped in `tenant_admin_required`, which passes the tenant.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

import scripts_engine
from configurator.frame import render_page, tenant_admin_required
from integrations.forms import ScriptForm
from integrations.models import Integration, Script
from integrations.presets import Preset, ScriptApplies
from integrations.selectors import script_get
from integrations.services import script_create, script_delete, script_update
from integrations.ui_helpers import _integration_or_404, _preset_of, _preview_context, _put_errors
from tenants.models import Tenant


def _script_or_404(*, tenant: Tenant, script_id: int) -> Script:
    try:
        return script_get(tenant=tenant, script_id=script_id)
    except Script.DoesNotExist:
        raise Http404("No such script.") from None


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


def _preview(request: HttpRequest, tenant: Tenant, *, integration: Integration | None) -> HttpResponse:
    context = _preview_context(request.POST, tenant, integration=integration)
    return TemplateResponse(request, "integrations/_script_preview.html", context)


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
