"""Forms of the integration and script screens.

The forms only collect input; the rules (required settings, URL checks, template validation)
live in `integrations.services`, whose `ValidationError`s the views put back on these fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from configurator.forms import BootstrapFormMixin
from integrations.models import BodyEncoding, CallEvent, HttpMethod, ScriptKind
from integrations.presets import Preset, ScriptApplies, SettingKind

APPLIES_LABELS: dict[str, str | Promise] = {
    ScriptApplies.ON_MATCH: gettext_lazy("On match (the caller was found in a CRM)"),
    ScriptApplies.ON_NO_MATCH: gettext_lazy("On no match (the caller was not found)"),
    ScriptApplies.ALWAYS: gettext_lazy("Always"),
}


class PresetSettingsForm(BootstrapFormMixin, forms.Form):
    """The preset's own settings (its `SettingField`s), one form field per setting, same names.

    Every field is optional here: `integration_settings_clean` decides what is missing or wrong,
    so the messages are the same in the UI, the API and the tests. Secrets are password inputs
    that are never rendered back.
    """

    def __init__(self, *args: Any, preset: Preset, keep_secrets: bool = False, **kwargs: Any) -> None:
        self.preset = preset
        super().__init__(*args, **kwargs)
        for setting in preset.settings:
            attrs: dict[str, str] = {}
            if setting.placeholder:
                attrs["placeholder"] = setting.placeholder
            if setting.required and not setting.default:
                attrs["required"] = "required"
            field: forms.Field
            if setting.kind == SettingKind.CHOICE:
                # Preset data is marked with gettext_noop: translated here, for the reader.
                choices = [(value, _(label)) for value, label in setting.choices]
                if not setting.required and not setting.default:
                    choices.insert(0, ("", "—"))
                field = forms.ChoiceField(choices=choices, widget=forms.Select(attrs=attrs))
            elif setting.kind == SettingKind.SECRET:
                attrs["autocomplete"] = "new-password"
                if keep_secrets:
                    # Editing: the stored secret is never sent back; empty keeps it. What the
                    # admin typed in this form does come back (a test, a reorder, an error).
                    attrs.pop("required", None)
                    attrs["placeholder"] = _("Leave empty to keep the current value")
                field = forms.CharField(
                    widget=forms.PasswordInput(attrs=attrs, render_value=keep_secrets and self.is_bound)
                )
            elif setting.kind == SettingKind.URL:
                field = forms.CharField(widget=forms.URLInput(attrs=attrs))
            else:
                field = forms.CharField(widget=forms.TextInput(attrs=attrs))
            field.required = False
            field.label = _(setting.label)
            field.help_text = _(setting.help_text) if setting.help_text else ""
            if keep_secrets and setting.kind == SettingKind.SECRET:
                field.help_text = " ".join(
                    filter(None, [_("Leave empty to keep the current value."), field.help_text])
                )
            field.initial = setting.default
            self.fields[setting.name] = field
        self.style_widgets()

    def values(self) -> dict[str, str]:
        """The entered values keyed by setting name, as `integration_settings_clean` takes them."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {name: str(data.get(name) or "") for name in self.fields}


class IntegrationForm(BootstrapFormMixin, forms.Form):
    """The integration's name and, for presets with phone data, the call notification's fields."""

    name = forms.CharField(
        max_length=100,
        label=gettext_lazy("Integration name"),
        help_text=gettext_lazy("Shown in the sidebar and the matching API's answers."),
    )
    notification_fields = forms.MultipleChoiceField(
        required=False,
        label=gettext_lazy("Call notification fields"),
        help_text=gettext_lazy(
            "Shown under the caller's name in the call notification. "
            "The fields most often chosen for this CRM are pre-selected."
        ),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, preset: Preset, **kwargs: Any) -> None:
        self.preset = preset
        super().__init__(*args, **kwargs)
        field = self.fields["notification_fields"]
        if preset.has_phone_data:
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [(f.name, _(f.label)) for f in preset.all_fields]
            field.initial = list(preset.default_notification_fields)
        else:
            del self.fields["notification_fields"]

    def ordered_notification_fields(self) -> list[str]:
        """The chosen fields: the preset's defaults first in their order, then the others in field order."""
        chosen = set(self.cleaned_data.get("notification_fields") or ())
        defaults = [name for name in self.preset.default_notification_fields if name in chosen]
        others = [f.name for f in self.preset.all_fields if f.name in chosen and f.name not in defaults]
        return defaults + others


