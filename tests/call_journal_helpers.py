"""Helpers of the call-log tests: a synced address book, and log entries written as the API would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from integrations.models import CallJournalEntry, Integration
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.carddav_double import CardDavDouble, vcard


def synced_address_book(
    tenant: Tenant, name: str = "Sales CRM", cards: dict[str, str] | None = None
) -> Integration:
    """A CardDAV integration of `tenant` whose cache holds Jan Jansen (+31 20 123 4567) and, by
    default, two records sharing the switchboard +31 20 555 0000."""
    cards = cards or {
        "jan.vcf": vcard("jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV"),
        "anna.vcf": vcard("anna-2", "Anna de Vries", "work:020 555 0000"),
        "bert.vcf": vcard("bert-3", "Bert Bakker", "work:020-5550000"),
    }
    double = CardDavDouble(cards)
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        settings_values=double.settings(),
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    return integration


def journal_entry(tenant: Tenant, created: dt.datetime, **fields: Any) -> CallJournalEntry:
    """A stored inbound call of `tenant` (matched unless `matched=False`), fields overridable."""
    matched = fields.pop("matched", True)
    values: dict[str, Any] = {
        "sender": "api",
        "caller_number": "020 123 4567",
        "caller_e164": "+31201234567",
        "direction": "in",
        "matched": matched,
        "match_count": 1 if matched else 0,
        "integration_ids": [],
        "counts_as_call": True,
        "request": {"caller_number": "020 123 4567"},
        "answer": {"call": {}, "matches": [], "actions": [], "lookups": []},
        "status_code": 200,
        "duration_ms": 3.5,
    }
    values.update(fields)
    return CallJournalEntry.objects.create(tenant=tenant, created=created, **values)
