"""The "Add New Integration" wizard: five steps kept in the session until Finish creates it.

Each wizard has its own id in the URL (`/integrations/new/<wizard_id>/<step>/`), so two tabs of
one session never mix their choices. Its state lives in `request.session[SESSION_KEY][wizard_id]`:
the preset, the entered settings (secrets Fernet-encrypted with the field keys, never rendered
back into a page), the name, the notification fields in order and the scripts. Nothing reaches
the database before Finish: leaving half way creates nothing. Every step saves what was typed
before it validates, so Back, the ribbon, reload and a validation error never lose input.

Without JavaScript every action is a plain form post; static/app/wizard.js only adds dragging
of the notification fields and htmx the live script preview.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets as secrets_module
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import InvalidToken
from django.conf import settings as django_settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

import scripts_engine
from configurator.frame import render_page, tenant_admin_required
from integrations import ui_helpers  # the screens' shared helpers
from integrations.connectors.base import ConnectorError
from integrations.fields import field_fernet
from integrations.forms import APPLIES_LABELS, IntegrationForm, PresetSettingsForm, ScriptForm, order_move
from integrations.models import Integration
from integrations.oauth import TOKEN_SECRET, preset_oauth_config
from integrations.presets import Preset, ScriptApplies, SettingKind
from integrations.registry import PRESETS, find_preset
from integrations.selectors import integration_get
from integrations.services import (
    SampleRecord,
    ScriptSpec,
    integration_create,
    integration_sample_records,
    integration_settings_clean,
    integration_update,
    preset_default_scripts,
    script_create,
    script_validate,
)
from integrations.texts import stored_text, text_json, translated
from tenants.models import Tenant

SESSION_KEY = "integration_wizards"
MAX_WIZARDS = 10  # per session; the oldest is dropped when an eleventh starts
STEPS: tuple[tuple[str, str | Promise], ...] = (
    ("preset", gettext_lazy("Choose preset")),
    ("settings", gettext_lazy("CRM configuration")),
    ("fields", gettext_lazy("Call notification")),
    ("scripts", gettext_lazy("Scripts")),
    ("review", gettext_lazy("Review")),
)
STEP_NAMES = tuple(name for name, _ in STEPS)
SECRET_KEPT = "•••• kept"  # noqa: S105 - what a secret field shows instead of its value


# State ---------------------------------------------------------------------------------------


def _wizards(request: HttpRequest) -> dict[str, Any]:
    value = request.session.get(SESSION_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _state_or_none(request: HttpRequest, wizard_id: str) -> dict[str, Any] | None:
    state = _wizards(request).get(wizard_id)
    if not isinstance(state, dict) or find_preset(str(state.get("preset", ""))) is None:
        return None
    return state


def _save(request: HttpRequest, wizard_id: str, state: dict[str, Any]) -> None:
    wizards = _wizards(request)
    wizards.pop(wizard_id, None)
    while len(wizards) >= MAX_WIZARDS:
        wizards.pop(next(iter(wizards)))
    wizards[wizard_id] = state
    request.session[SESSION_KEY] = wizards


def _forget(request: HttpRequest, wizard_id: str) -> None:
    wizards = _wizards(request)
    wizards.pop(wizard_id, None)
    request.session[SESSION_KEY] = wizards


def _encrypt(value: str) -> str:
    return field_fernet().encrypt(value.encode()).decode("ascii")


def _decrypt(token: str) -> str:
    try:
        return field_fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return ""  # a key rotated away: the secret must be entered again


def _kept_secrets(state: dict[str, Any]) -> dict[str, str]:
    """The secrets entered so far, decrypted (for validation and the connection test only)."""
    stored = state.get("secrets") or {}
    kept = {name: _decrypt(str(token)) for name, token in stored.items()}
    return {name: value for name, value in kept.items() if value}


def _new_state(*, tenant: Tenant, preset: Preset) -> dict[str, Any]:
    fields = [f.name for f in preset.all_fields]
    defaults = [name for name in preset.default_notification_fields if name in fields]
    return {
        "preset": preset.slug,
        "settings": {s.name: s.default for s in preset.settings if s.kind != SettingKind.SECRET},
        "secrets": {},
        "name": ui_helpers._unused_name(tenant=tenant, base=preset.name),
        "settings_valid": False,
        # Every field in display order (the chosen defaults first), and which are ticked.
        "field_order": defaults + [name for name in fields if name not in defaults],
        "fields_chosen": defaults,
        "scripts": None,  # None: the preset's, built from the settings when step 4 is first shown
        "connection": None,
        "sample": None,  # the record step 3 and 4 preview for; see _sample_from_crm
    }


def _steps_of(preset: Preset) -> list[str]:
    """The steps this preset walks: presets without phone data skip the call notification."""
    return [name for name in STEP_NAMES if name != "fields" or preset.has_phone_data]


def _step_url(wizard_id: str, step: str) -> str:
    return reverse("integration-wizard-step", kwargs={"wizard_id": wizard_id, "step": step})


def _neighbour(preset: Preset, step: str, offset: int) -> str:
    steps = _steps_of(preset)
    index = steps.index(step) + offset
    return steps[min(max(index, 0), len(steps) - 1)]


def _reachable(state: dict[str, Any], preset: Preset, step: str) -> bool:
    """Whether `step` may be shown: everything after the settings needs valid settings."""
    return step in ("preset", "settings") or bool(state.get("settings_valid"))


def _ribbon(wizard_id: str, state: dict[str, Any], preset: Preset, current: str) -> list[dict[str, Any]]:
    steps = _steps_of(preset)
    ribbon = []
    for number, (name, label) in enumerate(STEPS, start=1):
        skipped = name not in steps
        ribbon.append(
            {
                "number": number,
                "label": label,
                "current": name == current,
                "skipped": skipped,
                "url": ""
                if skipped or name == current or not _reachable(state, preset, name)
                else _step_url(wizard_id, name),
            }
        )
    return ribbon


def _scripts(state: dict[str, Any], preset: Preset) -> list[dict[str, Any]]:
    """The wizard's scripts: the preset's pre-configured ones until the admin changes the list.

    A pre-configured script kept in a changed list remembers its place in the preset
    (`preset_index`), so its `{setting}` parts follow the settings if they change afterwards.
    """
    values = {**dict(state.get("settings") or {}), **_kept_secrets(state)}
    try:
        specs = preset_default_scripts(preset=preset, settings_values=values)
    except (KeyError, ValueError, IndexError):
        specs = []
    defaults = [
        {
            "name": spec.name,
            "template": spec.template,
            "applies": str(spec.applies),
            "auto_open": spec.auto_open,
            "preset_index": index,
        }
        for index, spec in enumerate(specs)
    ]
    if not isinstance(state.get("scripts"), list):
        return defaults
    scripts = []
    for script in state["scripts"]:
        index = script.get("preset_index")
        if isinstance(index, int) and 0 <= index < len(defaults):
            script = {**script, "template": defaults[index]["template"]}
        scripts.append(dict(script))
    return scripts


def _rendered(
    tenant: Tenant, preset: Preset, script: dict[str, Any], record: dict[str, str]
) -> dict[str, Any]:
    """The script with the link it renders for the sample call and `record` (or its error)."""
    applies = str(script.get("applies", ScriptApplies.ON_MATCH))
    uses_record = preset.has_phone_data and applies != ScriptApplies.ON_NO_MATCH
    try:
        template = script_validate(
            tenant=tenant, preset=preset, template=str(script.get("template", "")), applies=applies
        )
    except ValidationError as exc:
        return {**script, "error": exc.messages[0], "applies_label": APPLIES_LABELS.get(applies, applies)}
    link = scripts_engine.render(
        template,
        call=ui_helpers.sample_call(tenant=tenant).properties(),
        record=record if uses_record else None,
        country=tenant.country,
        extra_schemes=tenant.extra_schemes,
    )
    return {**script, "link": link or "", "applies_label": APPLIES_LABELS.get(applies, applies)}


# The sample record ---------------------------------------------------------------------------

SAMPLE_VALUE_MAX = 500  # characters kept per field of a fetched record (the session stays small)


def _record_values(preset: Preset, record: SampleRecord) -> dict[str, str]:
    """A fetched record's values by preset field name, as a match would give them to a script."""
    values = {
        **record.fields,
        "DisplayName": record.display_name,
        "Identifier": record.fields.get("Identifier") or record.id,
        "PopUpUri": record.fields.get("PopUpUri") or record.url,
    }
    return {f.name: str(values.get(f.name) or "")[:SAMPLE_VALUE_MAX] for f in preset.all_fields}


