"""Matching a call against the phone cache and rendering its notification and actions.

One call = one query on the phone cache (tenant + E.164 caller number, only enabled integrations'
current generation) plus one query for the tenant's scripts. Both queries check the tenant twice:
on the row and on its integration, so an integration moved to another tenant (Django admin) stops
matching for the old tenant at once, before its phone cache is synced again.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

import scripts_engine
from configurator.models import Tenant
from integrations.models import Integration, PhoneCacheEntry, Script
from integrations.phones import ANONYMOUS_CALLER_NUMBERS, PhoneNumberError, normalize_phone
from integrations.presets import ScriptApplies
from integrations.registry import find_preset

CALL_PARAMETERS = (
    "caller_number",
    "caller_name",
    "device_number",
    "device_name",
    "ddi_number",
    "ddi_name",
    "start_time",
    "call_id",
    "direction",
)
_MAX_LENGTH = {"caller_name": 200, "device_name": 200, "ddi_name": 200, "call_id": 200}
_DEFAULT_MAX_LENGTH = 64


class CallInputError(ValueError):
    """The call's parameters are wrong; `errors` maps each parameter name to what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class Call:
    """What the PBX told us about a call, normalized.

    `caller_number_e164` is None for withheld (`anonymous`) and internal short numbers;
    `start_time` is aware, in the tenant's time zone.
    """

    caller_number: str
    caller_number_e164: str | None
    anonymous: bool
    start_time: dt.datetime
    caller_name: str = ""
    device_number: str = ""
    device_name: str = ""
    ddi_number: str = ""
    ddi_name: str = ""
    call_id: str = ""
    direction: str = ""

    def as_json(self) -> dict[str, Any]:
        """The call as the matching API returns it."""
        return {
            "caller_number": self.caller_number,
            "caller_number_e164": self.caller_number_e164,
            "anonymous": self.anonymous,
            "caller_name": self.caller_name,
            "device_number": self.device_number,
            "device_name": self.device_name,
            "ddi_number": self.ddi_number,
            "ddi_name": self.ddi_name,
            "start_time": self.start_time.isoformat(timespec="seconds"),
            "call_id": self.call_id,
            "direction": self.direction,
        }

    def properties(self) -> scripts_engine.CallProperties:
        """The call as the template language sees it (`#(Caller number)` …)."""
        return scripts_engine.CallProperties(
            caller_name=self.caller_name,
            caller_number=self.caller_number_e164 or ("" if self.anonymous else self.caller_number),
            device_name=self.device_name,
            device_number=self.device_number,
            ddi_name=self.ddi_name,
            ddi_number=self.ddi_number,
            start_time=self.start_time,
            call_id=self.call_id,
            direction=self.direction,
        )


def _parse_start_time(value: str, *, tenant: Tenant) -> dt.datetime:
    if re.fullmatch(r"\d{1,12}(\.\d+)?", value):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).astimezone(tenant.zone)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(
            f'"{value}" is neither an ISO 8601 date-time (2026-11-21T10:15:00+01:00) nor Unix seconds'
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tenant.zone)
    return parsed.astimezone(tenant.zone)


def call_from_params(*, tenant: Tenant, params: Mapping[str, Any]) -> Call:
    """Read a call from the API's (or the CLI's) parameters.

    Raises `CallInputError` naming each wrong parameter: an unknown name, a missing or malformed
    `caller_number`, a bad `start_time` or `direction`, a value too long.
    """
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, raw in params.items():
        if name not in CALL_PARAMETERS:
            errors[name] = f"unknown parameter; the parameters are {', '.join(CALL_PARAMETERS)}"
            continue
        if isinstance(raw, list | tuple):
            raw = raw[-1] if raw else ""
        if raw is None:
            raw = ""
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            errors[name] = "must be a string"
            continue
        value = str(raw).strip()
        if len(value) > _MAX_LENGTH.get(name, _DEFAULT_MAX_LENGTH):
            errors[name] = f"is longer than {_MAX_LENGTH.get(name, _DEFAULT_MAX_LENGTH)} characters"
            continue
        values[name] = value

    caller_number = values.get("caller_number", "")
    e164: str | None = None
    anonymous = False
    if "caller_number" not in errors:
        if not caller_number:
            errors["caller_number"] = "is required; send anonymous for a withheld number"
        elif caller_number.lower() in ANONYMOUS_CALLER_NUMBERS:
            anonymous = True
        elif re.fullmatch(r"\*?\d{1,6}", caller_number):
            pass  # an internal extension: nothing in a CRM to match
        else:
            try:
                e164 = normalize_phone(caller_number, country=tenant.country).e164
            except PhoneNumberError as exc:
                errors["caller_number"] = str(exc)

    start_time = timezone.now().astimezone(tenant.zone)
    if values.get("start_time"):
        try:
            start_time = _parse_start_time(values["start_time"], tenant=tenant)
        except (ValueError, OverflowError, OSError) as exc:
            errors["start_time"] = str(exc)

    direction = values.get("direction", "").lower()
    if direction and direction not in {"in", "out"}:
        errors["direction"] = f'"{values["direction"]}" is not "in" or "out"'

    if errors:
        raise CallInputError(errors)
    return Call(
        caller_number=caller_number,
        caller_number_e164=e164,
        anonymous=anonymous,
        start_time=start_time,
        caller_name=values.get("caller_name", ""),
        device_number=values.get("device_number", ""),
        device_name=values.get("device_name", ""),
        ddi_number=values.get("ddi_number", ""),
        ddi_name=values.get("ddi_name", ""),
        call_id=values.get("call_id", ""),
        direction=direction,
    )


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> scripts_engine.Template | None:
    try:
        return scripts_engine.parse(template)
    except scripts_engine.TemplateError:
        return None  # validated when saved; a template broken since (e.g. a renamed field) yields nothing


