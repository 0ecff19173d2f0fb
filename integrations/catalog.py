"""The preset catalog as data for the public catalog page (`/catalog/`) and `GET /api/v1/catalog`.

One entry per preset of `integrations.registry.PRESETS`, in catalog order: what a provider needs
to answer "do you support X?": the kind of product, how the admin authorizes us, what is synced
(record types, fields), whether changes are synced incrementally and whether live lookup works,
the pre-configured screen pops, and the CRM's own pages (API docs, creating the credentials).
"""

from __future__ import annotations

from typing import Any

from integrations.connectors.base import Connector
from integrations.presets import Preset
from integrations.registry import PRESETS


def _overrides(connector_class: type[Connector], name: str) -> bool:
    """Whether the connector decides `name` per integration (the generic REST source's settings)."""
    return getattr(connector_class, name).__func__ is not getattr(Connector, name).__func__


def incremental_support(preset: Preset) -> str:
    """ "yes", "no" or "configurable" (the connector syncs changes only when its settings allow)."""
    connector_class = preset.connector_class
    if connector_class is None:
        return "no"
    if connector_class.supports_incremental:
        return "yes"
    return "configurable" if _overrides(connector_class, "incremental_supported") else "no"


def live_lookup_support(preset: Preset) -> str:
    """ "yes", "no" or "configurable" (a search endpoint must be set first)."""
    connector_class = preset.connector_class
    if connector_class is None or not connector_class.supports_lookup:
        return "no"
    return "configurable" if _overrides(connector_class, "lookup_problem") else "yes"


def catalog_entry(preset: Preset) -> dict[str, Any]:
    """The catalog's description of one preset (the JSON shape of `GET /api/v1/catalog` items).

    Keys: slug, name, category, description, phone_data (bool), auth (list of text), paging
    (text, "" when nothing pages), incremental and live_lookup ("yes" | "no" | "configurable"),
    record_types (match order), fields ([{name, label}]), notification_fields (default),
    screen_pops ([{name, applies, template}], `{setting}` parts filled at creation),
    docs_url, credentials_url, keywords.
    """
    return {
        "slug": preset.slug,
        "name": preset.name,
        "category": preset.category,
        "description": preset.description,
        "phone_data": preset.has_phone_data,
        "auth": list(preset.auth_methods),
        "paging": preset.paging,
        "incremental": incremental_support(preset),
        "live_lookup": live_lookup_support(preset),
        "record_types": list(preset.record_types),
        "fields": [{"name": f.name, "label": f.label} for f in preset.all_fields],
        "notification_fields": list(preset.default_notification_fields),
        "screen_pops": [
            {"name": s.name, "applies": str(s.applies), "template": s.template}
            for s in preset.default_scripts
        ],
        "docs_url": preset.docs_url,
        "credentials_url": preset.credentials_url,
        "keywords": list(preset.keywords),
    }


def catalog(query: str = "") -> list[dict[str, Any]]:
    """Every preset's `catalog_entry`, in catalog order; `query` keeps the presets whose name,
    description, category or keywords contain every word of it (case-insensitive)."""
    words = query.lower().split()
    entries = []
    for preset in PRESETS:
        text = " ".join(
            (preset.slug, preset.name, preset.description, preset.category, *preset.keywords)
        ).lower()
        if all(word in text for word in words):
            entries.append(catalog_entry(preset))
    return entries
