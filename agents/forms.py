"""Forms of the agents screen (tenant admins)."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy

from configurator.forms import BootstrapFormMixin


def split_lines(text: str) -> list[str]:
    """One value per line or comma: "201, 202\\nsales" → ["201", "202", "sales"]."""
    return [part.strip() for part in re.split(r"[\n,;]", text) if part.strip()]


class AgentTargetsForm(BootstrapFormMixin, forms.Form):
    """The name colleagues see and the devices, DDIs and queues whose calls the agent is shown."""

    display_name = forms.CharField(
        max_length=100,
        label=gettext_lazy("Name"),
        help_text=gettext_lazy("Shown to colleagues: “answered by …”."),
    )
    devices = forms.CharField(
        required=False,
        label=gettext_lazy("Devices / extensions"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "The numbers (or user names) the PBX sends for this agent's phones, one per line: 201"
        ),
    )
    ddis = forms.CharField(
        required=False,
        label=gettext_lazy("DDIs"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Numbers callers dial whose calls this agent also sees (a sales number): +31 20 555 0100"
        ),
    )
    queues = forms.CharField(
        required=False,
        label=gettext_lazy("Queues"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Queue names as the PBX sends them (Zammad's queue, the match API's ddi_name)."
        ),
    )


class AgentInviteForm(AgentTargetsForm):
    """A new agent: their user name and e-mail, then the targets."""

    username = forms.CharField(
        max_length=150,
        label=gettext_lazy("User name"),
        help_text=gettext_lazy("What the agent signs in with."),
    )
    email = forms.EmailField(required=False, label=gettext_lazy("E-mail (optional)"))

    field_order = ["username", "display_name", "email", "devices", "ddis", "queues"]


class AgentSetPasswordForm(BootstrapFormMixin, SetPasswordForm):  # type: ignore[type-arg]  # generic in the stubs only
    """The invitation link's form: the agent's new password, twice (Django's validators apply)."""
