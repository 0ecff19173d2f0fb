"""The screen-pop-only presets of the catalog: each pops its CRM's search (or any URL) for the call.

Nothing is synced for these presets; what matters is the URL the agent's browser opens, built from
the settings the admin entered and the caller number in the notation the CRM stores.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from integrations.models import Integration
from integrations.registry import get_preset
from integrations.services import integration_create, integration_settings_clean
from tenants.models import Tenant

URL = "/api/v1/match"


def actions_for(api_key: str, caller: str = "020 123 4567") -> list[dict[str, object]]:
    response = Client().get(
        URL, {"caller_number": caller, "call_id": "42"}, HTTP_AUTHORIZATION=f"Api-Key {api_key}"
    )
    assert response.status_code == 200, response.content
    return list(response.json()["actions"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "values", "expected"),
    [
        (
            "salesforce_search",
            {"base_url": "https://acme.my.salesforce.com/"},
            "https://acme.my.salesforce.com/_ui/search/ui/UnifiedSearchResults?searchType=2&str=%2B31201234567",
        ),
        (
            "hubspot_search",
            {"portal_id": "1234567"},
            "https://app.hubspot.com/contacts/1234567/objects/0-1/views/all/list?query=%2B31201234567",
        ),
        (
            "dynamics_search",
            {"base_url": "https://acme.crm4.dynamics.com", "number_format": "national"},
            "https://acme.crm4.dynamics.com/main.aspx?pagetype=search&searchType=1&searchText=020%20123%204567",
        ),
        (
            "zendesk_search",
            {"subdomain": "acme", "number_format": "digits"},
            "https://acme.zendesk.com/agent/search/1?type=user&q=31201234567",
        ),
        (
            "freshdesk_search",
            {"domain": "acme"},
            "https://acme.freshdesk.com/a/search/contacts?term=%2B31201234567",
        ),
        (
            "custom_url",
            {"url_template": "https://intranet.acme.example/who?n=#(Caller number:E164)&call=#(Call id)"},
            "https://intranet.acme.example/who?n=%2B31201234567&call=42",
        ),
    ],
)
def test_a_search_preset_pops_its_crms_search_for_every_call(
    tenant: Tenant, api_key: tuple[object, str], slug: str, values: dict[str, str], expected: str
) -> None:
    integration = integration_create(
        tenant=tenant, preset_slug=slug, name=get_preset(slug).name, settings_values=values
    )

    actions = actions_for(api_key[1])

    assert [(a["integration_id"], a["url"]) for a in actions] == [(integration.pk, expected)]
    assert not get_preset(slug).has_phone_data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "values", "field", "message"),
    [
        ("zendesk_search", {"subdomain": "my company"}, "subdomain", "which is not a valid address"),
        ("hubspot_search", {"portal_id": ""}, "portal_id", "this field is required"),
        (
            "custom_url",
            {"url_template": "https://x.example/?n=#(Caller number"},
            "url_template",
            "Address to open",
        ),
        (
            "custom_url",
            {"url_template": "javascript:alert(1)//#(Caller number)"},
            "url_template",
            "Address to open",
        ),
        ("dynamics_search", {"base_url": "acme.crm4.dynamics.com"}, "base_url", "enter a full http"),
    ],
)
def test_settings_that_would_build_a_broken_script_are_refused_on_the_field(
    tenant: Tenant, slug: str, values: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=get_preset(slug), values=values)

    assert message in " ".join(caught.value.message_dict[field])
    assert not Integration.objects.filter(tenant=tenant).exists()


@pytest.mark.django_db
def test_the_custom_url_form_explains_a_broken_template_and_creates_nothing(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        "/integrations/add/custom_url/",
        {
            "name": "Intranet",
            "settings-url_template": "https://x.example/?n=#(Caller nummer)",
            "action": "create",
        },
    )

    assert response.status_code == 200
    assert "Address to open: the script" in response.content.decode()
    assert not Integration.objects.filter(tenant=tenant).exists()


def test_the_wizard_search_finds_each_search_preset_by_its_crms_name(admin_client: Client) -> None:
    for query, slug in [
        ("salesforce", "salesforce_search"),
        ("hubspot", "hubspot_search"),
        ("dynamics", "dynamics_search"),
        ("zendesk", "zendesk_search"),
        ("freshdesk", "freshdesk_search"),
        ("custom", "custom_url"),
    ]:
        page = admin_client.get("/integrations/add/", {"q": query}).content.decode()
        assert f'/integrations/add/{slug}/"' in page, query
