"""Pipedrive beyond the contract suite: the API token header and host, OAuth's `api_domain`, its
429 and rate-limit headers, its auth failure, incremental listing, lookup, the record URL.

Doubles follow https://pipedrive.readme.io/docs/core-api-concepts-authentication (x-api-token),
https://developers.pipedrive.com/docs/api/v1/Oauth and the changelog on `api_domain`, the SDK
docs of /api/v2/persons and /api/v2/persons/search (github.com/pipedrive/client-php).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.pipedrive import (
    PIPEDRIVE,
    PIPEDRIVE_OAUTH,
    PipedriveConnector,
    company_domain,
    pipedrive_record_url,
)
from integrations.oauth import INTEGRATION_ID_SETTING, OAuth2Config, token_request
from integrations.registry import get_preset
from integrations.services import integration_settings_clean, preset_default_scripts
from integrations.ui_helpers import preset_matches

TOKEN = "659c9fddb16335e48cc67114694b52074e812e03"
SETTINGS = {"company_domain": "acme", "auth_kind": "api_token", "api_token": TOKEN}
LAST: dict[str, Any] = {"success": True, "data": [], "additional_data": {"next_cursor": None}}
JANE = {
    "id": 42,
    "name": "Jane Smith",
    "phones": [{"value": "+31201234567", "primary": True, "label": "work"}],
    "emails": [{"value": "jane@example.com", "primary": True, "label": "work"}],
}


def connector(
    handler: Callable[[httpx.Request], httpx.Response], waits: list[float] | None = None, **settings: str
) -> PipedriveConnector:
    return PipedriveConnector(
        settings={**SETTINGS, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def test_the_api_token_goes_in_the_x_api_token_header_to_the_company_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=LAST)

    connector(handler).test_connection()

    assert str(seen[0].url) == "https://acme.pipedrive.com/api/v2/persons?limit=100"
    assert seen[0].headers["x-api-token"] == TOKEN
    assert "api_token" not in seen[0].url.params
    assert "Authorization" not in seen[0].headers


def test_the_token_answers_api_domain_is_the_host_called_with_oauth(monkeypatch: pytest.MonkeyPatch) -> None:
    # https://developers.pipedrive.com/docs/api/v1/Oauth: client id and secret as HTTP Basic.
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://oauth.pipedrive.com/oauth/token"
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"client-1:secret-1").decode()
        return httpx.Response(
            200,
            json={
                "access_token": "53:179:6317ef33a9fb0c4d604ce0695dad44a12bad44c9",
                "token_type": "Bearer",
                "expires_in": 3599,
                "refresh_token": "53:179:5de56a83d0ce2c0dc6d2c4b7fc0a6c5b8a7c6d5e",
                "scope": "base,contacts:read,search:read",
                "api_domain": "https://acme-eu.pipedrive.com",
            },
        )

    token = token_request(
        PIPEDRIVE_OAUTH,
        settings={"oauth_client_id": "client-1", "oauth_client_secret": "secret-1"},
        data={"grant_type": "authorization_code", "code": "c-1", "redirect_uri": "https://cti.example/cb"},
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )
    assert token["instance_url"] == "https://acme-eu.pipedrive.com"

    def stored(integration_id: int, config: OAuth2Config, *, settings: Any) -> dict[str, Any]:
        return token

    monkeypatch.setattr(oauth, "access_token", stored)
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={**LAST, "data": [JANE]})

    oauth_settings = {"auth_kind": "oauth2", INTEGRATION_ID_SETTING: "1"}
    records = list(connector(api, None, **oauth_settings).iter_records())

    assert seen[0].url.host == "acme-eu.pipedrive.com"
    assert seen[0].headers["Authorization"] == "Bearer 53:179:6317ef33a9fb0c4d604ce0695dad44a12bad44c9"
    assert "x-api-token" not in seen[0].headers
    assert [r.url for r in records if isinstance(r, CrmRecord)] == ["https://acme.pipedrive.com/person/42"]


def test_oauth_is_declared_only_for_the_oauth_kind() -> None:
    assert PipedriveConnector.oauth_config(SETTINGS) is None
    assert PipedriveConnector.oauth_config({**SETTINGS, "auth_kind": "oauth2"}) is PIPEDRIVE_OAUTH


def test_a_429_with_retry_after_is_waited_out() -> None:
    answers = [
        httpx.Response(
            429,
            headers={
                "Retry-After": "2",
                "X-RateLimit-Limit": "80",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "2",
            },
            json={"success": False, "error": "Request over limit", "errorCode": 429, "error_info": None},
        )
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else httpx.Response(200, json={**LAST, "data": [JANE]})

    waits: list[float] = []
    records = list(connector(handler, waits).iter_records())

    assert waits == [2.0]
    assert [r.id for r in records] == ["42"]


def test_a_used_up_window_announced_by_the_headers_is_waited_before_the_next_page() -> None:
    pages: Iterator[httpx.Response] = iter(
        [
            httpx.Response(
                200,
                headers={"X-RateLimit-Limit": "80", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"},
                json={"success": True, "data": [JANE], "additional_data": {"next_cursor": "c2"}},
            ),
            httpx.Response(200, json=LAST),
            httpx.Response(200, json=LAST),  # organizationFields: no phone fields
        ]
    )
    waits: list[float] = []

    list(connector(lambda request: next(pages), waits).iter_records())

    assert waits == [2.0]


def test_a_wrong_token_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={
                "success": False,
                "error": "unauthorized access",
                "errorCode": 401,
                "error_info": "Please check developers.pipedrive.com for more information.",
            },
        )

    with pytest.raises(ConnectorError, match=r"Pipedrive refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_changes_use_updated_since_in_utc_sorted_by_update_time() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={**LAST, "data": [JANE]})

    since = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert [r.id for r in items] == ["42"]
    assert dict(seen[0].url.params) == {
        "updated_since": "2026-03-01T09:00:00Z",
        "sort_by": "update_time",
        "sort_direction": "asc",
        "limit": "100",
    }
    assert PIPEDRIVE.connector_class is PipedriveConnector
    assert PipedriveConnector.incremental_supported(SETTINGS)


def test_lookup_searches_persons_by_the_national_number() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "success": True,
                "data": {
                    "items": [
                        {
                            "result_score": 0.92,
                            "item": {
                                "id": 42,
                                "type": "person",
                                "name": "Jane Smith",
                                "phones": ["+31 20 123 4567"],
                                "emails": ["jane@example.com"],
                                "organization": {"id": 7, "name": "Acme BV", "address": None},
                            },
                        },
                        {
                            "result_score": 0.1,
                            "item": {"id": 43, "type": "person", "name": "No Phone", "phones": []},
                        },
                    ]
                },
                "additional_data": {"next_cursor": None},
            },
        )

    records = connector(handler).lookup("+31201234567")

    assert seen[0].url.path == "/api/v2/persons/search"
    assert dict(seen[0].url.params) == {"term": "201234567", "fields": "phone", "limit": "20"}
    assert [(r.id, r.phones[0].number, r.fields["Company"], r.fields["Email"]) for r in records] == [
        ("42", "+31 20 123 4567", "Acme BV", "jane@example.com")
    ]


def test_a_page_without_the_data_list_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "items": []})

    with pytest.raises(ConnectorError, match="without a record list") as caught:
        list(connector(handler).iter_records())

    assert caught.value.permanent


@pytest.mark.parametrize("written", ["acme", "ACME.pipedrive.com", "https://acme.pipedrive.com/"])
def test_the_company_domain_is_read_from_a_name_host_or_url(written: str) -> None:
    assert company_domain({"company_domain": written}) == "acme"


def test_record_urls_and_settings_problems() -> None:
    assert pipedrive_record_url("acme", "organization", "7") == "https://acme.pipedrive.com/organization/7"
    problems = PipedriveConnector.settings_problems(
        {"company_domain": "acme corp", "auth_kind": "api_token", "organization_phone_fields": "a b"}
    )
    assert set(problems) == {"company_domain", "api_token", "organization_phone_fields"}
    assert PipedriveConnector.settings_problems(SETTINGS) == {}


def test_the_preset_is_in_the_catalog_with_its_open_script() -> None:
    assert get_preset("pipedrive") is PIPEDRIVE
    scripts = preset_default_scripts(preset=PIPEDRIVE, settings_values=SETTINGS)
    assert [(s.name, s.template) for s in scripts] == [("Open in Pipedrive", "$(PopUpUri)")]


@pytest.mark.parametrize("query", ["Pipedrive", "pipe drive"])
def test_the_wizard_search_finds_pipedrive_by_name_and_aliases(query: str) -> None:
    assert preset_matches(PIPEDRIVE, query)


def test_the_settings_form_keeps_the_token_secret_and_checks_the_domain() -> None:
    plain, secrets = integration_settings_clean(preset=PIPEDRIVE, values=SETTINGS)
    assert secrets == {"api_token": TOKEN}
    assert plain["company_domain"] == "acme"

    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=PIPEDRIVE, values={**SETTINGS, "company_domain": "acme corp"})
    assert set(caught.value.message_dict) == {"company_domain"}


def test_organization_phone_fields_are_discovered_unless_the_setting_names_them() -> None:
    seen: list[httpx.Request] = []
    phone_key = "2d1c3b4a59687f0e1d2c3b4a5968778695a4b3c2"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v2/organizationFields":
            fields = [
                {
                    "field_name": "Name",
                    "field_code": "name",
                    "field_type": "varchar",
                    "is_custom_field": False,
                },
                {
                    "field_name": "Switchboard",
                    "field_code": phone_key,
                    "field_type": "phone",
                    "is_custom_field": True,
                },
            ]
            return httpx.Response(200, json={**LAST, "data": fields})
        if request.url.path == "/api/v2/organizations":
            org = {"id": 7, "name": "Acme BV", "custom_fields": {phone_key: "+31 20 765 4321", "other": "x"}}
            return httpx.Response(200, json={**LAST, "data": [org]})
        return httpx.Response(200, json=LAST)

    records = list(connector(handler).iter_records())

    assert [r.url.path for r in seen] == [
        "/api/v2/persons",
        "/api/v2/organizationFields",
        "/api/v2/organizations",
    ]
    assert seen[2].url.params["custom_fields"] == phone_key
    assert [(r.id, r.type, r.phones[0].number) for r in records if isinstance(r, CrmRecord)] == [
        ("7", "organization", "+31 20 765 4321")
    ]

    seen.clear()
    list(connector(handler, None, organization_phone_fields="abc123").iter_records())
    assert [r.url.path for r in seen] == ["/api/v2/persons", "/api/v2/organizations"]
    assert seen[1].url.params["custom_fields"] == "abc123"
