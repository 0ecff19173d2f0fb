"""Close beyond the contract suite: the API key as Basic user, its 429 (`RateLimit` header and the
deprecated `rate_reset` body), its auth failure, incremental search with deletions, the lead URL.

Doubles follow https://developer.close.com/api/overview/rate-limits, .../pagination,
.../resources/advanced-filtering and .../resources/events.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy
from integrations.connectors.close import CLOSE, CLOSE_OAUTH, CloseConnector, changed_leads_query
from integrations.oauth import token_request
from integrations.registry import get_preset
from integrations.services import integration_settings_clean, preset_default_scripts
from integrations.ui_helpers import preset_matches

KEY = "api_6cLGtXpaXjmmJ0yBNtB3x1.3KtD4uqoEI4lZsuT5JYSPn"
LEAD = {
    "id": "lead_bwwWG475zqWiQGur0thQshwVXo8rIYecQHDWFanqhen",
    "display_name": "Wayne Enterprises",
    "html_url": "https://app.close.com/lead/lead_bwwWG475zqWiQGur0thQshwVXo8rIYecQHDWFanqhen/",
    "contacts": [
        {
            "id": "cont_1",
            "name": "Bruce Wayne",
            "phones": [{"phone": "+16503334444", "phone_formatted": "+1 650-333-4444", "type": "office"}],
        }
    ],
}
ONE_PAGE: dict[str, Any] = {"has_more": False, "data": [LEAD]}


def connector(
    handler: Callable[[httpx.Request], httpx.Response], waits: list[float] | None = None
) -> CloseConnector:
    return CloseConnector(
        settings={"api_key": KEY},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def test_the_api_key_is_the_basic_user_with_an_empty_password() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ONE_PAGE)

    connector(handler).test_connection()

    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert str(seen[0].url).startswith("https://api.close.com/api/v1/lead/?")
    assert dict(seen[0].url.params) == {
        "_fields": "id,display_name,html_url,contacts",
        "_limit": "100",
        "_skip": "0",
    }


def test_a_429_waits_for_the_ratelimit_headers_reset() -> None:
    answers = [
        httpx.Response(
            429,
            headers={"RateLimit": "limit=240, remaining=0, reset=3"},
            json={"error": {"message": "API call count exceeded for this 15 second window"}},
        )
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else httpx.Response(200, json=ONE_PAGE)

    waits: list[float] = []
    records = list(connector(handler, waits).iter_records())

    assert waits == [3.0]
    assert [r.id for r in records] == ["cont_1"]


def test_a_429_with_only_the_deprecated_body_waits_its_rate_reset() -> None:
    answers = [
        httpx.Response(
            429,
            json={
                "error": {
                    "rate_reset": 1.5,
                    "message": "API call count exceeded for this 15 second window",
                    "rate_limit": 600,
                    "rate_window": 15,
                    "rate_limit_type": "key",
                    "rate_endpoint_group": "lead_get",
                }
            },
        )
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else httpx.Response(200, json=ONE_PAGE)

    waits: list[float] = []
    list(connector(handler, waits).iter_records())

    assert waits == [1.5]


def test_a_window_used_up_on_a_successful_page_is_waited_before_the_next() -> None:
    pages: Iterator[httpx.Response] = iter(
        [
            httpx.Response(
                200,
                headers={"RateLimit": "limit=240, remaining=0, reset=2"},
                json={**ONE_PAGE, "has_more": True},
            ),
            httpx.Response(200, json={"has_more": False, "data": []}),
        ]
    )
    waits: list[float] = []

    list(connector(lambda request: next(pages), waits).iter_records())

    assert waits == [2.0]


def test_a_revoked_api_key_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "The API key is invalid or was revoked."})

    with pytest.raises(ConnectorError, match=r"Close refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_a_lead_without_html_url_pops_its_page_on_app_close_com() -> None:
    lead = {**LEAD, "html_url": None}

    records = list(connector(lambda r: httpx.Response(200, json=ONE_PAGE)).lead_records(lead))

    assert [r.url for r in records if isinstance(r, CrmRecord)] == [
        "https://app.close.com/lead/lead_bwwWG475zqWiQGur0thQshwVXo8rIYecQHDWFanqhen/"
    ]


def test_changes_come_from_advanced_filtering_then_the_event_log_of_deletions() -> None:
    bodies: list[dict[str, Any]] = []
    event_queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/data/search/":
            body = json.loads(request.content)
            bodies.append(body)
            if "cursor" not in body:
                return httpx.Response(200, json={"data": [LEAD], "cursor": "eyJza2lwIjoyMDB9"})
            return httpx.Response(200, json={"data": [], "cursor": None})
        assert request.url.path == "/api/v1/event/"
        event_queries.append(dict(request.url.params))
        if "_cursor" not in request.url.params:
            return httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "id": "ev_1",
                            "object_type": "contact",
                            "action": "deleted",
                            "object_id": "cont_gone",
                            "lead_id": "lead_x",
                            "date_updated": "2026-03-01T09:30:00.000000",
                        }
                    ],
                    "cursor_next": "ZXYy",
                },
            )
        return httpx.Response(200, json={"data": [], "cursor_next": None})

    since = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert [r.id for r in items if isinstance(r, CrmRecord)] == ["cont_1"]
    assert [(d.id, d.type) for d in items if isinstance(d, DeletedRecord)] == [("cont_gone", "contact")]
    assert bodies[0]["query"] == changed_leads_query("2026-03-01T09:00:00+00:00")
    assert bodies[0]["_fields"] == {"lead": ["id", "display_name", "html_url", "contacts"]}
    assert bodies[1]["cursor"] == "eyJza2lwIjoyMDB9"
    assert event_queries[0] == {
        "object_type": "contact",
        "action": "deleted",
        "date_updated__gte": "2026-03-01T09:00:00+00:00",
    }
    assert event_queries[1]["_cursor"] == "ZXYy"


def test_the_changed_leads_query_covers_the_lead_and_its_contacts() -> None:
    query = changed_leads_query("2026-03-01T09:00:00+00:00")

    either = query["queries"][1]
    assert either["type"] == "or"
    lead_condition, related = either["queries"]
    assert lead_condition["field"]["object_type"] == "lead"
    assert lead_condition["condition"] == {
        "type": "moment_range",
        "on_or_after": {"type": "fixed_utc", "value": "2026-03-01T09:00:00+00:00"},
    }
    assert related["related_object_type"] == "contact"
    assert related["related_query"]["field"]["field_name"] == "date_updated"


def test_a_search_cursor_coming_back_twice_stops_the_listing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [], "cursor": "same"})

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(connector(handler).iter_changes(dt.datetime(2026, 3, 1, tzinfo=dt.UTC)))


def test_close_has_no_live_lookup_and_needs_its_key() -> None:
    assert not CloseConnector.supports_lookup
    with pytest.raises(ConnectorError) as caught:
        connector(lambda r: httpx.Response(200, json=ONE_PAGE)).lookup("+16503334444")
    assert caught.value.permanent
    assert CloseConnector.settings_problems({"api_key": " "}) == {
        "api_key": "enter the API key (Settings > Developer > API Keys)."
    }
    assert CloseConnector.settings_problems({"api_key": KEY}) == {}


def test_the_preset_is_in_the_catalog_and_opens_the_lead() -> None:
    assert get_preset("close") is CLOSE
    scripts = preset_default_scripts(preset=CLOSE, settings_values={"api_key": KEY})
    assert [(s.name, s.template) for s in scripts] == [("Open lead in Close", "$(PopUpUri)")]


@pytest.mark.parametrize("query", ["Close", "close.io", "closeio", "close crm"])
def test_the_wizard_search_finds_close_by_name_and_aliases(query: str) -> None:
    assert preset_matches(CLOSE, query)


def test_the_settings_form_keeps_the_api_key_secret() -> None:
    plain, secrets = integration_settings_clean(preset=CLOSE, values={"api_key": KEY})
    assert (plain, secrets) == ({"auth_kind": "api_key"}, {"api_key": KEY})

    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=CLOSE, values={})
    assert set(caught.value.message_dict) == {"api_key"}


def test_oauth_posts_the_client_in_the_form_and_the_token_is_sent_as_bearer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CloseConnector.oauth_config({"api_key": KEY}) is None
    assert CloseConnector.oauth_config({"auth_kind": "oauth2"}) is CLOSE_OAUTH
    forms: list[str] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://api.close.com/oauth2/token/"
        forms.append(request.content.decode())
        # https://developer.close.com/api/overview/oauth-authentication: the token answer.
        return httpx.Response(
            200,
            json={
                "access_token": "access_abc",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "refresh_def",
                "scope": "all.full_access offline_access",
                "user_id": "user_xyz",
                "organization_id": "orga_xyz",
            },
        )

    token = token_request(
        CLOSE_OAUTH,
        settings={"oauth_client_id": "oa2client_1", "oauth_client_secret": "s3cret"},
        data={"grant_type": "authorization_code", "code": "CODE"},
        now=0.0,
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )
    assert (token["access_token"], token["refresh_token"], token["expires_at"]) == (
        "access_abc",
        "refresh_def",
        "3600",
    )
    assert "client_id=oa2client_1" in forms[0]
    assert "client_secret=s3cret" in forms[0]

    monkeypatch.setattr(oauth, "access_token", lambda integration_id, config, *, settings: token)
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ONE_PAGE)

    CloseConnector(
        settings={"auth_kind": "oauth2", oauth.INTEGRATION_ID_SETTING: "1"},
        client=httpx.Client(transport=httpx.MockTransport(api)),
    ).test_connection()
    assert seen[0].headers["Authorization"] == "Bearer access_abc"
    assert seen[0].url.host == "api.close.com"
