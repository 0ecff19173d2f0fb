"""Teamleader Focus beyond the contract suite: its token endpoint, JSON-body paging and changes,
its 429 answer, web_url, and the wizard's connection test before Connect.

The doubles follow https://developer.focus.teamleader.eu/docs/api (contacts.list,
companies.list: `{"data": [...]}`, `page.size`/`page.number` in the JSON body).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy, SkippedRecord
from integrations.connectors.teamleader import (
    LISTS,
    TEAMLEADER,
    TEAMLEADER_OAUTH,
    TeamleaderConnector,
)
from integrations.oauth import InvalidGrantError, NotConnectedError, OAuth2Config

TOKEN = "tl-access-token"
SETTINGS = {
    "oauth_client_id": "client-1",
    "oauth_client_secret": "secret-1",
    "page_size": "2",
    "_integration_id": "7",
}
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def stored_token(monkeypatch: pytest.MonkeyPatch) -> None:
    def stored(integration_id: int, config: OAuth2Config, *, settings: Any) -> dict[str, str]:
        assert integration_id == 7
        assert config is TEAMLEADER_OAUTH
        return {"access_token": TOKEN}

    monkeypatch.setattr(oauth, "access_token", stored)


def connector(
    handler: Handler, *, settings: dict[str, str] | None = None, retry: RetryPolicy | None = None
) -> tuple[TeamleaderConnector, list[float]]:
    waits: list[float] = []
    return (
        TeamleaderConnector(
            settings=settings or SETTINGS,
            client=httpx.Client(transport=httpx.MockTransport(handler)),
            sleep=waits.append,
            retry=retry,
        ),
        waits,
    )


def person(record_id: str, *numbers: tuple[str, str], web_url: Any = None) -> dict[str, Any]:
    return {
        "id": record_id,
        "first_name": "Erlich",
        "last_name": "Bachman",
        "telephones": [{"type": kind, "number": number} for kind, number in numbers],
        "web_url": web_url,
    }


def test_the_token_endpoint_gets_the_client_secret_in_the_body_and_its_answer_is_stored() -> None:
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": "new-access",
                "refresh_token": "new-refresh",
            },
        )

    token = oauth.token_request(
        TEAMLEADER_OAUTH,
        settings=SETTINGS,
        data={"grant_type": "refresh_token", "refresh_token": "old-refresh"},
        now=1_000_000.0,
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )

    assert str(seen[0].url) == "https://focus.teamleader.eu/oauth2/access_token"
    form = parse_qs(seen[0].content.decode())
    assert form["client_id"] == ["client-1"]
    assert form["client_secret"] == ["secret-1"]
    assert "Authorization" not in seen[0].headers
    assert token["access_token"] == "new-access"
    assert token["refresh_token"] == "new-refresh"  # Teamleader rotates the refresh token
    assert token["expires_at"] == "1003600"


def test_a_revoked_refresh_token_asks_for_reconnect() -> None:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "The refresh token is invalid.",
                "hint": "Token has been revoked",
                "message": "The refresh token is invalid.",
            },
        )

    with pytest.raises(InvalidGrantError) as caught:
        oauth.token_request(
            TEAMLEADER_OAUTH,
            settings=SETTINGS,
            data={"grant_type": "refresh_token", "refresh_token": "revoked"},
            client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
        )

    assert caught.value.permanent


def test_the_authorization_url_is_teamleaders() -> None:
    start = oauth.authorization_start(
        TeamleaderConnector.oauth_config({}),
        settings=SETTINGS,
        redirect_uri="https://cti.example.com/oauth/callback",
    )

    assert start.url.startswith(
        "https://focus.teamleader.eu/oauth2/authorize?response_type=code&client_id=client-1"
    )


def test_pages_are_numbered_in_the_json_body_and_the_bearer_token_is_sent() -> None:
    bodies: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.url.host == "api.focus.teamleader.eu"
        body = json.loads(request.content)
        bodies.append((request.url.path, body))
        if request.url.path == "/contacts.list" and body["page"]["number"] == 1:
            return httpx.Response(
                200, json={"data": [person("a", ("phone", "09 1")), person("b", ("mobile", "0470"))]}
            )
        return httpx.Response(200, json={"data": []})

    records = [r for r in connector(handler)[0].iter_records() if isinstance(r, CrmRecord)]

    assert [r.id for r in records] == ["a", "b"]
    assert [(path, body["page"]) for path, body in bodies] == [
        ("/contacts.list", {"size": 2, "number": 1}),
        ("/contacts.list", {"size": 2, "number": 2}),
        ("/companies.list", {"size": 2, "number": 1}),
    ]
    assert all(body["sort"] == [{"field": "added_at", "order": "asc"}] for _, body in bodies)


def test_changes_filter_on_updated_since_sorted_by_updated_at() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"data": [person("a", ("phone", "09 1"))]})

    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    changed = list(connector(handler)[0].iter_changes(since))

    assert [r.id for r in changed if isinstance(r, CrmRecord)] == ["a", "a"]
    assert (
        bodies
        == [
            {
                "filter": {"updated_since": "2026-03-10T09:00:00+00:00"},
                "sort": [{"field": "updated_at", "order": "asc"}],
                "page": {"size": 2, "number": 1},
            }
        ]
        * 2
    )
    assert TeamleaderConnector.incremental_supported({})


def test_a_429_with_retry_after_is_waited_out() -> None:
    answers = [
        httpx.Response(
            429,
            headers={
                "Retry-After": "12",
                "X-RateLimit-Limit": "200",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "12",
            },
            json={"errors": [{"status": 429, "title": "Too Many Requests"}]},
        )
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return (
            answers.pop(0)
            if answers
            else httpx.Response(200, json={"data": [person("a", ("phone", "09 1"))]})
        )

    teamleader, waits = connector(handler, retry=RetryPolicy(retries=2, max_retry_after=60))
    records = [r for r in teamleader.iter_records() if isinstance(r, CrmRecord)]

    assert waits == [12.0]
    assert [r.id for r in records] == ["a", "a"]


def test_a_used_up_minute_on_a_success_waits_for_the_reset_before_the_next_page() -> None:
    full = {"data": [person("a", ("phone", "1")), person("b", ("phone", "2"))]}
    answers = [
        httpx.Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, json=full)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json={"data": []})

    teamleader, waits = connector(handler, retry=RetryPolicy(retries=1, max_retry_after=60))
    list(teamleader.iter_records())

    assert waits == [20.0]


def test_refused_token_is_permanent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"errors": [{"code": 401, "title": "Unauthorized"}]})

    with pytest.raises(
        ConnectorError, match=r"Teamleader Focus refused the credentials \(HTTP 401\)"
    ) as caught:
        connector(handler)[0].test_connection()

    assert caught.value.permanent


def test_the_wizards_test_before_connect_says_to_connect() -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "_integration_id"}

    with pytest.raises(NotConnectedError):
        connector(lambda request: httpx.Response(200, json={"data": []}), settings=settings)[
            0
        ].test_connection()


def test_web_url_is_used_and_a_missing_or_foreign_one_is_replaced_by_the_detail_page() -> None:
    teamleader, _ = connector(lambda request: httpx.Response(200, json={"data": []}))
    contacts, companies = LISTS

    given = teamleader.record(
        contacts, person("a b", ("phone", "1"), web_url="https://focus.teamleader.eu/contact_detail.php?id=x")
    )
    missing = teamleader.record(
        companies, {"id": "c/1", "name": "Acme", "telephones": [{"type": "phone", "number": "1"}]}
    )
    foreign = teamleader.record(
        contacts, person("d", ("phone", "1"), web_url="https://evil.example/teamleader.eu")
    )

    assert isinstance(given, CrmRecord)
    assert given.url == "https://focus.teamleader.eu/contact_detail.php?id=x"
    assert isinstance(missing, CrmRecord)
    assert missing.url == "https://focus.teamleader.eu/company_detail.php?id=c%2F1"
    assert isinstance(foreign, CrmRecord)
    assert foreign.url == "https://focus.teamleader.eu/contact_detail.php?id=d"


def test_telephones_that_are_not_a_list_are_skipped_and_numberless_ones_left_out() -> None:
    teamleader, _ = connector(lambda request: httpx.Response(200, json={"data": []}))
    contacts = LISTS[0]

    odd = teamleader.record(contacts, {"id": "a", "telephones": "092980615"})
    blank = teamleader.record(contacts, {"id": "b", "telephones": [{"type": "phone", "number": ""}, "x"]})

    assert isinstance(odd, SkippedRecord)
    assert odd.id == "a"
    assert blank is None


def test_an_answer_without_data_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="without a record list") as caught:
        list(connector(lambda request: httpx.Response(200, json={"errors": []}))[0].iter_records())

    assert caught.value.permanent


def test_the_page_size_is_at_most_100() -> None:
    assert TeamleaderConnector.settings_problems({"page_size": "101"}) == {
        "page_size": "The page size must be a whole number from 1 to 100."
    }
    assert TEAMLEADER.record_types == ("contact", "company")
    assert TEAMLEADER.auth_methods == ("OAuth 2.0",)