@dataclass
class _Renderer:
    call: Call
    country: str
    extra_schemes: frozenset[str]
    props: scripts_engine.CallProperties = field(init=False)

    def __post_init__(self) -> None:
        self.props = self.call.properties()

    def action(self, script: Script, record: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        template = _parsed(script.template)
        if template is None:
            return None
        if record is None and template.record_field_keys:
            return None
        if self.call.anonymous and any(p.key == "callernumber" for p in template.placeholders):
            return None  # a search or callback for a withheld number is meaningless
        url = scripts_engine.render(
            template, call=self.props, record=record, country=self.country, extra_schemes=self.extra_schemes
        )
        if url is None:
            return None
        return {"script_id": script.pk, "name": script.name, "url": url, "auto_open": script.auto_open}


def _applies(script: Script, *, matched: bool) -> bool:
    if script.applies == ScriptApplies.ALWAYS:
        return True
    return (script.applies == ScriptApplies.ON_MATCH) == matched


def match_call(*, tenant: Tenant, call: Call) -> dict[str, Any]:
    """Match `call` in the tenant's enabled integrations and render the answer.

    Returns the matching API's JSON: `{"call": {...}, "matches": [...], "actions": [...]}` with
    matches ordered by integration order, then the preset's record-type order, then name.
    """
    entries: list[PhoneCacheEntry] = []
    if call.caller_number_e164:
        entries = list(
            PhoneCacheEntry.objects.filter(
                tenant=tenant,
                integration__tenant=tenant,
                e164=call.caller_number_e164,
                integration__enabled=True,
                generation=F("integration__cache_generation"),
            ).select_related("integration")
        )
    scripts = list(
        Script.objects.filter(tenant=tenant)
        .filter(Q(integration__isnull=True) | Q(integration__enabled=True, integration__tenant=tenant))
        .select_related("integration")
        .order_by("position", "id")
    )
    renderer = _Renderer(call=call, country=tenant.country, extra_schemes=tenant.extra_schemes)

    def sort_key(entry: PhoneCacheEntry) -> tuple[int, int, int, str]:
        preset = find_preset(entry.integration.preset)
        types = preset.record_types if preset else ()
        type_rank = types.index(entry.record_type) if entry.record_type in types else len(types)
        return (entry.integration.position, entry.integration_id, type_rank, entry.display_name.lower())

    matches: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    matched_integrations: set[int] = set()
    for entry in sorted(entries, key=sort_key):
        if (entry.integration_id, entry.record_id) in seen:
            continue
        seen.add((entry.integration_id, entry.record_id))
        matched_integrations.add(entry.integration_id)
        matches.append(_match_json(entry, scripts=scripts, renderer=renderer))

    actions: list[dict[str, Any]] = []
    for script in scripts:
        action: dict[str, Any] | None = None
        if script.integration_id is None or not _has_phone_data(script):
            if _applies(script, matched=bool(matches)):
                action = renderer.action(script)
        elif script.integration_id not in matched_integrations and script.applies != ScriptApplies.ON_MATCH:
            action = renderer.action(script)
        if action is not None:
            actions.append({**action, "integration_id": script.integration_id})
    return {"call": call.as_json(), "matches": matches, "actions": actions}


def _has_phone_data(script: Script) -> bool:
    integration: Integration | None = script.integration
    preset = find_preset(integration.preset) if integration is not None else None
    return preset is not None and preset.has_phone_data


def _match_json(entry: PhoneCacheEntry, *, scripts: list[Script], renderer: _Renderer) -> dict[str, Any]:
    integration = entry.integration
    preset = find_preset(integration.preset)
    labels = {f.name: f.label for f in preset.all_fields} if preset else {}
    record = {
        **entry.fields,
        "DisplayName": entry.display_name,
        "Identifier": entry.fields.get("Identifier") or entry.record_id,
        "PopUpUri": entry.fields.get("PopUpUri") or entry.record_url,
    }
    fields = [
        {"name": name, "label": labels.get(name, name), "value": str(record.get(name, ""))}
        for name in integration.notification_fields
        if record.get(name)
    ]
    actions = []
    for script in scripts:
        if script.integration_id == integration.pk and script.applies != ScriptApplies.ON_NO_MATCH:
            action = renderer.action(script, record)
            if action is not None:
                actions.append(action)
    return {
        "integration": {"id": integration.pk, "name": integration.name, "preset": integration.preset},
        "record": {
            "id": entry.record_id,
            "type": entry.record_type,
            "url": entry.record_url,
            "phone": {
                "number": entry.number_as_written,
                "type": entry.number_type,
                "extension": entry.extension,
            },
        },
        "notification": {"title": entry.display_name, "fields": fields},
        "actions": actions,
    }
