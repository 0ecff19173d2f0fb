"""Template tags of the several-matches card on the integration overview."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.models import Integration, MultipleMatches
from integrations.presets import Preset
from integrations.several_matches import duplicate_numbers

register = template.Library()


@register.inclusion_tag("integrations/_several_matches.html")
def several_matches_card(integration: Integration, preset: Preset | None) -> dict[str, Any]:
    """The card: the integration's several-matches policy and its duplicate numbers (first 50).

    Empty (no card) for an integration without phone data. The integration comes from the
    overview, which already resolved it for the signed-in admin's tenant.
    """
    if preset is None or not preset.has_phone_data:
        return {"show": False}
    duplicates, total = duplicate_numbers(tenant=integration.tenant, integration=integration)
    return {
        "show": True,
        "integration": integration,
        "choices": MultipleMatches.choices,
        "duplicates": duplicates,
        "duplicate_total": total,
    }
