"""The form of the API-keys screen."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from configurator.forms import BootstrapFormMixin


class ApiKeyCreateForm(BootstrapFormMixin, forms.Form):
    """Name a new API key after the PBX or system that will use it."""

    name = forms.CharField(
        max_length=50,
        label=gettext_lazy("Key name"),
        help_text=gettext_lazy("Name it after the PBX or system that will use it, e.g. “Main office PBX”."),
        widget=forms.TextInput(attrs={"placeholder": "Main office PBX"}),
    )
