"""CardDAV presets by brand: the CardDAV connector with a vendor URL pattern and app-password note."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from integrations.connectors.carddav import CARDDAV, CardDavConnector
from integrations.connectors.carddav_brands import CARDDAV_BRANDS
from integrations.matching import call_from_params, match_call
from integrations.models import PhoneCacheEntry
from integrations.presets import SettingKind
from integrations.registry import PRESETS, get_preset
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard

BRAND_SLUGS = (
    "carddav_nextcloud",
    "carddav_icloud",
    "carddav_fastmail",
    "carddav_sogo",
    "carddav_synology",
    "carddav_mailbox_org",
)


def test_every_brand_preset_is_in_the_catalog():
    assert {preset.slug for preset in CARDDAV_BRANDS} == set(BRAND_SLUGS)
    for slug in BRAND_SLUGS:
        assert get_preset(slug) in PRESETS


@pytest.mark.parametrize("slug", BRAND_SLUGS)
def test_a_brand_preset_has_docs_a_url_pattern_and_an_app_password_hint(slug):
    preset = get_preset(slug)
    assert preset.connector_class is CardDavConnector
    assert preset.docs_url.startswith("https://")
    settings = {field.name: field for field in preset.settings}
    assert set(settings) == {field.name for field in CARDDAV.settings}  # the generic names
    assert settings["url"].kind == SettingKind.URL
    assert settings["url"].placeholder.startswith("https://")
    assert settings["url"].help_text
    assert settings["password"].kind == SettingKind.SECRET
    assert "password" in settings["password"].help_text.lower()
    assert preset.fields == CARDDAV.fields
    assert preset.default_scripts == CARDDAV.default_scripts


@pytest.mark.parametrize(
    ("slug", "where"),
    [
        ("carddav_nextcloud", "Devices & sessions"),
        ("carddav_icloud", "appleid.apple.com"),
        ("carddav_fastmail", "App passwords"),
        ("carddav_mailbox_org", "Application passwords"),
    ],
)
def test_the_app_password_hint_says_where_to_make_one(slug, where):
    settings = {field.name: field for field in get_preset(slug).settings}
    assert where in settings["password"].help_text


@pytest.mark.django_db
@pytest.mark.parametrize("slug", BRAND_SLUGS)
def test_a_brand_preset_syncs_against_the_carddav_double_like_the_generic_one(tenant, slug):
    double = CardDavDouble({"jan.vcf": vcard("jan", "Jan Jansen", "work:020 123 4567", org="Acme BV")})
    integration = integration_create(
        tenant=tenant, preset_slug=slug, name="Book", settings_values=double.settings(), start_sync=False
    )
    result = phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=double.transport()),
        sleep=lambda seconds: None,
    )
    assert result.status == "ok"
    entry = PhoneCacheEntry.objects.get(integration=integration)
    assert (entry.e164, entry.display_name, entry.fields["Company"]) == (
        "+31201234567",
        "Jan Jansen",
        "Acme BV",
    )
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0201234567"})
    )
    assert [m["notification"]["title"] for m in answer["matches"]] == ["Jan Jansen"]
    # The CardDAV server was called with the admin's credentials (HTTP Basic).
    assert double.requests
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in double.requests)


@pytest.mark.django_db
def test_the_add_page_of_a_brand_shows_its_url_pattern_and_app_password_hint(admin_client):
    page = admin_client.get(reverse("integration-add", args=["carddav_icloud"])).content.decode()
    assert "https://contacts.icloud.com/1234567890/carddavhome/card/" in page
    assert "App-Specific Passwords" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "slug"),
    [("icloud", "carddav_icloud"), ("fastmail", "carddav_fastmail"), ("synology", "carddav_synology")],
)
def test_the_preset_search_finds_a_brand_by_keyword(admin_client, query, slug):
    page = admin_client.get(reverse("integration-presets"), {"q": query}).content.decode()
    assert reverse("integration-add", args=[slug]) in page
    assert reverse("integration-add", args=["web_search"]) not in page
