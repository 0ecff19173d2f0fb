"""HubSpot beyond the contract suite: its 429s (`policyName`), auth failure and token endpoint
answers, the record URLs, incremental search with the 10,000 result cap and deletions, lookup.

The doubles follow https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm
and the usage-details page's 429 body (quoted in community.hubspot.com/t5/APIs-Integrations/
Hubspot-User-experience/m-p/511716).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from django.core.exceptions import ValidationError

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy
from integrations.connectors.hubspot import (
    HUBSPOT,
    HUBSPOT_OAUTH,
    HubSpotConnector,
    hubspot_record_url,
)
from integrations.oauth import authorization_start, token_request
from integrations.registry import get_preset
from integrations.services import integration_settings_clean, preset_default_scripts
from integrations.ui_helpers import preset_matches

SETTINGS = {
    "auth_kind": "private_app",
    "access_token": "pat-na1-token",
    "hub_id": "4711",
    "ui_domain": "app.hubspot.com",
}
LAST_PAGE: dict[str, Any] = {"results": []}


def contact(
    record_id: str, *, phone: str = "+31 20 123 4567", modified: str = "2026-03-01T10:00:00.000Z"
) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": {
            "firstname": "Jane",
            "lastname": record_id,
            "phone": phone,
            "lastmodifieddate": modified,
        },
        "archived": False,
    }


def connector(
    handler: Callable[[httpx.Request], httpx.Response], waits: list[float] | None = None, **settings: str
) -> HubSpotConnector:
    return HubSpotConnector(
        settings={**SETTINGS, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def rate_limited(policy: str, message: str) -> httpx.Response:
    # HubSpot's documented 429: JSON with errorType RATE_LIMIT and the policy hit, no Retry-After.
    return httpx.Response(
        429,
        headers={
            "Content-Type": "application/json;charset=utf-8",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "0" if policy == "DAILY" else "120000",
            "X-HubSpot-RateLimit-Secondly": "19",
            "X-HubSpot-RateLimit-Secondly-Remaining": "0",
        },
        json={
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": policy,
            "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
        },
    )


def test_the_ten_secondly_limit_is_waited_out_and_the_listing_completes() -> None:
    answers = [rate_limited("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")]

    def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop()
        if request.url.path.endswith("/contacts"):
            return httpx.Response(200, json={"results": [contact("151")]})
        return httpx.Response(200, json=LAST_PAGE)

    waits: list[float] = []
    records = list(connector(handler, waits).iter_records())

    assert waits == [10.0]
    assert [r.id for r in records if isinstance(r, CrmRecord)] == ["151"]


def test_the_daily_limit_ends_the_sync_as_temporary_with_a_retry_later() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return rate_limited("DAILY", "You have reached your daily limit.")

    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        list(connector(handler).iter_records())

    assert not caught.value.permanent
    assert caught.value.retry_after == 3600
    assert len(requests) == 1  # no retries burnt against a daily limit


def test_an_expired_or_wrong_token_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={
                "status": "error",
                "message": "Authentication credentials not found.",
                "correlationId": "b7f0a4d1-1111-4bd2-9a8e-1f2a3b4c5d6e",
                "category": "INVALID_AUTHENTICATION",
            },
        )

    with pytest.raises(ConnectorError, match=r"HubSpot refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_the_private_app_token_is_sent_as_bearer_to_the_global_api_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=LAST_PAGE)

    connector(handler).test_connection()

    assert seen[0].url.host == "api.hubapi.com"
    assert seen[0].headers["Authorization"] == "Bearer pat-na1-token"
    assert seen[0].url.params["limit"] == "100"


def test_oauth_is_declared_only_for_the_oauth_kind_and_posts_the_client_in_the_form() -> None:
    assert HubSpotConnector.oauth_config(SETTINGS) is None
    config = HubSpotConnector.oauth_config({**SETTINGS, "auth_kind": "oauth2"})
    assert config is HUBSPOT_OAUTH
    assert "crm.objects.contacts.read" in config.scopes
    assert "crm.objects.companies.read" in config.scopes
    forms: list[dict[str, list[str]]] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://api.hubapi.com/oauth/v1/token"
        forms.append(parse_qs(request.content.decode()))
        # https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth: the token answer.
        return httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "refresh_token": "6f18f21e-a743-4509-b7fd-1a5e632fffa1",
                "access_token": "CN2zlYnmLBICAQIYgZXFLyCWp1Yoy_9GMhkAgddk-zDc",
                "expires_in": 1800,
            },
        )

    settings = {"oauth_client_id": "app-client", "oauth_client_secret": "app-secret"}
    token = token_request(
        config,
        settings=settings,
        data={"grant_type": "authorization_code", "code": "code-1"},
        now=1_000.0,
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )

    assert token["access_token"].startswith("CN2zlYnm")
    assert token["refresh_token"] == "6f18f21e-a743-4509-b7fd-1a5e632fffa1"
    assert token["expires_at"] == "2800"
    assert token["instance_url"] == ""  # HubSpot hands back no API host: api.hubapi.com stays
    assert forms[0]["client_id"] == ["app-client"]
    assert forms[0]["client_secret"] == ["app-secret"]


def test_a_revoked_refresh_token_is_a_permanent_failure() -> None:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "status": "BAD_REFRESH_TOKEN",
                "message": "missing or invalid refresh token",
                "correlationId": "0e4e1a1c-1d0f-4a4a-8d2e-3f0a1b2c3d4e",
                "requestId": "a1b2c3d4",
            },
        )

    with pytest.raises(ConnectorError) as caught:
        token_request(
            HUBSPOT_OAUTH,
            settings={"oauth_client_id": "app-client", "oauth_client_secret": "app-secret"},
            data={"grant_type": "refresh_token", "refresh_token": "old"},
            client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
        )

    assert caught.value.permanent


@pytest.mark.parametrize(
    ("ui_domain", "record_type", "expected"),
    [
        ("app.hubspot.com", "contact", "https://app.hubspot.com/contacts/4711/record/0-1/151"),
        ("app-eu1.hubspot.com", "contact", "https://app-eu1.hubspot.com/contacts/4711/record/0-1/151"),
        ("app-eu1.hubspot.com", "company", "https://app-eu1.hubspot.com/contacts/4711/record/0-2/151"),
    ],
)
def test_the_record_url_is_the_record_page_of_the_accounts_ui_domain(
    ui_domain: str, record_type: str, expected: str
) -> None:
    assert (
        hubspot_record_url(ui_domain=ui_domain, hub_id="4711", record_type=record_type, record_id="151")
        == expected
    )


def test_settings_problems_name_the_missing_token_and_a_hub_id_that_is_not_a_number() -> None:
    problems = HubSpotConnector.settings_problems({"auth_kind": "private_app", "hub_id": "my-portal"})

    assert set(problems) == {"access_token", "hub_id"}
    assert HubSpotConnector.settings_problems(SETTINGS) == {}
    assert set(HubSpotConnector.settings_problems({"auth_kind": "oauth2", "hub_id": "4711"})) == {
        "oauth_client_id"
    }


def test_the_preset_is_found_pops_the_record_and_has_no_create_script() -> None:
    assert get_preset("hubspot") is HUBSPOT
    scripts = preset_default_scripts(preset=HUBSPOT, settings_values=SETTINGS)
    assert [(s.name, s.template) for s in scripts] == [("Open in HubSpot", "$(PopUpUri)")]


def _search_double(
    pages: dict[tuple[str, str, str], dict[str, Any]],
    archived: dict[str, list[dict[str, Any]]],
    bodies: list[dict[str, Any]],
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            bodies.append(body)
            kind = request.url.path.split("/")[-2]
            window = body["filterGroups"][0]["filters"][0]["value"]
            return httpx.Response(200, json=pages.get((kind, window, body.get("after", "")), LAST_PAGE))
        assert request.url.params["archived"] == "true"
        return httpx.Response(200, json={"results": archived.get(request.url.path.rsplit("/", 1)[-1], [])})

    return handler


def test_changes_come_from_the_search_sorted_by_modification_with_a_new_window_at_the_cap() -> None:
    since = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    start = str(int(since.timestamp() * 1000))
    later = dt.datetime(2026, 3, 1, 11, 0, tzinfo=dt.UTC)
    pages: dict[tuple[str, str, str], dict[str, Any]] = {
        ("contacts", start, ""): {
            "total": 12000,
            "results": [contact("151")],
            "paging": {"next": {"after": "200"}},
        },
        # The page at offset 9,800 is the last one the cap allows; the next starts a new window.
        ("contacts", start, "200"): {
            "results": [contact("152", modified="2026-03-01T11:00:00.000Z")],
            "paging": {"next": {"after": "9800"}},
        },
        ("contacts", start, "9800"): {
            "results": [contact("153", modified="2026-03-01T11:00:00.000Z")],
            "paging": {"next": {"after": "10000"}},
        },
        ("contacts", str(int(later.timestamp() * 1000)), ""): {
            "results": [
                contact("153", modified="2026-03-01T11:00:00.000Z"),
                contact("154", modified="2026-03-01T11:30:00.000Z"),
            ]
        },
    }
    archived = {
        "contacts": [
            {"id": "140", "properties": {}, "archived": True, "archivedAt": "2026-03-01T09:30:00.000Z"},
            {"id": "141", "properties": {}, "archived": True, "archivedAt": "2026-02-01T09:30:00.000Z"},
        ],
        "companies": [
            {"id": "9009", "properties": {}, "archived": True, "archivedAt": "2026-03-02T00:00:00Z"}
        ],
    }
    bodies: list[dict[str, Any]] = []

    items = list(connector(_search_double(pages, archived, bodies)).iter_changes(since))

    assert [r.id for r in items if isinstance(r, CrmRecord)] == ["151", "152", "153", "153", "154"]
    assert [(d.id, d.type) for d in items if isinstance(d, DeletedRecord)] == [
        ("140", "contact"),
        ("9009", "company"),
    ]
    first = bodies[0]
    assert first["filterGroups"] == [
        {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": start}]}
    ]
    assert first["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert first["limit"] == 200
    assert "after" not in first
    company_search = [
        b for b in bodies if b["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    ]
    assert len(company_search) == 1


def test_more_changes_at_one_moment_than_the_cap_fail_clearly() -> None:
    since = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    start = str(int(since.timestamp() * 1000))
    same = "2026-03-01T09:00:00.000Z"
    pages: dict[tuple[str, str, str], dict[str, Any]] = {
        ("contacts", start, ""): {
            "results": [contact("151", modified=same)],
            "paging": {"next": {"after": "9900"}},
        }
    }

    with pytest.raises(ConnectorError, match="same moment"):
        list(connector(_search_double(pages, {}, [])).iter_changes(since))


def test_lookup_searches_the_phone_properties_and_returns_records() -> None:
    bodies: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append((request.url.path, body))
        if request.url.path == "/crm/v3/objects/contacts/search":
            return httpx.Response(200, json={"total": 1, "results": [contact("151", phone="+31201234567")]})
        return httpx.Response(200, json={"total": 0, "results": []})

    records = connector(handler).lookup("+31201234567")

    assert [(r.id, r.url) for r in records] == [
        ("151", "https://app.hubspot.com/contacts/4711/record/0-1/151")
    ]
    path, body = bodies[0]
    assert path == "/crm/v3/objects/contacts/search"
    values = [(f["propertyName"], f["value"]) for g in body["filterGroups"] for f in g["filters"]]
    assert values == [
        ("phone", "+31201234567"),
        ("mobilephone", "+31201234567"),
        ("hs_searchable_calculated_phone_number", "201234567"),
        ("hs_searchable_calculated_mobile_number", "201234567"),
    ]
    assert len(body["filterGroups"]) <= 5  # HubSpot's limit on filter groups
    assert bodies[1][0] == "/crm/v3/objects/companies/search"


def test_a_search_answer_without_results_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "message": "unexpected"})

    with pytest.raises(ConnectorError, match="without a record list"):
        connector(handler).lookup("+31201234567")


@pytest.mark.parametrize("query", ["HubSpot", "hub spot", "hubapi", "sales hub"])
def test_the_wizard_search_finds_hubspot_by_name_and_aliases(query: str) -> None:
    assert preset_matches(HUBSPOT, query)


def test_the_settings_form_keeps_the_token_secret_and_names_what_is_missing() -> None:
    plain, secrets = integration_settings_clean(preset=HUBSPOT, values=SETTINGS)
    assert secrets == {"access_token": "pat-na1-token"}
    assert plain["hub_id"] == "4711"

    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=HUBSPOT, values={"auth_kind": "private_app", "hub_id": "4711"})
    assert set(caught.value.message_dict) == {"access_token"}


def test_the_connect_button_authorizes_for_the_hub_with_the_required_scopes() -> None:
    settings = {
        **SETTINGS,
        "auth_kind": "oauth2",
        "oauth_client_id": "app-client",
        "oauth_scopes": "crm.lists.read",
    }
    config = HubSpotConnector.oauth_config(settings)
    assert config is not None

    started = authorization_start(
        config, settings=settings, redirect_uri="https://cti.example/oauth/callback"
    )

    url = httpx.URL(started.url)
    assert (url.host, url.path) == ("app.hubspot.com", "/oauth/4711/authorize")
    assert url.params["scope"].split() == [
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.companies.read",
        "crm.lists.read",
    ]
    assert url.params["client_id"] == "app-client"
