"""Live lookup: integrations in "live" mode ask their CRM on each call (with a timeout, the
outbound guard and a short per-number cache) instead of the phone cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from integrations.models import Integration, LookupMode
from integrations.services import (
    integration_create,
    integration_set_lookup_mode,
    integration_set_number_reading,
)
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard
from tests.live_lookup_server import SearchApi, search_api_server

URL = "/api/v1/match"
JAN = {
    "id": "c1",
    "name": "Jan Jansen",
    "company": "Acme BV",
    "phones": [{"number": "+31 20 123 4567"}, {"number": "+31 6 9999 0000"}],
}
PIET = {"id": "c2", "name": "Piet Pieters", "company": "Globex", "phones": [{"number": "020 765 4321"}]}


def _get(key: str, **params: str) -> Any:
    response = Client().get(URL, params, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def crm() -> Iterator[SearchApi]:
    with search_api_server(SearchApi(contacts=[JAN, PIET])) as api:
        yield api


def _live(tenant: Any, base_url: str, *, name: str = "Live CRM") -> Integration:
    integration = integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name=name,
        settings_values={
            "base_url": base_url,
            "auth_kind": "none",
            "list_path": "/contacts",
            "records_path": "results",
            "phone_paths": "phones[*].number",
            "extra_fields": "Company=company",
            "lookup_path": "/search?phone={number}",
        },
        notification_fields=["Company"],
        start_sync=False,
    )
    return integration_set_lookup_mode(tenant=tenant, integration=integration, mode=LookupMode.LIVE)


def test_a_live_integration_matches_through_the_crm(allow_private_addresses, tenant, api_key, crm):
    integration = _live(tenant, crm.base_url)

    body = _get(api_key[1], caller_number="020 123 4567")

    [match] = body["matches"]
    assert match["source"] == "live"
    assert match["integration"]["id"] == integration.pk
    assert match["record"]["id"] == "c1"
    assert match["record"]["phone"]["number"] == "+31 20 123 4567"
    assert match["notification"]["title"] == "Jan Jansen"
    assert match["notification"]["fields"] == [{"name": "Company", "label": "Company", "value": "Acme BV"}]
    assert body["lookups"] == [
        {"integration_id": integration.pk, "status": "ok", "cached": False, "message": ""}
    ]
    assert crm.hits == 1


def test_an_unknown_caller_in_live_mode_is_ok_without_match(allow_private_addresses, tenant, api_key, crm):
    integration = _live(tenant, crm.base_url)

    body = _get(api_key[1], caller_number="+31 30 000 0000")

    assert body["matches"] == []
    assert body["lookups"][0] == {
        "integration_id": integration.pk,
        "status": "ok",
        "cached": False,
        "message": "",
    }


def test_the_per_number_cache_spares_the_crm_within_its_ttl(
    allow_private_addresses, settings, tenant, api_key, crm
):
    settings.LIVE_LOOKUP_CACHE_SECONDS = 60
    _live(tenant, crm.base_url)
    start = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        first = _get(api_key[1], caller_number="020 123 4567")
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        second = _get(api_key[1], caller_number="020 123 4567")
    assert crm.hits == 1
    assert second["matches"][0]["record"]["id"] == first["matches"][0]["record"]["id"] == "c1"
    assert second["lookups"][0]["cached"] is True
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        third = _get(api_key[1], caller_number="020 123 4567")
    assert crm.hits == 2
    assert third["lookups"][0]["cached"] is False
    assert third["matches"][0]["source"] == "live"


def test_a_slow_crm_gives_a_timeout_entry_and_no_match(
    allow_private_addresses, settings, tenant, api_key, crm
):
    settings.LIVE_LOOKUP_TIMEOUT_SECONDS = 0.3
    crm.delay = 1.5
    integration = _live(tenant, crm.base_url)

    body = _get(api_key[1], caller_number="020 123 4567")

    assert body["matches"] == []
    [entry] = body["lookups"]
    assert entry["integration_id"] == integration.pk
    assert entry["status"] == "timeout"
    assert entry["message"]


def test_a_crm_error_gives_an_error_entry_and_is_not_cached(allow_private_addresses, tenant, api_key, crm):
    crm.status = 500
    integration = _live(tenant, crm.base_url)

    body = _get(api_key[1], caller_number="020 123 4567")

    assert body["matches"] == []
    [entry] = body["lookups"]
    assert entry["integration_id"] == integration.pk
    assert entry["status"] == "error"
    assert "HTTP 500" in entry["message"]
    assert crm.hits == 1  # no retries
    crm.status = 200
    again = _get(api_key[1], caller_number="020 123 4567")
    assert again["lookups"][0]["status"] == "ok"
    assert again["matches"][0]["record"]["id"] == "c1"


def test_the_outbound_guard_refuses_a_private_address(settings, tenant, api_key, crm):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    integration = _live(tenant, crm.base_url)
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False

    body = _get(api_key[1], caller_number="020 123 4567")

    assert body["matches"] == []
    assert body["lookups"][0]["integration_id"] == integration.pk
    assert body["lookups"][0]["status"] == "error"
    assert crm.hits == 0


def test_a_cached_and_a_live_integration_both_match(allow_private_addresses, tenant, api_key, crm):
    double = CardDavDouble({"jan.vcf": vcard("jan-dav", "Jan (address book)", "work:+31 20 123 4567")})
    cached = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=cached.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    live = _live(tenant, crm.base_url)

    body = _get(api_key[1], caller_number="+31201234567")

    sources = {(m["integration"]["id"], m["record"]["id"], m["source"]) for m in body["matches"]}
    assert sources == {(cached.pk, "jan-dav", "cache"), (live.pk, "c1", "live")}
    assert [entry["integration_id"] for entry in body["lookups"]] == [live.pk]


def test_a_cached_integration_is_not_asked_live(allow_private_addresses, tenant, api_key, crm):
    integration = _live(tenant, crm.base_url)
    integration_set_lookup_mode(tenant=tenant, integration=integration, mode=LookupMode.CACHED)

    body = _get(api_key[1], caller_number="020 123 4567")

    assert body["matches"] == []
    assert body["lookups"] == []
    assert crm.hits == 0


def test_another_tenants_key_never_triggers_this_tenants_live_lookup(
    allow_private_addresses, tenant, other_api_key, crm
):
    _live(tenant, crm.base_url)

    body = _get(other_api_key[1], caller_number="+31 20 123 4567")

    assert body["matches"] == []
    assert body["lookups"] == []
    assert crm.hits == 0


def test_live_mode_is_refused_for_presets_that_cannot_search(tenant):
    double = CardDavDouble({})
    integration = integration_create(
        tenant=tenant, preset_slug="carddav", name="Book", settings_values=double.settings(), start_sync=False
    )
    with pytest.raises(ValidationError, match="cannot be searched"):
        integration_set_lookup_mode(tenant=tenant, integration=integration, mode=LookupMode.LIVE)
    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.CACHED


def test_live_mode_needs_the_rest_search_endpoint(allow_private_addresses, tenant, crm):
    integration = _live(tenant, crm.base_url)
    integration.lookup_mode = LookupMode.CACHED
    integration.settings = {**integration.settings, "lookup_path": ""}
    integration.save()
    with pytest.raises(ValidationError, match="search endpoint"):
        integration_set_lookup_mode(tenant=tenant, integration=integration, mode=LookupMode.LIVE)


def test_another_tenant_cannot_switch_the_mode(allow_private_addresses, tenant, other_tenant, crm):
    integration = _live(tenant, crm.base_url)
    integration_set_lookup_mode(tenant=other_tenant, integration=integration, mode=LookupMode.CACHED)
    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.LIVE


def test_lookup_target_fills_the_placeholders():
    from integrations.connectors.rest_json import lookup_target

    assert lookup_target("/s?p={number}", "+31201234567") == "/s?p=%2B31201234567"
    assert lookup_target("/s/{digits}", "+31201234567") == "/s/31201234567"
    assert lookup_target("/s?n={national}", "+31201234567") == "/s?n=0201234567"


def test_a_live_integration_falls_back_to_the_main_number_when_the_admin_turned_it_on(
    allow_private_addresses, tenant, api_key, crm
):
    # Acme's main number is +31 20 555 0100; the caller rings from its extension 12.
    crm.contacts = [
        *crm.contacts,
        {"id": "c4", "name": "Acme reception", "phones": [{"number": "+31 20 555 0100"}]},
    ]
    integration = _live(tenant, crm.base_url)

    before = _get(api_key[1], caller_number="+31 20 555 010012")
    assert before["matches"] == []

    integration_set_number_reading(
        tenant=tenant, integration=integration, region="", fallback_to_main_number=True
    )
    cache.clear()
    body = _get(api_key[1], caller_number="+31 20 555 010012")

    [match] = body["matches"]
    assert match["fallback"] is True
    assert match["source"] == "live"
    assert match["record"]["id"] == "c4"
    assert body["lookups"] == [
        {"integration_id": integration.pk, "status": "ok", "cached": False, "message": ""}
    ]


def test_the_live_fallback_never_beats_a_record_with_the_full_number(
    allow_private_addresses, tenant, api_key, crm
):
    integration = _live(tenant, crm.base_url)
    integration_set_number_reading(
        tenant=tenant, integration=integration, region="", fallback_to_main_number=True
    )
    crm.contacts = [*crm.contacts, {"id": "c3", "name": "Klaas", "phones": [{"number": "+31 20 765 432112"}]}]

    body = _get(api_key[1], caller_number="+31 20 765 432112")

    assert [(m["record"]["id"], m["fallback"]) for m in body["matches"]] == [("c3", False)]
