"""Edit an integration: its name, settings, credentials and call notification fields.

Thin like the other screens: the view resolves the tenant's integration (404 for another
tenant's id), collects the form, and calls `integrations.services.integration_update`, which
decides what the change means for the phone cache. One page that works without JavaScript:
"Test connection" and the notification fields' up/down buttons post the same form and render
it again with everything entered kept (a typed password too; the stored one is never sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from configurator.forms import BootstrapFormMixin
from configurator.frame import render_page, tenant_admin_required
from integrations.connectors.phonebook import INTEGRATION_ID_SETTING
from integrations.forms import PresetSettingsForm, order_move
from integrations.models import Integration
from integrations.oauth import TOKEN_SECRET, oauth_config_for
from integrations.presets import Preset
from integrations.registry import find_preset
from integrations.services import (
    IntegrationUpdate,
    integration_settings_clean,
    integration_update,
)
from integrations.ui_helpers import _integration_or_404, _put_errors, _test_connection
from tenants.models import Tenant


class IntegrationEditForm(BootstrapFormMixin, forms.Form):
    """The integration's name; the settings and notification fields have their own parts."""

    name = forms.CharField(
        max_length=100,
        label=gettext_lazy("Integration name"),
        help_text=gettext_lazy("Shown in the sidebar and the matching API's answers."),
    )


@dataclass(frozen=True)
class NotificationFieldRow:
    """One record field in the notification list: shown or not, in the list's order."""

    name: str
    label: str
    chosen: bool
    first: bool
    last: bool


def notification_order(
    *, preset: Preset, data: QueryDict | None, stored: list[str]
) -> tuple[list[str], set[str]]:
    """The notification list's order (every field of the preset once) and the chosen names.

    From the posted form (`field_order` repeated in list order, `notification_fields` the
    ticked ones) when there is one, else from the integration's stored fields (first, in their
    order) followed by the preset's other fields. Unknown or repeated names are dropped.
    """
    known = [f.name for f in preset.all_fields]
    if data is None:
        head = [name for name in stored if name in known]
        chosen = set(head)
    else:
        head = list(dict.fromkeys(n for n in data.getlist("field_order") if n in known))
        chosen = {n for n in data.getlist("notification_fields") if n in known}
    order = head + [name for name in known if name not in head]
    return order, chosen


def _settings_to_test(
    *, preset: Preset, integration: Integration, settings_form: PresetSettingsForm
) -> dict[str, str] | None:
    """The entered settings, the stored secrets standing in for those left empty.

    None when they do not clean: the errors are then on `settings_form`'s fields.
    """
    stored = dict(integration.secrets or {})
    try:
        plain, secrets = integration_settings_clean(
            preset=preset, values=settings_form.values(), keep_secrets=stored
        )
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            for error in errors:
                settings_form.add_error(name if name in settings_form.fields else None, error)
        return None
    return {**stored, **plain, **secrets, INTEGRATION_ID_SETTING: str(integration.pk)}


def _saved_message(result: IntegrationUpdate, preset: Preset) -> str:
    if not result.changed:
        return "Nothing was changed."
    if result.source_changed:
        if result.sync_queued:
            return _(
                "Saved; a full sync has started; it replaces the cached numbers once it is complete, "
                "and the old ones answer calls until then."
            )
        return _("Saved; the next sync replaces the cached numbers.")
    if result.sync_queued:
        return "Saved; a sync with the new credentials has started. The cached numbers are kept."
    if preset.has_phone_data:
        return "Saved. The cached numbers are kept."
    return "Saved."


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_edit(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Edit the integration: settings (secrets write-only), name, notification fields and order.

    POST `action`: "save" (default) saves through `integration_update` and returns to the
    overview; "test" tests the connection with what is entered; `move` ("up:Name"/"down:Name")
    moves a notification field. The last two render the form again and save nothing.
    """
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    preset = find_preset(integration.preset)
    if preset is None:
        messages.error(
            request,
            _("Preset “%(preset)s” is no longer in the catalog; it cannot be edited.")
            % {"preset": integration.preset},
        )
        return redirect("integration-overview", integration_id=integration.pk)

    connection: dict[str, Any] | None = None
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        form = IntegrationEditForm(request.POST)
        settings_form = PresetSettingsForm(request.POST, preset=preset, prefix="settings", keep_secrets=True)
        order, chosen = notification_order(preset=preset, data=request.POST, stored=[])
        move = request.POST.get("move", "")
        action = "move" if move else request.POST.get("action", "save")
        forms_valid = form.is_valid() & settings_form.is_valid()
        if action == "move":
            order = order_move(order, move)
        elif action == "test" and settings_form.is_valid():
            values = (
                _settings_to_test(preset=preset, integration=integration, settings_form=settings_form)
                if preset.has_phone_data
                else {}
            )
            connection = (
                {"ok": False, "message": _("Not tested: correct the settings marked below first.")}
                if values is None
                else _test_connection(preset=preset, settings_values=values, integration=integration)
            )
        elif action == "save" and forms_valid:
            try:
                result = integration_update(
                    tenant=tenant,
                    integration=integration,
                    name=form.cleaned_data["name"],
                    settings_values=settings_form.values(),
                    notification_fields=[n for n in order if n in chosen] if preset.has_phone_data else None,
                )
            except ValidationError as exc:
                field_errors = _put_errors(exc, settings_form, form, collect_unknown=True)
            else:
                messages.success(request, _saved_message(result, preset))
                return redirect("integration-overview", integration_id=integration.pk)
    else:
        form = IntegrationEditForm(initial={"name": integration.name})
        initial = {name: str(value) for name, value in (integration.settings or {}).items()}
        settings_form = PresetSettingsForm(
            preset=preset, prefix="settings", keep_secrets=True, initial=initial
        )
        order, chosen = notification_order(
            preset=preset, data=None, stored=list(integration.notification_fields)
        )

    labels = {f.name: f.label for f in preset.all_fields}
    rows = [
        NotificationFieldRow(name, labels[name], name in chosen, index == 0, index == len(order) - 1)
        for index, name in enumerate(order)
    ]
    oauth = oauth_config_for(integration)
    return render_page(
        request,
        "integrations/integration_edit.html",
        tenant=tenant,
        context={
            "integration": integration,
            "preset": preset,
            "form": form,
            "settings_form": settings_form,
            "notification_rows": rows,
            "notification_error": field_errors.get("notification_fields", ""),
            "other_errors": [v for k, v in field_errors.items() if k != "notification_fields"],
            "connection": connection,
            "uses_oauth": oauth is not None and oauth.needs_connect,
            "oauth_connected": TOKEN_SECRET in (integration.secrets or {}),
            "active_integration_id": integration.pk,
        },
    )
