"""The overview's "Matching" card: phone cache or live lookup, and "Fetch a sample"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration, LookupMode
from integrations.services import integration_create
from tenants.models import Tenant
from tests.live_lookup_server import SearchApi, search_api_server

pytestmark = pytest.mark.django_db

JAN = {"id": "c1", "name": "Jan Jansen", "company": "Acme BV", "phones": [{"number": "020 123 4567"}]}
BROKEN = {"id": "c2", "name": "Piet", "company": "", "phones": [{"number": "12"}]}


@pytest.fixture
def crm() -> Iterator[SearchApi]:
    with search_api_server(SearchApi(contacts=[JAN, BROKEN])) as api:
        yield api


def _rest(tenant: Tenant, base_url: str, *, lookup_path: str = "/search?phone={number}") -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="Shop CRM",
        settings_values={
            "base_url": base_url,
            "auth_kind": "none",
            "list_path": "/contacts",
            "records_path": "results",
            "phone_paths": "phones[*].number",
            "extra_fields": "Company=company",
            "lookup_path": lookup_path,
        },
        start_sync=False,
    )


def test_the_admin_switches_to_live_lookup_and_back(
    admin_client: Client, tenant: Tenant, crm: SearchApi, allow_private_addresses: None
) -> None:
    integration = _rest(tenant, crm.base_url)
    overview = reverse("integration-overview", args=[integration.pk])
    assert 'id="matching"' in admin_client.get(overview).content.decode()

    page = admin_client.post(
        reverse("integration-lookup-mode", args=[integration.pk]), {"lookup_mode": "live"}, follow=True
    ).content.decode()

    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.LIVE
    assert "asking the CRM live" in page
    assert 'value="live" id="lookup-live" checked' in page

    admin_client.post(reverse("integration-lookup-mode", args=[integration.pk]), {"lookup_mode": "cached"})
    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.CACHED


def test_live_lookup_without_a_search_endpoint_is_refused_with_the_reason(
    admin_client: Client, tenant: Tenant, crm: SearchApi, allow_private_addresses: None
) -> None:
    integration = _rest(tenant, crm.base_url, lookup_path="")
    overview = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "Set the search endpoint" in overview
    assert 'id="lookup-live" disabled' in overview

    for mode in ("live", "sideways", ""):
        page = admin_client.post(
            reverse("integration-lookup-mode", args=[integration.pk]), {"lookup_mode": mode}, follow=True
        )
        assert page.status_code == 200
    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.CACHED


def test_fetch_a_sample_shows_the_first_records_as_they_would_be_cached(
    admin_client: Client, tenant: Tenant, crm: SearchApi, allow_private_addresses: None
) -> None:
    integration = _rest(tenant, crm.base_url)

    page = admin_client.post(reverse("integration-sample", args=[integration.pk])).content.decode()

    assert 'id="sample-records"' in page
    assert "Jan Jansen" in page
    assert "<code>+31201234567</code>" in page
    assert "Acme BV" in page
    assert Integration.objects.get(pk=integration.pk).cached_numbers == 0  # nothing was cached


def test_a_sample_from_a_failing_crm_says_what_is_wrong(
    admin_client: Client, tenant: Tenant, crm: SearchApi, allow_private_addresses: None
) -> None:
    integration = _rest(tenant, crm.base_url)
    crm.status = 503

    page = admin_client.post(reverse("integration-sample", args=[integration.pk])).content.decode()

    assert 'id="sample-error"' in page
    assert "HTTP 503" in page


def test_the_card_and_its_actions_stay_within_the_tenant(
    other_admin_client: Client, tenant: Tenant, crm: SearchApi, allow_private_addresses: None
) -> None:
    integration = _rest(tenant, crm.base_url)
    hits = crm.hits

    for name, data in (("integration-lookup-mode", {"lookup_mode": "live"}), ("integration-sample", {})):
        assert other_admin_client.post(reverse(name, args=[integration.pk]), data).status_code == 404
    integration.refresh_from_db()
    assert integration.lookup_mode == LookupMode.CACHED
    assert crm.hits == hits


def test_a_pop_only_integration_has_no_matching_card(admin_client: Client, tenant: Tenant) -> None:
    integration = integration_create(
        tenant=tenant, preset_slug="web_search", name="Google", settings_values={}
    )
    page: Any = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert 'id="matching"' not in page.content.decode()
    assert admin_client.post(reverse("integration-sample", args=[integration.pk])).status_code == 200