class ScriptForm(BootstrapFormMixin, forms.Form):
    """A script: name, URL template, when it applies, whether it opens automatically; for a
    request the server sends, its method, headers, body and the call events that send it."""

    name = forms.CharField(
        max_length=100,
        label=gettext_lazy("Name"),
        help_text=gettext_lazy("Agents see it on the action button, e.g. “Search Google”."),
    )
    template = forms.CharField(
        label=gettext_lazy("URL"),
        help_text=gettext_lazy(
            "A link with placeholders: #(Caller number) for call properties"
            ", $(DisplayName) for fields of the matched CRM record (integration scripts only)."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "font-monospace",
                "placeholder": "https://www.google.nl?q=#(Caller number)",
            }
        ),
    )
    applies = forms.ChoiceField(
        label=gettext_lazy("Applies"),
        choices=[(a.value, APPLIES_LABELS[a.value]) for a in ScriptApplies],
        initial=ScriptApplies.ON_MATCH.value,
    )
    auto_open = forms.BooleanField(
        required=False,
        label=gettext_lazy("Open automatically"),
        help_text=gettext_lazy("Open the link as soon as the call comes in, without a click."),
    )
    kind = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Kind"),
        choices=ScriptKind.choices,
        initial=ScriptKind.LINK.value,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "A link the agent clicks, or an HTTP request the server sends to your CRM "
            "when a call event arrives (for CRMs that build their own notification)."
        ),
    )
    http_method = forms.ChoiceField(
        label=gettext_lazy("Method"),
        choices=HttpMethod.choices,
        initial=HttpMethod.POST.value,
        required=False,
    )
    request_headers = forms.CharField(
        required=False,
        label=gettext_lazy("Headers"),
        help_text=gettext_lazy(
            "One per line, Name: value; values may use placeholders, e.g. X-Caller: #(Caller number)."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "font-monospace",
                "placeholder": "Authorization: Bearer your-api-token",
            }
        ),
    )
    body_encoding = forms.ChoiceField(
        label=gettext_lazy("Body"),
        choices=BodyEncoding.choices,
        initial=BodyEncoding.JSON.value,
        required=False,
    )
    body_template = forms.CharField(
        required=False,
        label=gettext_lazy("Body template"),
        help_text=gettext_lazy(
            "JSON: each placeholder becomes a JSON string, in quotes or not "
            '({"number": #(Caller number:e164)}). Form: one name=value per line.'
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "font-monospace",
                "placeholder": '{"from": #(Caller number:e164), "name": #(Caller name)}',
            }
        ),
    )
    on_events = forms.MultipleChoiceField(
        required=False,
        label=gettext_lazy("Sent on"),
        choices=CallEvent.choices,
        initial=[CallEvent.START.value],
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self) -> dict[str, Any]:
        """Fill what a link script does not show with the defaults the services expect."""
        data = super().clean() or {}
        data["kind"] = data.get("kind") or ScriptKind.LINK.value
        data["http_method"] = data.get("http_method") or HttpMethod.POST.value
        data["body_encoding"] = data.get("body_encoding") or BodyEncoding.JSON.value
        data["request_headers"] = data.get("request_headers") or ""
        data["body_template"] = data.get("body_template") or ""
        data["on_events"] = list(data.get("on_events") or [])
        if data.get("kind") != ScriptKind.SERVER_REQUEST:
            data["on_events"] = data["on_events"] or [CallEvent.START.value]
        return data


class IntegrationDeleteForm(BootstrapFormMixin, forms.Form):
    """Deleting is confirmed by typing the integration's name."""

    confirm_name = forms.CharField(
        label=gettext_lazy("Type the integration's name to confirm"), max_length=100
    )

    def __init__(self, *args: Any, expected_name: str, **kwargs: Any) -> None:
        self.expected_name = expected_name
        super().__init__(*args, **kwargs)
        self.fields["confirm_name"].widget.attrs["autocomplete"] = "off"

    def clean_confirm_name(self) -> str:
        value = str(self.cleaned_data["confirm_name"]).strip()
        if value != self.expected_name:
            raise forms.ValidationError(
                _("That is not the name; type “%(name)s” exactly to delete this integration.")
                % {"name": self.expected_name}
            )
        return value


def order_move(order: list[str], instruction: str) -> list[str]:
    """Apply an up/down button's "up:Name" or "down:Name" to the list `order` (a new list; an
    unknown name, a move past either end, or any other text leaves it as it was)."""
    direction, _, name = instruction.partition(":")
    if name not in order or direction not in {"up", "down"}:
        return order
    index = order.index(name)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order = list(order)
        order[index], order[other] = order[other], order[index]
    return order