def _sample_from_crm(
    tenant: Tenant, preset: Preset, settings_values: dict[str, str], *, deadline: float
) -> dict[str, Any]:
    """The record the call notification and the scripts preview for, fetched from the CRM.

    Returns the wizard state's "sample": {"source": "crm", "values": {field: text}} for the
    first record the CRM lists with a phone number, or {"source": "example", "why": "none"} when
    it lists none, {"source": "example", "why": "error", "error": the CRM's error} when it cannot
    be asked (then the example record stands in; `_sample` words the reason in the page's
    language). Takes at most until `deadline` (a `time.monotonic()` value); never raises. Holds
    record values only, never settings or secrets.
    """
    try:
        records = integration_sample_records(
            preset=preset, settings_values=settings_values, limit=1, country=tenant.country, deadline=deadline
        )
    except ConnectorError as exc:
        return {
            "source": "example",
            "why": "error",
            "error": str(exc.message),
            "text": text_json(exc.message),
        }
    if not records:
        return {"source": "example", "why": "none"}
    return {"source": "crm", "values": _record_values(preset, records[0])}


def _sample_wanted(state: dict[str, Any], action: str) -> bool:
    """Whether a successful connection test should fetch the sample record: always on "Test
    connection", on Next only when none was fetched with these settings since their last test."""
    sample = state.get("sample")
    if action == "test" or not isinstance(sample, dict):
        return True
    return sample.get("why") == "test_failed"


