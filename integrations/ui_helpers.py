"""Helpers the integration screens share (overview, scripts, presets, the wizard and the edit page).

The tenant's integration or a 404, a service's `ValidationError` shown on the forms' fields, the
connection test, the sample call and record the script previews render, and the preview itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

import scripts_engine
from configurator.frame import example_caller_number
from integrations.calls import Call, CallInputError, call_from_params
from integrations.connectors.base import ConnectorError
from integrations.models import BodyEncoding, CallEvent, HttpMethod, Integration, Script, ScriptKind
from integrations.oauth import NotConnectedError
from integrations.presets import Preset, ScriptApplies
from integrations.registry import find_preset
from integrations.selectors import integration_get, integration_list
from integrations.server_scripts import server_request_render, server_request_validate
from integrations.services import integration_test_connection, script_validate
from tenants.models import Tenant

SECRET_MASK = "••••••"  # noqa: S105 - what the overview shows instead of a secret


# The sample record of the script preview; other fields of the preset render as "Sample <Name>".
SAMPLE_RECORD: dict[str, str] = {
    "DisplayName": "Jan Jansen",
    "Identifier": "ACC-1001",
    "PopUpUri": "https://crm.example.com/contacts/1001",
    "Email": "jan@example.com",
    "Company": "Acme BV",
}


def _integration_or_404(*, tenant: Tenant, integration_id: int) -> Integration:
    try:
        return integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        raise Http404("No such integration.") from None


def _preset_of(integration: Integration) -> Preset | None:
    """The integration's preset, or None if the catalog no longer has it."""
    return find_preset(integration.preset)


def _search_text(preset: Preset) -> str:
    return " ".join((preset.name, preset.description, *preset.keywords)).casefold()


def preset_matches(preset: Preset, query: str) -> bool:
    """Whether every word of `query` occurs in the preset's name, description or keywords (any case)."""
    text = _search_text(preset)
    return all(word in text for word in query.casefold().split())


def _put_errors(exc: ValidationError, *targets: forms.Form, collect_unknown: bool = False) -> dict[str, str]:
    """Show a service's `ValidationError` on the field it names, in the first form that has it.

    Errors on a field no form has (and errors on no field) go to the first form's non-field
    errors, or, with `collect_unknown`, into the returned {field name: messages joined by spaces}
    for the page to show where it wants (the edit page's notification list, say); without it the
    returned mapping is empty.
    """
    unknown: dict[str, str] = {}
    if not hasattr(exc, "error_dict"):
        if collect_unknown:
            unknown[NON_FIELD_ERRORS] = " ".join(exc.messages)
        else:
            targets[0].add_error(None, exc)
        return unknown
    for name, errors in exc.error_dict.items():
        form = next((f for f in targets if name in f.fields), None)
        if form is None and collect_unknown:
            unknown[name] = " ".join(ValidationError(errors).messages)
            continue
        for error in errors:
            if form is None:
                targets[0].add_error(None, error)
            else:
                form.add_error(name, error)
    return unknown


def _unused_name(*, tenant: Tenant, base: str) -> str:
    """`base`, or "base 2", "base 3"… if the tenant already has an integration of that name."""
    taken = set(integration_list(tenant=tenant).values_list("name", flat=True))
    name, number = base, 2
    while name in taken:
        name, number = f"{base} {number}", number + 1
    return name


def _test_connection(
    *, preset: Preset, settings_values: dict[str, str], integration: Integration | None = None
) -> dict[str, Any]:
    """Run the connection test with `settings_values`; returns {"ok": bool, "message": str} for the page.

    `integration` is the integration being edited (None while adding one): its OAuth grant is
    renewed with Reconnect rather than with Connect after creating. A preset without phone data
    has no API to test and is always "ok".
    """
    if not preset.has_phone_data:
        return {
            "ok": True,
            "message": _("%(preset)s has no API to test: its script passes the call to the CRM.")
            % {"preset": preset.name},
        }
    try:
        integration_test_connection(preset=preset, settings_values=settings_values)
    except NotConnectedError:
        if integration is not None:
            return {
                "ok": True,
                "message": _("The settings are usable; Reconnect grants the app access in the CRM."),
            }
        return {
            "ok": True,
            "message": _(
                "The settings are usable; after creating, Connect grants the app access in the CRM."
            ),
        }
    except ConnectorError as exc:
        return {"ok": False, "message": exc.message}
    return {"ok": True, "message": _("Connection OK: the CRM answered with these settings.")}


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


def _preview_context(
    data: Any,
    tenant: Tenant,
    *,
    integration: Integration | None,
    preset: Preset | None = None,
    record: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the preview shows for the typed script: its error with the position, or the link (or
    the request the server would send) for the sample call and record.

    `preset` stands in for the integration's when there is none yet (the wizard's scripts step);
    `record` (field name -> value) for the preset's example record (the wizard's record fetched
    from the CRM).
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
    if not uses_record:
        record = None
    elif record is None and preset is not None:
        record = sample_record(preset)
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
