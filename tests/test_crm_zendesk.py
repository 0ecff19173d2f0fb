"""Zendesk Support beyond the contract suite: its rate-limit and auth-failure answers, the
incremental user export with deleted users, the phone search, the OAuth token endpoint, the
subdomain setting and the record URL.

The doubles follow https://developer.zendesk.com/api-reference/ (users, incremental exports,
search, rate limits) and are served with `httpx.MockTransport`.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import time_machine
from django.core.exceptions import ValidationError

import scripts_engine
from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy, SkippedRecord
from integrations.connectors.zendesk import ZENDESK, ZENDESK_OAUTH, ZendeskConnector
from integrations.oauth import authorization_start, token_request
from integrations.services import integration_settings_clean, preset_default_scripts

SETTINGS = {
    "subdomain": "acme",
    "auth_kind": "api_token",
    "email": "agent@acme.example",
    "api_token": "tok-1",
}
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def connector(handler: Handler, *, waits: list[float] | None = None, **settings: str) -> ZendeskConnector:
    return ZendeskConnector(
        settings={**SETTINGS, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def user(user_id: int, name: str, phone: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "phone": phone,
        "email": f"{user_id}@example.com",
        "role": "end-user",
        "active": True,
        "organization_id": None,
        "updated_at": "2026-03-09T10:00:00Z",
        **extra,
    }


def users_page(*users: Any) -> dict[str, Any]:
    return {"users": list(users), "meta": {"has_more": False, "after_cursor": None, "before_cursor": None}}


def test_the_api_token_is_basic_auth_of_email_slash_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=users_page(user(1, "Jane", "+31201234567")))

    records = list(connector(handler).iter_records())

    expected = base64.b64encode(b"agent@acme.example/token:tok-1").decode()
    assert seen[0].headers["Authorization"] == f"Basic {expected}"
    assert str(seen[0].url).startswith("https://acme.zendesk.com/api/v2/users.json?")
    assert [r.url for r in records if isinstance(r, CrmRecord)] == ["https://acme.zendesk.com/agent/users/1"]


def test_zendesks_401_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Couldn't authenticate you"})

    with pytest.raises(ConnectorError, match=r"Zendesk refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_zendesks_429_with_retry_after_is_waited_out() -> None:
    answers = iter(
        [
            httpx.Response(
                429,
                headers={"Retry-After": "17", "X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "0"},
                text="Too Many Requests",
            ),
            httpx.Response(200, json=users_page(user(1, "Jane", "+31201234567"))),
        ]
    )
    waits: list[float] = []

    records = list(connector(lambda request: next(answers), waits=waits).iter_records())

    assert waits == [17.0]
    assert [r.id for r in records] == ["1"]


def test_a_used_up_ratelimit_window_is_waited_for_before_the_next_page() -> None:
    pages = iter(
        [
            httpx.Response(
                200,
                headers={"ratelimit-limit": "700", "ratelimit-remaining": "0", "ratelimit-reset": "12"},
                json={
                    "users": [user(1, "Jane", "+31201234567")],
                    "meta": {"has_more": True, "after_cursor": "c1"},
                },
            ),
            httpx.Response(200, json=users_page(user(2, "Joe", "+31201234568"))),
        ]
    )
    waits: list[float] = []

    records = list(connector(lambda request: next(pages), waits=waits).iter_records())

    assert waits == [12.0]
    assert [r.id for r in records] == ["1", "2"]


def test_a_deleted_user_in_the_full_listing_is_left_out() -> None:
    page = users_page(user(1, "Jane", "+31201234567"), user(2, "Deleted", "+31201234568", active=False))

    records = list(connector(lambda request: httpx.Response(200, json=page)).iter_records())

    assert [r.id for r in records] == ["1"]


def test_the_last_page_ends_on_has_more_false_even_with_an_after_cursor() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = users_page(user(1, "Jane", "+31201234567"))
        body["meta"]["after_cursor"] = "still-there"
        return httpx.Response(200, json=body)

    assert [r.id for r in connector(handler).iter_records()] == ["1"]
    assert len(requests) == 1


@pytest.mark.parametrize("body", [{"users": "nope"}, {"error": "InvalidEndpoint"}, [], {"users": None}])
def test_an_answer_without_a_users_list_is_a_clear_error(body: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    with pytest.raises(ConnectorError, match='without a "users" list') as caught:
        list(connector(handler).iter_records())

    assert caught.value.permanent


@time_machine.travel(NOW, tick=False)
def test_incremental_export_follows_the_cursor_to_the_end_of_stream_with_deleted_users() -> None:
    since = NOW - dt.timedelta(hours=6)
    requests: list[httpx.Request] = []
    pages = [
        {
            "users": [
                user(1, "Jane", "+31201234567"),
                user(2, "Gone", None, active=False),
                {"name": "no id"},
            ],
            "identities": [{"user_id": 1, "type": "phone_number", "value": "+31612345678"}],
            "after_url": "https://acme.zendesk.com/api/v2/incremental/users/cursor.json?cursor=MTU3",
            "after_cursor": "MTU3",
            "end_of_stream": False,
        },
        {
            "users": [user(3, "No phone", None)],
            "after_url": "https://acme.zendesk.com/api/v2/incremental/users/cursor.json?cursor=MTU4",
            "after_cursor": "MTU4",
            "end_of_stream": True,
        },
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[len(requests) - 1])

    items = list(connector(handler).iter_changes(since))

    assert [request.url.path for request in requests] == ["/api/v2/incremental/users/cursor.json"] * 2
    assert dict(requests[0].url.params) == {
        "start_time": str(int(since.timestamp())),
        "include": "identities",
    }
    assert dict(requests[1].url.params) == {"cursor": "MTU3", "include": "identities"}
    records = [item for item in items if isinstance(item, CrmRecord)]
    assert [(r.id, [p.number for p in r.phones]) for r in records] == [
        ("1", ["+31201234567", "+31612345678"])
    ]
    assert [item for item in items if isinstance(item, DeletedRecord)] == [DeletedRecord(id="2", type="user")]
    assert len([item for item in items if isinstance(item, SkippedRecord)]) == 1
    assert ZendeskConnector.incremental_supported(SETTINGS)


@time_machine.travel(NOW, tick=False)
def test_incremental_start_time_is_at_least_a_minute_in_the_past() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"users": [], "after_cursor": None, "end_of_stream": True})

    assert list(connector(handler).iter_changes(NOW)) == []
    assert requests[0].url.params["start_time"] == str(int(NOW.timestamp()) - 60)


@time_machine.travel(NOW, tick=False)
def test_incremental_export_repeating_its_cursor_stops() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"users": [], "after_cursor": "same", "end_of_stream": False})

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(connector(handler).iter_changes(NOW - dt.timedelta(days=1)))


def test_lookup_searches_users_by_the_digits_with_a_leading_wildcard() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        results = [
            {**user(7, "Jane Caller", "+31 20 123 4567"), "result_type": "user"},
            {**user(8, "Nameless", None), "result_type": "user"},
        ]
        return httpx.Response(
            200, json={"results": results, "count": 2, "next_page": None, "previous_page": None}
        )

    found = connector(handler).lookup("+31201234567")

    assert requests[0].url.path == "/api/v2/search.json"
    assert parse_qs(requests[0].url.query.decode())["query"] == ["type:user phone:*201234567"]
    assert [(r.id, r.url) for r in found] == [("7", "https://acme.zendesk.com/agent/users/7")]
    assert ZendeskConnector.supports_lookup


def test_the_oauth_connector_sends_the_bearer_token_to_the_subdomain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        oauth, "access_token", lambda integration_id, config, *, settings: {"access_token": "zd-at"}
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=users_page())

    list(connector(handler, auth_kind="oauth", _integration_id="5").iter_records())

    assert seen[0].headers["Authorization"] == "Bearer zd-at"
    assert seen[0].url.host == "acme.zendesk.com"
    assert ZendeskConnector.oauth_config({"auth_kind": "oauth"}) is ZENDESK_OAUTH
    assert ZendeskConnector.oauth_config(SETTINGS) is None


def test_the_oauth_urls_are_on_the_accounts_subdomain() -> None:
    start = authorization_start(
        ZENDESK_OAUTH,
        settings={"subdomain": "acme", "oauth_client_id": "acme_cti"},
        redirect_uri="https://cti.test/cb",
    )
    assert start.url.startswith("https://acme.zendesk.com/oauth/authorizations/new?")
    assert "scope=read" in start.url

    posted: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        # Zendesk's token answer (Creating and using OAuth tokens with the API).
        return httpx.Response(
            200,
            json={
                "access_token": "gErypPlm4dOVgGRvA1ZzMH5MQ3nLo8bo",
                "token_type": "bearer",
                "scope": "read",
            },
        )

    token = token_request(
        ZENDESK_OAUTH,
        settings={"subdomain": "acme", "oauth_client_id": "acme_cti", "oauth_client_secret": "shh"},
        data={"grant_type": "authorization_code", "code": "abc"},
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )

    assert str(posted[0].url) == "https://acme.zendesk.com/oauth/tokens"
    form = parse_qs(posted[0].content.decode())
    assert form["client_id"] == ["acme_cti"]
    assert form["client_secret"] == ["shh"]
    assert token["access_token"] == "gErypPlm4dOVgGRvA1ZzMH5MQ3nLo8bo"


@pytest.mark.parametrize("subdomain", ["", "acme.zendesk.com", "https://acme.zendesk.com", "ac me"])
def test_only_a_bare_subdomain_is_accepted(subdomain: str) -> None:
    assert "subdomain" in ZendeskConnector.settings_problems({**SETTINGS, "subdomain": subdomain})

    with pytest.raises(ConnectorError, match="subdomain") as caught:
        connector(
            lambda request: httpx.Response(200, json=users_page()), subdomain=subdomain
        ).test_connection()

    assert caught.value.permanent


def test_the_settings_each_auth_kind_needs() -> None:
    assert ZendeskConnector.settings_problems(SETTINGS) == {}
    assert set(ZendeskConnector.settings_problems({"subdomain": "acme", "auth_kind": "api_token"})) == {
        "email",
        "api_token",
    }
    assert set(ZendeskConnector.settings_problems({"subdomain": "acme", "auth_kind": "oauth"})) == {
        "oauth_client_id"
    }


def test_the_default_script_opens_the_users_page() -> None:
    page = users_page(user(42, "Ada", "+31201234567"))
    record = next(iter(connector(lambda request: httpx.Response(200, json=page)).iter_records()))
    assert isinstance(record, CrmRecord)
    (script,) = preset_default_scripts(preset=ZENDESK, settings_values=SETTINGS)

    link = scripts_engine.render(
        scripts_engine.validate(script.template, record_fields=[f.name for f in ZENDESK.all_fields]),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        record=dict(record.fields),
        country="NL",
    )

    assert link == "https://acme.zendesk.com/agent/users/42"


def test_the_wizard_form_rejects_a_full_address_as_subdomain() -> None:
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=ZENDESK, values={**SETTINGS, "subdomain": "acme.zendesk.com"})

    assert caught.value.message_dict["subdomain"] == [
        'Zendesk subdomain: Give only the subdomain: "acme" for https://acme.zendesk.com.'
    ]
    plain, secrets = integration_settings_clean(preset=ZENDESK, values=SETTINGS)
    assert plain["subdomain"] == "acme"
    assert secrets == {"api_token": "tok-1"}