def _example_reason(sample: Any) -> str:
    """Why the example record stands in, for the page: the CRM's answer or the test's."""
    why = sample.get("why") if isinstance(sample, dict) else None
    if why == "none":
        return _("your CRM returned no record with a phone number")
    if why == "error":
        error = stored_text(str(sample.get("error", "")), sample.get("text"))
        return _("the CRM could not be asked: %(error)s") % {"error": error}
    if why == "test_failed":
        return _("the connection test failed")
    return _("the connection was not tested")


def _sample(state: dict[str, Any], preset: Preset) -> tuple[dict[str, str], dict[str, Any]]:
    """The record values steps 3 and 4 preview with, and where they come from for the page:
    {"from_crm": bool, "name": display name, "reason": why the example record is shown}."""
    sample = state.get("sample")
    if isinstance(sample, dict) and sample.get("source") == "crm" and isinstance(sample.get("values"), dict):
        values = {f.name: str(sample["values"].get(f.name, "")) for f in preset.all_fields}
        return values, {"from_crm": True, "name": values.get("DisplayName") or _("(no name)"), "reason": ""}
    example = ui_helpers.sample_record(preset)
    return example, {
        "from_crm": False,
        "name": example.get("DisplayName", ""),
        "reason": _example_reason(sample),
    }


# Views ---------------------------------------------------------------------------------------


PRESET_MARK_COLOURS = 12  # classes .preset-mark-0 … -11 in static/app/app.css


def preset_initials(name: str) -> str:
    """One or two letters for a preset's mark: the first letter and the capital after a camel-case
    bump in the first word ("CardDAV address book" -> "CD", "HubSpot" -> "HS"), else the first
    letters of the first two words ("Microsoft Dynamics 365" -> "MD", "SOGo Contacts" -> "SC"),
    else the first letter ("Pipedrive" -> "P"); "?" for a name without letters or digits."""
    words: list[str] = re.findall(r"[^\W_]+", name)
    if not words:
        return "?"
    first = words[0]
    bump = next((b for a, b in itertools.pairwise(first) if a.islower() and b.isupper()), "")
    if bump:
        return (first[0] + bump).upper()
    if len(words) >= 2:
        return (first[0] + words[1][0]).upper()
    return first[0].upper()


def preset_mark(slug: str) -> int:
    """The colour class number (0 … PRESET_MARK_COLOURS - 1) of a preset's mark, from its slug:
    the same for a slug on every run and machine (SHA-256, not Python's salted `hash`)."""
    return int(hashlib.sha256(slug.encode()).hexdigest()[:8], 16) % PRESET_MARK_COLOURS


