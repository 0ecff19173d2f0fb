"""Forms of the integration and script screens.

The forms only collect input; the rules (required settings, URL checks, template validation)
live in `integrations.services`, whose `ValidationError`s the views put back on these fields.
"""

from __future__ import annotations

from typing import Any

from django import forms

from configurator.forms import BootstrapFormMixin
from integrations.presets import Preset, ScriptApplies, SettingKind

APPLIES_LABELS: dict[str, str] = {
    ScriptApplies.ON_MATCH: "On match (the caller was found in a CRM)",
    ScriptApplies.ON_NO_MATCH: "On no match (the caller was not found)",
    ScriptApplies.ALWAYS: "Always",
}


class PresetSettingsForm(BootstrapFormMixin, forms.Form):
    """The preset's own settings (its `SettingField`s), one form field per setting, same names.

    Every field is optional here: `integration_settings_clean` decides what is missing or wrong,
    so the messages are the same in the UI, the API and the tests. Secrets are password inputs
    that are never rendered back.
    """

    def __init__(self, *args: Any, preset: Preset, **kwargs: Any) -> None:
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
                choices = list(setting.choices)
                if not setting.required and not setting.default:
                    choices.insert(0, ("", "—"))
                field = forms.ChoiceField(choices=choices, widget=forms.Select(attrs=attrs))
            elif setting.kind == SettingKind.SECRET:
                attrs["autocomplete"] = "new-password"
                field = forms.CharField(widget=forms.PasswordInput(attrs=attrs, render_value=False))
            elif setting.kind == SettingKind.URL:
                field = forms.CharField(widget=forms.URLInput(attrs=attrs))
            else:
                field = forms.CharField(widget=forms.TextInput(attrs=attrs))
            field.required = False
            field.label = setting.label
            field.help_text = setting.help_text
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
        label="Integration name",
        help_text="Shown in the sidebar and the matching API's answers.",
    )
    notification_fields = forms.MultipleChoiceField(
        required=False,
        label="Call notification fields",
        help_text="Shown under the caller's name in the call notification. "
        "The fields most often chosen for this CRM are pre-selected.",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, preset: Preset, **kwargs: Any) -> None:
        self.preset = preset
        super().__init__(*args, **kwargs)
        field = self.fields["notification_fields"]
        if preset.has_phone_data:
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [(f.name, f.label) for f in preset.all_fields]
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
    """A script: name, URL template, when it applies, whether it opens automatically."""

    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="Agents see it on the action button, e.g. “Search Google”.",
    )
    template = forms.CharField(
        label="URL",
        help_text="A link with placeholders: #(Caller number) for call properties"
        ", $(DisplayName) for fields of the matched CRM record (integration scripts only).",
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
        label="Applies",
        choices=[(a.value, APPLIES_LABELS[a.value]) for a in ScriptApplies],
        initial=ScriptApplies.ON_MATCH.value,
    )
    auto_open = forms.BooleanField(
        required=False,
        label="Open automatically",
        help_text="Open the link as soon as the call comes in, without a click.",
    )


class IntegrationDeleteForm(BootstrapFormMixin, forms.Form):
    """Deleting is confirmed by typing the integration's name."""

    confirm_name = forms.CharField(label="Type the integration's name to confirm", max_length=100)

    def __init__(self, *args: Any, expected_name: str, **kwargs: Any) -> None:
        self.expected_name = expected_name
        super().__init__(*args, **kwargs)
        self.fields["confirm_name"].widget.attrs["autocomplete"] = "off"

    def clean_confirm_name(self) -> str:
        value = str(self.cleaned_data["confirm_name"]).strip()
        if value != self.expected_name:
            raise forms.ValidationError(
                f"That is not the name; type “{self.expected_name}” exactly to delete this integration."
            )
        return value
