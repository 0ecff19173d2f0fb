"""The matching API: authentication, validation, matching across notations, tenant isolation."""

from __future__ import annotations

import re

import httpx
import pytest
from django.test import Client

from configurator.services import api_key_revoke
from integrations.models import Integration
from integrations.presets import ScriptApplies
from integrations.services import integration_create, integration_set_enabled, script_create
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard

URL = "/api/v1/match"


def _synced(tenant, name: str, cards: dict[str, str]) -> Integration:
    double = CardDavDouble(cards)
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        settings_values=double.settings(),
        notification_fields=["Company", "Email"],
        start_sync=False,
    )
    assert (
        phone_cache_sync(
            integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
        ).status
        == "ok"
    )
    return integration


@pytest.fixture
def address_book(tenant) -> Integration:
    return _synced(
        tenant,
        "Sales CRM",
        {
            "jan.vcf": vcard(
                "jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV", email="jan@acme.example"
            ),
            "piet.vcf": vcard("piet-2", "Piet Pieters", "cell:0031 6 1234 5678"),
        },
    )


@pytest.fixture
def google(tenant):
    return script_create(
        tenant=tenant,
        integration=None,
        name="Google",
        template="https://www.google.nl?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )


def get(key: str | None, **params):
    if key is None:
        return Client().get(URL, params)
    return Client().get(URL, params, HTTP_AUTHORIZATION=f"Api-Key {key}")


def test_a_known_caller_gets_the_record_notification_and_rendered_screen_pop(api_key, address_book, google):
    response = get(api_key[1], caller_number="020-1234567", caller_name="Reception", device_number="201")

    assert response.status_code == 200
    body = response.json()
    assert body["call"]["caller_number"] == "020-1234567"
    assert body["call"]["caller_number_e164"] == "+31201234567"
    [match] = body["matches"]
    assert match["integration"] == {"id": address_book.pk, "name": "Sales CRM", "preset": "carddav"}
    assert match["record"]["id"] == "jan-1"
    assert match["record"]["type"] == "contact"
    assert match["record"]["url"] == "https://dav.example.com/addressbooks/alice/contacts/jan.vcf"
    assert match["record"]["phone"]["number"] == "+31 (0)20 123 4567"
    assert match["notification"] == {
        "title": "Jan Jansen",
        "fields": [
            {"name": "Company", "label": "Company", "value": "Acme BV"},
            {"name": "Email", "label": "E-mail", "value": "jan@acme.example"},
        ],
    }
    [screen_pop] = match["actions"]
    assert screen_pop["name"] == "Open contact"
    assert screen_pop["url"] == "https://dav.example.com/addressbooks/alice/contacts/jan.vcf"
    assert body["actions"] == [
        {
            "script_id": google.pk,
            "name": "Google",
            "url": "https://www.google.nl?q=0201234567",
            "auto_open": False,
            "integration_id": None,
        }
    ]


@pytest.mark.parametrize(
    "notation",
    [
        "0201234567",
        "+31201234567",
        "0031201234567",
        "+31 (0)20 123 4567",
        "(020) 123-4567",
        "020.123.4567",
        "+31 20 123 4567 ext. 9",
    ],
)
def test_it_matches_the_number_in_any_notation(api_key, address_book, notation):
    response = get(api_key[1], caller_number=notation)

    assert response.status_code == 200
    assert [m["notification"]["title"] for m in response.json()["matches"]] == ["Jan Jansen"]


def test_post_with_a_json_body_answers_like_get(api_key, address_book):
    response = Client().post(
        URL,
        {"caller_number": "06 12345678", "direction": "in", "start_time": "1763719200"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
    )

    assert response.status_code == 200
    body = response.json()
    assert [m["notification"]["title"] for m in body["matches"]] == ["Piet Pieters"]
    assert body["call"]["start_time"] == "2025-11-21T11:00:00+01:00"
    assert body["call"]["direction"] == "in"


def test_no_match_is_a_200_with_the_on_no_match_actions(tenant, api_key, address_book, google):
    create = script_create(
        tenant=tenant,
        integration=address_book,
        name="Create contact",
        template="https://crm.example.com/new?phone=#(Caller number:e164)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    only_on_match = script_create(
        tenant=tenant,
        integration=None,
        name="Only on match",
        template="https://x.example/#(Caller name)",
    )

    response = get(api_key[1], caller_number="+32 2 555 12 12")

    assert response.status_code == 200
    body = response.json()
    assert body["matches"] == []
    urls = {a["script_id"]: a["url"] for a in body["actions"]}
    assert urls == {
        google.pk: "https://www.google.nl?q=%2B3225551212",
        create.pk: "https://crm.example.com/new?phone=%2B3225551212",
    }
    assert only_on_match.pk not in urls


def test_a_disabled_integration_matches_nothing_and_its_cache_is_kept(tenant, api_key, address_book):
    integration_set_enabled(tenant=tenant, integration=address_book, enabled=False)
    assert get(api_key[1], caller_number="0201234567").json()["matches"] == []

    integration_set_enabled(tenant=tenant, integration=address_book, enabled=True)
    assert len(get(api_key[1], caller_number="0201234567").json()["matches"]) == 1


def test_matches_are_ordered_by_integration_then_name(tenant, api_key, address_book):
    _synced(tenant, "Support CRM", {"a.vcf": vcard("s-1", "Anna Support", "work:020 123 4567")})
    Integration.objects.filter(pk=address_book.pk).update(position=5)

    body = get(api_key[1], caller_number="0201234567").json()

    assert [m["integration"]["name"] for m in body["matches"]] == ["Support CRM", "Sales CRM"]


def test_withheld_numbers_match_nothing_and_get_no_number_based_actions(api_key, address_book, google):
    response = get(api_key[1], caller_number="anonymous")

    assert response.status_code == 200
    body = response.json()
    assert body["call"]["anonymous"] is True
    assert body["matches"] == []
    assert body["actions"] == []


def test_an_internal_extension_is_not_an_error_and_matches_nothing(api_key, address_book):
    response = get(api_key[1], caller_number="201")

    assert response.status_code == 200
    assert response.json()["call"]["caller_number_e164"] is None
    assert response.json()["matches"] == []


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({}, "caller_number", "required"),
        ({"caller_number": ""}, "caller_number", "required"),
        ({"caller_number": "call me maybe"}, "caller_number", "characters"),
        ({"caller_number": "+999 123 456 789"}, "caller_number", "not a phone number"),
        ({"caller_number": "0201234567", "start_time": "yesterday"}, "start_time", "ISO 8601"),
        ({"caller_number": "0201234567", "direction": "sideways"}, "direction", '"in" or "out"'),
        ({"caller_number": "0201234567", "colour": "red"}, "colour", "unknown parameter"),
        ({"caller_number": "1" * 80}, "caller_number", "longer than"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter_and_why(api_key, params, parameter, words):
    response = get(api_key[1], **params)

    assert response.status_code == 400
    body = response.json()
    assert parameter in body["errors"]
    assert words in body["errors"][parameter]
    assert parameter in body["detail"]


def test_a_non_object_json_body_is_a_400(api_key):
    response = Client().post(
        URL, "[1, 2]", content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}"
    )

    assert response.status_code == 400


def test_a_missing_key_is_a_401_that_says_how_to_authenticate(address_book):
    response = get(None, caller_number="0201234567")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert "Api-Key" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer abc", "Api-Key", "Api-Key nonsense.key", "Token x"])
def test_a_wrong_key_is_a_401(tenant, header):
    response = Client().get(URL, {"caller_number": "0201234567"}, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401


def test_a_revoked_key_is_a_401(tenant, api_key, address_book):
    api_key_revoke(tenant=tenant, prefix=api_key[0].prefix)

    assert get(api_key[1], caller_number="0201234567").status_code == 401


def test_a_key_never_sees_another_tenants_data(
    tenant, other_tenant, api_key, other_api_key, address_book, google
):
    _synced(other_tenant, "Globex CRM", {"x.vcf": vcard("g-1", "Globex Person", "work:+31 20 123 4567")})

    mine = get(api_key[1], caller_number="0201234567").json()
    theirs = get(other_api_key[1], caller_number="+31201234567").json()

    assert [m["notification"]["title"] for m in mine["matches"]] == ["Jan Jansen"]
    assert [m["notification"]["title"] for m in theirs["matches"]] == ["Globex Person"]
    assert theirs["actions"] == []  # the Google script is the other tenant's


def test_another_tenants_country_decides_how_national_numbers_are_read(other_tenant, other_api_key):
    body = get(other_api_key[1], caller_number="02 555 12 12").json()

    assert body["call"]["caller_number_e164"] == "+3225551212"


def test_the_openapi_schema_and_docs_are_served(db):
    schema = Client().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/match"])
    assert "caller_number" in str(paths["/api/v1/match"]["get"]["parameters"])

    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', docs.content.decode())
    assert assets
    assert all(asset.startswith("/static/") for asset in assets), assets  # served here, not from a CDN


def test_an_integration_moved_to_another_tenant_no_longer_matches_for_the_old_one(
    tenant, other_tenant, api_key, other_api_key, address_book
):
    # Issue 5, finding 4: moving an integration in the Django admin leaves its phone-cache rows
    # (tenant = the old one) behind; the match must also check the integration's own tenant.
    screen_pop = script_create(
        tenant=tenant,
        integration=address_book,
        name="Search CRM",
        template="https://crm.example.com/search?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )
    assert len(get(api_key[1], caller_number="0201234567").json()["matches"]) == 1

    Integration.objects.filter(pk=address_book.pk).update(tenant=other_tenant)

    mine = get(api_key[1], caller_number="0201234567").json()
    assert mine["matches"] == []
    assert screen_pop.pk not in [a["script_id"] for a in mine["actions"]]
    theirs = get(other_api_key[1], caller_number="+31201234567").json()
    assert theirs["matches"] == []
    assert theirs["actions"] == []