def _tiles(query: str) -> list[dict[str, Any]]:
    return [
        {
            "preset": preset,
            "search": ui_helpers._search_text(preset),
            "initials": preset_initials(preset.name),
            "mark": preset_mark(preset.slug),
        }
        for preset in PRESETS
        if ui_helpers.preset_matches(preset, query)
    ]


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def wizard_start(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Step 1 of a new wizard: the preset tiles with a search; choosing one starts the wizard."""
    if request.method == "POST":
        preset = find_preset(request.POST.get("preset", ""))
        if preset is None:
            messages.error(request, _("Choose one of the presets below."))
            return redirect("integration-wizard")
        wizard_id = secrets_module.token_urlsafe(9)
        _save(request, wizard_id, _new_state(tenant=tenant, preset=preset))
        return redirect(_step_url(wizard_id, "settings"))
    return _preset_page(request, tenant, wizard_id=None, state=None)


def _preset_page(
    request: HttpRequest, tenant: Tenant, *, wizard_id: str | None, state: dict[str, Any] | None
) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    preset = find_preset(str(state["preset"])) if state else None
    return render_page(
        request,
        "integrations/wizard/preset.html",
        tenant=tenant,
        context={
            "tiles": _tiles(query),
            "query": query,
            "preset_count": len(PRESETS),
            "wizard_id": wizard_id,
            "chosen": preset,
            "ribbon": _ribbon(wizard_id, state, preset, "preset")
            if wizard_id and state and preset
            else [
                {"number": n, "label": label, "current": n == 1, "url": ""}
                for n, (_, label) in enumerate(STEPS, 1)
            ],
            "form_action": _step_url(wizard_id, "preset") if wizard_id else reverse("integration-wizard"),
            "search_action": _step_url(wizard_id, "preset") if wizard_id else reverse("integration-wizard"),
            "active": "integration-add",
        },
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def wizard_step(request: HttpRequest, tenant: Tenant, wizard_id: str, step: str) -> HttpResponse:
    """One step of a started wizard (`step` one of STEP_NAMES; anything else is 404)."""
    if step not in STEP_NAMES:
        raise Http404("No such step.")
    state = _state_or_none(request, wizard_id)
    if state is None:
        messages.warning(
            request, _("That wizard is no longer open (finished, or too old); start again here.")
        )
        return redirect("integration-wizard")
    preset = find_preset(str(state["preset"]))
    assert preset is not None  # checked by _state_or_none
    if step not in _steps_of(preset):
        return redirect(_step_url(wizard_id, _neighbour(preset, "scripts", 0)))
    if not _reachable(state, preset, step):
        messages.info(request, _("Complete the CRM configuration first."))
        return redirect(_step_url(wizard_id, "settings"))
    handler = {
        "preset": _step_preset,
        "settings": _step_settings,
        "fields": _step_fields,
        "scripts": _step_scripts,
        "review": _step_review,
    }[step]
    return handler(request, tenant, wizard_id, state, preset)


def _page(
    request: HttpRequest,
    tenant: Tenant,
    wizard_id: str,
    state: dict[str, Any],
    preset: Preset,
    step: str,
    context: dict[str, Any],
) -> HttpResponse:
    steps = _steps_of(preset)
    return render_page(
        request,
        f"integrations/wizard/{step}.html",
        tenant=tenant,
        context={
            "wizard_id": wizard_id,
            "preset": preset,
            "state": state,
            "step": step,
            "ribbon": _ribbon(wizard_id, state, preset, step),
            "action_url": _step_url(wizard_id, step),
            "is_last": step == steps[-1],
            "active": "integration-add",
            **context,
        },
    )


def _step_preset(
    request: HttpRequest, tenant: Tenant, wizard_id: str, state: dict[str, Any], preset: Preset
) -> HttpResponse:
    """Change the preset: the same one keeps every choice, another starts its steps afresh."""
    if request.method == "POST":
        chosen = find_preset(request.POST.get("preset", ""))
        if chosen is None:
            messages.error(request, _("Choose one of the presets below."))
            return redirect(_step_url(wizard_id, "preset"))
        if chosen.slug != preset.slug and _created(tenant, state) is not None:
            messages.error(
                request,
                _(
                    "This wizard already created “%(name)s” for %(preset)s; finish it, "
                    "or delete that integration on its overview and start a new wizard."
                )
                % {"name": state.get("name"), "preset": preset.name},
            )
            return redirect(_step_url(wizard_id, "preset"))
        if chosen.slug != preset.slug:
            state = _new_state(tenant=tenant, preset=chosen)
            _save(request, wizard_id, state)
        return redirect(_step_url(wizard_id, "settings"))
    return _preset_page(request, tenant, wizard_id=wizard_id, state=state)


def _settings_forms(
    data: Any, state: dict[str, Any], preset: Preset
) -> tuple[IntegrationForm, PresetSettingsForm]:
    if data is not None:
        return (
            IntegrationForm(data, preset=preset),
            PresetSettingsForm(data, preset=preset, prefix="settings"),
        )
    return (
        IntegrationForm(preset=preset, initial={"name": state.get("name", "")}),
        PresetSettingsForm(preset=preset, prefix="settings", initial=dict(state.get("settings") or {})),
    )


def _mark_kept_secrets(settings_form: PresetSettingsForm, state: dict[str, Any]) -> list[str]:
    """Secret fields already entered: not required, and say "•••• kept, leave empty to keep"."""
    kept = _kept_secrets(state)
    for name in kept:
        field = settings_form.fields.get(name)
        if field is None:
            continue
        field.widget.attrs.pop("required", None)
        field.widget.attrs["placeholder"] = _("%(kept)s (leave empty to keep)") % {"kept": SECRET_KEPT}
    return sorted(kept)


def _step_settings(
    request: HttpRequest, tenant: Tenant, wizard_id: str, state: dict[str, Any], preset: Preset
) -> HttpResponse:
    """Settings, credentials and name; "Test connection" tests, "Next" validates and tests."""
    connection: dict[str, Any] | None = None
    if request.method == "POST":
        form, settings_form = _settings_forms(request.POST, state, preset)
        action = request.POST.get("action", "next")
        form.is_valid()
        settings_form.is_valid()
        entered = settings_form.values()
        # Save first, valid or not: a reload, Back or an error never loses what was typed.
        before = (dict(state.get("settings") or {}), _kept_secrets(state))
        state["name"] = str(request.POST.get("name", ""))[:100]
        state["settings"] = {
            s.name: entered.get(s.name, "") for s in preset.settings if s.kind != SettingKind.SECRET
        }
        stored = dict(state.get("secrets") or {})
        for setting in preset.settings:
            typed = entered.get(setting.name, "").strip() if setting.kind == SettingKind.SECRET else ""
            if typed:
                stored[setting.name] = _encrypt(typed)
        state["secrets"] = stored
        # Tested settings stay valid through Back only while nothing in them changed.
        unchanged = before == (state["settings"], _kept_secrets(state))
        state["settings_valid"] = bool(state.get("settings_valid")) and unchanged
        if not unchanged:
            state["sample"] = None  # fetched with other settings
        if action == "back":
            _save(request, wizard_id, state)
            return redirect(_step_url(wizard_id, "preset"))
        try:
            plain, secrets = integration_settings_clean(
                preset=preset, values=entered, keep_secrets=_kept_secrets(state)
            )
        except ValidationError as exc:
            ui_helpers._put_errors(exc, settings_form, form)
        else:
            if action == "test" or preset.has_phone_data:
                # One cap for the test and the sample fetched after it: the press answers in time.
                deadline = time.monotonic() + float(django_settings.CONNECTION_TEST_TIMEOUT_SECONDS)
                connection = ui_helpers._test_connection(preset=preset, settings_values={**plain, **secrets})
                if connection["ok"] and preset.has_phone_data and _sample_wanted(state, action):
                    state["sample"] = _sample_from_crm(
                        tenant, preset, {**plain, **secrets}, deadline=deadline
                    )
                elif not connection["ok"]:
                    state["sample"] = {"source": "example", "why": "test_failed"}
            if action != "test" and form.is_valid() and (connection is None or connection["ok"]):
                state["settings"] = plain
                state["settings_valid"] = True
                following = _step_url(wizard_id, _neighbour(preset, "settings", 1))
                if not _uses_oauth(preset, plain):
                    _save(request, wizard_id, state)
                    return redirect(following)
                try:
                    _create_for_connect(tenant, state, preset, secrets=secrets)
                except ValidationError as exc:
                    state["settings_valid"] = False
                    ui_helpers._put_errors(exc, form, settings_form)
                else:
                    _save(request, wizard_id, state)
                    return redirect(_connect_url(int(state["integration_id"]), following))
            if action != "test" and connection is not None and not connection["ok"]:
                # A connector's message is a Text: `%` would take its English, so translate it first.
                reason = translated(connection["message"])
                connection["message"] = _("Not yet: %(reason)s") % {"reason": reason}
        _save(request, wizard_id, state)
    else:
        form, settings_form = _settings_forms(None, state, preset)
    return _page(
        request,
        tenant,
        wizard_id,
        state,
        preset,
        "settings",
        {
            "form": form,
            "settings_form": settings_form,
            "kept_secrets": _mark_kept_secrets(settings_form, state),
            "connection": connection,
            "uses_oauth": _uses_oauth(preset, dict(state.get("settings") or {})),
            **_created_context(tenant, state, _step_url(wizard_id, _neighbour(preset, "settings", 1))),
        },
    )


def _uses_oauth(preset: Preset, plain: dict[str, str]) -> bool:
    """Whether these settings authorize with OAuth 2.0 Connect (the admin grants access in the CRM)."""
    oauth = preset_oauth_config(preset.connector_class, plain)
    return oauth is not None and oauth.needs_connect


def _connect_url(integration_id: int, next_url: str) -> str:
    connect = reverse("integration-oauth-connect", kwargs={"integration_id": integration_id})
    return f"{connect}?{urlencode({'next': next_url})}"


def _created(tenant: Tenant, state: dict[str, Any]) -> Integration | None:
    """The integration an OAuth wizard created at the end of step 2 (None if none, or deleted since)."""
    integration_id = state.get("integration_id")
    if not isinstance(integration_id, int):
        return None
    try:
        return integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        return None


def _created_context(tenant: Tenant, state: dict[str, Any], next_url: str) -> dict[str, Any]:
    integration = _created(tenant, state)
    if integration is None:
        return {"created": None}
    return {
        "created": integration,
        "connected": TOKEN_SECRET in (integration.secrets or {}),
        "connect_url": _connect_url(integration.pk, next_url),
    }


def _create_for_connect(
    tenant: Tenant, state: dict[str, Any], preset: Preset, *, secrets: dict[str, str]
) -> None:
    """OAuth presets: create the integration now (no sync, no scripts) so that Connect can store
    its token; Finish adds the wizard's notification fields and scripts. Created once per wizard."""
    if _created(tenant, state) is not None:
        return
    integration = integration_create(
        tenant=tenant,
        preset_slug=preset.slug,
        name=str(state.get("name", "")),
        settings_values={**dict(state.get("settings") or {}), **secrets},
        scripts=[],
        start_sync=False,
    )
    state["integration_id"] = integration.pk


def _step_fields(
    request: HttpRequest, tenant: Tenant, wizard_id: str, state: dict[str, Any], preset: Preset
) -> HttpResponse:
    """The notification fields: tick them, order them with Up/Down (drag with JavaScript)."""
    known = [f.name for f in preset.all_fields]
    order = [name for name in state.get("field_order") or [] if name in known]
    order += [name for name in known if name not in order]
    if request.method == "POST":
        posted = [name for name in request.POST.getlist("order") if name in known]
        if sorted(set(posted)) == sorted(known) and len(posted) == len(known):
            order = posted
        chosen = {name for name in request.POST.getlist("fields") if name in known}
        move = request.POST.get("move", "")
        order = order_move(order, move)
        name = move.partition(":")[2]
        state["field_order"] = order
        state["fields_chosen"] = [name for name in order if name in chosen]
        _save(request, wizard_id, state)
        action = request.POST.get("action", "")
        if action in ("next", "back"):
            return redirect(_step_url(wizard_id, _neighbour(preset, "fields", 1 if action == "next" else -1)))
        if move:
            return redirect(_step_url(wizard_id, "fields") + f"#field-{name}")
        return redirect(_step_url(wizard_id, "fields"))
    labels = {f.name: f.label for f in preset.all_fields}
    chosen = set(state.get("fields_chosen") or [])
    sample, origin = _sample(state, preset)
    rows = [
        {"name": name, "label": labels[name], "chosen": name in chosen, "sample": sample.get(name, "")}
        for name in order
    ]
    return _page(
        request,
        tenant,
        wizard_id,
        state,
        preset,
        "fields",
        {
            "rows": rows,
            "card": [row for row in rows if row["chosen"]],
            "sample_name": sample.get("DisplayName"),
            "sample_origin": origin,
        },
    )


def _step_scripts(
    request: HttpRequest, tenant: Tenant, wizard_id: str, state: dict[str, Any], preset: Preset
) -> HttpResponse:
    """The scripts: the preset's pre-configured ones shown as links; add, edit and remove.

    Edit loads a script into the form (`index` says which one Save replaces); without
    JavaScript that is a plain post like every other button here.
    """
    scripts = _scripts(state, preset)
    default_applies = ScriptApplies.ON_MATCH if preset.has_phone_data else ScriptApplies.ALWAYS
    # htmx asks for the script dialog (GET ?edit=N to load a script, POST to add or save it).
    dialog = bool(getattr(request, "htmx", False))
    auto_id = "dialog_%s" if dialog else "id_%s"
    form = ScriptForm(auto_id=auto_id, initial={"applies": default_applies.value})
    preview: dict[str, Any] | None = None
    editing: int | None = None
    edit_query = request.GET.get("edit", "")
    if request.method == "GET" and dialog and edit_query.isdigit() and int(edit_query) < len(scripts):
        editing = int(edit_query)
        chosen = scripts[editing]
        form = ScriptForm(
            auto_id=auto_id, initial={k: chosen.get(k) for k in ("name", "template", "applies", "auto_open")}
        )
    if request.method == "POST":
        action = request.POST.get("action", "")
        remove = request.POST.get("remove", "")
        edit = request.POST.get("edit", "")
        index = request.POST.get("index", "")
        if index.isdigit() and int(index) < len(scripts):
            editing = int(index)
        if remove.isdigit() and int(remove) < len(scripts):
            del scripts[int(remove)]
            state["scripts"] = scripts
            _save(request, wizard_id, state)
            return redirect(_step_url(wizard_id, "scripts"))
        if action in ("next", "back"):
            return redirect(
                _step_url(wizard_id, _neighbour(preset, "scripts", 1 if action == "next" else -1))
            )
        if edit.isdigit() and int(edit) < len(scripts):
            editing = int(edit)
            chosen = scripts[editing]
            form = ScriptForm(
                auto_id=auto_id,
                initial={k: chosen.get(k) for k in ("name", "template", "applies", "auto_open")},
            )
            return _scripts_page(request, tenant, wizard_id, state, preset, scripts, form, None, editing)
        form = ScriptForm(request.POST, auto_id=auto_id)
        if action == "preview":
            preview = _preview_context(request.POST, tenant, preset, state)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                if not str(data["name"]).strip():
                    raise ValidationError({"name": _("Give the script a name.")})
                script_validate(
                    tenant=tenant, preset=preset, template=data["template"], applies=data["applies"]
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    ui_helpers._put_errors(exc, form)
                else:
                    form.add_error("template", exc)
            else:
                script: dict[str, Any] = {
                    "name": str(data["name"]).strip(),
                    "template": str(data["template"]).strip(),
                    "applies": str(data["applies"]),
                    "auto_open": bool(data["auto_open"]),
                }
                if editing is None:
                    scripts.append(script)
                else:
                    old = scripts[editing]
                    if old.get("preset_index") is not None and old.get("template") == script["template"]:
                        script["preset_index"] = old["preset_index"]  # still the preset's script
                    scripts[editing] = script
                state["scripts"] = scripts
                _save(request, wizard_id, state)
                done = _("Script “%(name)s” added.") if editing is None else _("Script “%(name)s” saved.")
                messages.success(request, done % {"name": script["name"]})
                if dialog:
                    return HttpResponse(headers={"HX-Refresh": "true"})
                return redirect(_step_url(wizard_id, "scripts"))
    return _scripts_page(request, tenant, wizard_id, state, preset, scripts, form, preview, editing)


def _scripts_page(
    request: HttpRequest,
    tenant: Tenant,
    wizard_id: str,
    state: dict[str, Any],
    preset: Preset,
    scripts: list[dict[str, Any]],
    form: ScriptForm,
    preview: dict[str, Any] | None,
    editing: int | None,
) -> HttpResponse:
    preview_url = reverse("integration-wizard-preview", kwargs={"wizard_id": wizard_id})
    sample, origin = _sample(state, preset)
    dialog = bool(getattr(request, "htmx", False))
    form.fields["template"].widget.attrs.update(
        {
            "data-insert-target": "",
            "hx-post": preview_url,
            "hx-trigger": "input changed delay:300ms" + (", load" if dialog else ""),
            "hx-target": "#script-dialog-preview" if dialog else "#script-preview",
            "hx-include": "closest form",
            "hx-sync": "this:replace",
        }
    )
    if dialog:
        editing_script = scripts[editing] if editing is not None else None
        context = {
            "tenant": tenant,
            "form": form,
            "preview": preview,
            "preset": preset,
            "call_properties": [p.name for p in scripts_engine.CALL_PROPERTIES[:7]],
            "record_fields": list(preset.all_fields),
            "dialog_title": _("Edit script “%(name)s”") % {"name": editing_script["name"]}
            if editing_script is not None
            else _("Add a script"),
            "action_url": _step_url(wizard_id, "scripts"),
            "fields_template": "integrations/wizard/_script_fields.html",
            "hidden": [("index", editing)] if editing is not None else [],
            "submit_name": "action",
            "submit_value": "add",
            "submit_label": _("Save script") if editing is not None else _("Add script"),
            "preview_name": "action",
            "preview_value": "preview",
        }
        return TemplateResponse(request, "integrations/_script_dialog.html", context)
    return _page(
        request,
        tenant,
        wizard_id,
        state,
        preset,
        "scripts",
        {
            "scripts": [_rendered(tenant, preset, script, sample) for script in scripts],
            "sample_origin": origin,
            "form": form,
            "preview": preview,
            "editing": editing,
            "call_properties": [p.name for p in scripts_engine.CALL_PROPERTIES[:7]],
            "record_fields": list(preset.all_fields),
        },
    )


def _preview_context(data: Any, tenant: Tenant, preset: Preset, state: dict[str, Any]) -> dict[str, Any]:
    """The script preview's context, rendered for the wizard's sample record: the record fetched
    from the CRM in step 2 when there is one (else the example record the preview always uses)."""
    sample, origin = _sample(state, preset)
    return ui_helpers._preview_context(
        data, tenant, integration=None, preset=preset, record=sample if origin["from_crm"] else None
    )


@tenant_admin_required
@require_POST
def wizard_preview(request: HttpRequest, tenant: Tenant, wizard_id: str) -> HttpResponse:
    """The live preview of the script being added in step 4 (htmx fragment)."""
    state = _state_or_none(request, wizard_id)
    if state is None:
        raise Http404("No such wizard.")
    preset = find_preset(str(state["preset"]))
    assert preset is not None
    return TemplateResponse(
        request, "integrations/_script_preview.html", _preview_context(request.POST, tenant, preset, state)
    )


def _step_review(
    request: HttpRequest, tenant: Tenant, wizard_id: str, state: dict[str, Any], preset: Preset
) -> HttpResponse:
    """Every choice with a link back; Finish creates the integration and queues its first sync."""
    scripts = _scripts(state, preset)
    errors: list[str] = []
    if request.method == "POST":
        if request.POST.get("action") == "back":
            return redirect(_step_url(wizard_id, _neighbour(preset, "review", -1)))
        plain = dict(state.get("settings") or {})
        if state.get("integration_id") is not None:
            return _finish_created(request, tenant, wizard_id, state, preset, scripts)
        uses_oauth = _uses_oauth(preset, plain)
        try:
            integration = integration_create(
                tenant=tenant,
                preset_slug=preset.slug,
                name=str(state.get("name", "")),
                settings_values={**plain, **_kept_secrets(state)},
                notification_fields=list(state.get("fields_chosen") or []) if preset.has_phone_data else None,
                scripts=_specs(scripts),
                start_sync=not uses_oauth,
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            _forget(request, wizard_id)
            if uses_oauth:
                messages.success(request, _("Integration created; grant the app access in the CRM."))
                return redirect("integration-oauth-connect", integration_id=integration.pk)
            if preset.has_phone_data:
                messages.success(request, _("Integration created; the first sync has started."))
            else:
                messages.success(request, _("Integration created; its script is ready to use."))
            return redirect("integration-overview", integration_id=integration.pk)
    labels = {f.name: f.label for f in preset.all_fields}
    kept = _kept_secrets(state)
    settings_rows = []
    for setting in preset.settings:
        if setting.kind == SettingKind.SECRET:
            value = ui_helpers.SECRET_MASK if setting.name in kept else ""
        else:
            value = str((state.get("settings") or {}).get(setting.name, ""))
            if setting.kind == SettingKind.CHOICE:
                value = dict(setting.choices).get(value, value)
        settings_rows.append({"label": setting.label, "value": value})
    return _page(
        request,
        tenant,
        wizard_id,
        state,
        preset,
        "review",
        {
            "errors": errors,
            "settings_rows": settings_rows,
            "fields": [labels.get(name, name) for name in state.get("fields_chosen") or []],
            "scripts": [_rendered(tenant, preset, script, _sample(state, preset)[0]) for script in scripts],
            "step_urls": {name: _step_url(wizard_id, name) for name in STEP_NAMES},
            **_created_context(tenant, state, _step_url(wizard_id, "review")),
        },
    )


def _specs(scripts: list[dict[str, Any]]) -> list[ScriptSpec]:
    return [
        ScriptSpec(
            name=str(s["name"]),
            template=str(s["template"]),
            applies=str(s["applies"]),
            auto_open=bool(s.get("auto_open")),
        )
        for s in scripts
    ]


def _finish_created(
    request: HttpRequest,
    tenant: Tenant,
    wizard_id: str,
    state: dict[str, Any],
    preset: Preset,
    scripts: list[dict[str, Any]],
) -> HttpResponse:
    """Finish an OAuth wizard: its integration exists since step 2; add the fields and scripts."""
    integration = _created(tenant, state)
    if integration is None:
        _forget(request, wizard_id)
        messages.error(request, _("The integration this wizard created was deleted meanwhile; start again."))
        return redirect("integration-wizard")
    with transaction.atomic():
        if preset.has_phone_data:
            # Its name and settings as created (changes made since then are the overview's Edit).
            integration_update(
                tenant=tenant,
                integration=integration,
                name=integration.name,
                settings_values=dict(integration.settings or {}),
                notification_fields=list(state.get("fields_chosen") or []),
                start_sync=False,
            )
        for spec in _specs(scripts):
            script_create(
                tenant=tenant,
                integration=integration,
                name=spec.name,
                template=spec.template,
                applies=spec.applies,
                auto_open=spec.auto_open,
            )
    _forget(request, wizard_id)
    if TOKEN_SECRET in (integration.secrets or {}):
        messages.success(
            request, _("%(name)s is ready and connected to the CRM.") % {"name": integration.name}
        )
    else:
        messages.warning(
            request, _("%(name)s is ready; Connect grants it access to the CRM.") % {"name": integration.name}
        )
    return redirect("integration-overview", integration_id=integration.pk)
