"""Template filters of the script tables: labels in the user's language."""

from __future__ import annotations

from django import template

from integrations.forms import APPLIES_LABELS
from integrations.models import Script

register = template.Library()


@register.filter
def applies_label(script: Script) -> str:
    """When `script` applies, as the script form names it ("On match (the caller was found in a CRM)")."""
    return str(APPLIES_LABELS.get(script.applies, script.get_applies_display()))
