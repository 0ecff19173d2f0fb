"""The public catalog page and its JSON: every preset, what it needs and what it syncs."""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.catalog import catalog, catalog_entry
from integrations.presets import Preset
from integrations.registry import PRESETS, get_preset

pytestmark = pytest.mark.django_db


def test_the_json_lists_every_preset_in_catalog_order_without_an_api_key(client: Client) -> None:
    response = client.get("/api/v1/catalog")

    assert response.status_code == 200
    presets = response.json()["presets"]
    assert [p["slug"] for p in presets] == [p.slug for p in PRESETS]
    assert presets == [catalog_entry(p) for p in PRESETS]


def test_an_entry_says_how_the_preset_authorizes_what_it_syncs_and_how() -> None:
    ldap = catalog_entry(get_preset("ldap"))
    assert ldap["phone_data"] is True
    assert ldap["category"] == "Directory"
    assert ldap["incremental"] == "yes"
    assert ldap["live_lookup"] == "yes"
    assert ldap["auth"]
    assert {"name": "DisplayName", "label": "Name"} in ldap["fields"]

    rest = catalog_entry(get_preset("rest_json"))
    assert rest["incremental"] == rest["live_lookup"] == "configurable"  # needs a setting first

    pop = catalog_entry(get_preset("zendesk_search"))
    assert pop["phone_data"] is False
    assert pop["incremental"] == pop["live_lookup"] == "no"
    assert pop["record_types"] == pop["fields"] == []
    assert pop["screen_pops"][0]["applies"] == "always"
    assert "#(Caller number:{number_format})" in pop["screen_pops"][0]["template"]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.slug)
def test_every_preset_tells_the_catalog_enough(preset: Preset) -> None:
    entry = catalog_entry(preset)
    assert entry["auth"], f"{preset.slug}: say how the admin authorizes (auth_methods)"
    assert entry["category"] in {"CRM", "Helpdesk", "Address book", "Directory", "Screen pop"}
    assert entry["screen_pops"]
    if preset.has_phone_data:
        assert entry["record_types"], preset.slug
    for url in (entry["docs_url"], entry["credentials_url"]):
        assert url == "" or url.startswith("https://"), (preset.slug, url)


def test_q_keeps_the_presets_matching_every_word(client: Client) -> None:
    helpdesks = client.get("/api/v1/catalog", {"q": "helpdesk zendesk"}).json()["presets"]
    assert "zendesk_search" in [p["slug"] for p in helpdesks]
    assert all("zendesk" in " ".join([p["name"], *p["keywords"]]).lower() for p in helpdesks)

    assert client.get("/api/v1/catalog", {"q": "no such crm anywhere"}).json() == {"presets": []}
    found = [entry["slug"] for entry in catalog("NEXTCLOUD")]
    assert "carddav_nextcloud" in found
    assert "ldap" not in found


@pytest.mark.parametrize(
    "raw", ["q=%00", "q=%ED%A0%80", "q=%FF%FE", "q=" + "x" * 10_000, "q=%3Cscript%3E", "q=%", "q=a&q=b", "q"]
)
def test_any_query_gets_an_answer_not_an_error(client: Client, raw: str) -> None:
    assert client.get("/api/v1/catalog", QUERY_STRING=raw).status_code == 200
    page = client.get("/catalog/", QUERY_STRING=raw)
    assert page.status_code == 200
    assert "<script>" not in page.content.decode()


def test_the_page_shows_each_preset_with_its_links_without_signing_in(client: Client) -> None:
    page = client.get("/catalog/").content.decode()

    for preset in PRESETS:
        assert f'id="preset-{preset.slug}"' in page
        if preset.docs_url:
            assert preset.docs_url in page
    assert f"{len(PRESETS)} of {len(PRESETS)} presets" in page


def test_the_page_filters_on_the_server_and_says_when_nothing_matches(client: Client) -> None:
    page = client.get("/catalog/", {"q": "oracle"}).content.decode()
    assert 'id="preset-oracle_crmod"' in page
    assert 'id="preset-carddav"' not in page

    empty = client.get("/catalog/", {"q": "xyzzy"}).content.decode()
    assert "No preset matches “xyzzy”" in empty
    assert 'class="text-body-secondary d-none" data-filter-empty' not in empty


def test_the_catalog_is_in_the_api_schema_without_a_key(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/catalog"]["get"]
    assert operation["operationId"] == "catalog"
    assert operation.get("security", [{}]) in ([], [{}])


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.slug)
def test_the_wizard_search_finds_every_preset_by_its_name(admin_client: Client, preset: Preset) -> None:
    page = admin_client.get("/integrations/add/", {"q": preset.name.lower()}).content.decode()

    assert f'/integrations/add/{preset.slug}/"' in page
