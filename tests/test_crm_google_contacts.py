"""Google Contacts beyond the contract suite: the token answer, Connect's offline access, changes
by last-modified order, Google's 429 RESOURCE_EXHAUSTED and 403 rate-limit answers.

Doubles follow the People API's documented shapes
(https://developers.google.com/people/api/rest/v1/people.connections/list).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.google_contacts import (
    GOOGLE_CONTACTS,
    GOOGLE_OAUTH,
    GoogleContactsConnector,
    person_id,
    phone_type,
)
from integrations.oauth import authorization_start, token_request

TOKEN = "ya29.test"
Handler = Callable[[httpx.Request], httpx.Response]
RESOURCE_EXHAUSTED = {
    "error": {
        "code": 429,
        "message": "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}],
    }
}


@pytest.fixture(autouse=True)
def stored_token(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    token = {"access_token": TOKEN, "instance_url": ""}
    monkeypatch.setattr(oauth, "access_token", lambda integration_id, config, *, settings: token)
    return token


def connector(handler: Handler, *, waits: list[float] | None = None) -> GoogleContactsConnector:
    return GoogleContactsConnector(
        settings={"oauth_client_id": "id", "oauth_client_secret": "s", "_integration_id": "3"},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def person(number: str, updated: str, *, resource: str = "people/c1") -> dict[str, Any]:
    return {
        "resourceName": resource,
        "metadata": {"sources": [{"type": "CONTACT", "id": resource[8:], "updateTime": updated}]},
        "names": [{"displayName": "Ada Lovelace"}],
        "phoneNumbers": [{"value": number, "type": "home"}],
    }


def test_the_token_endpoint_is_googles_and_the_client_goes_in_the_form() -> None:
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": "ya29.new",
                "expires_in": 3599,
                "refresh_token": "1//0refresh",
                "scope": "https://www.googleapis.com/auth/contacts.readonly",
                "token_type": "Bearer",
            },
        )

    client = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    token = token_request(
        GOOGLE_OAUTH,
        settings={"oauth_client_id": "id", "oauth_client_secret": "sec"},
        data={"grant_type": "authorization_code", "code": "4/0code"},
        now=100,
        client=client,
    )

    assert token["refresh_token"] == "1//0refresh"
    assert token["expires_at"] == "3699"
    assert str(seen[0].url) == "https://oauth2.googleapis.com/token"
    assert parse_qs(seen[0].content.decode())["client_secret"] == ["sec"]


def test_a_revoked_refresh_token_is_invalid_grant() -> None:
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(400, json=body)))

    with pytest.raises(oauth.InvalidGrantError):
        token_request(GOOGLE_OAUTH, settings={}, data={"grant_type": "refresh_token"}, client=client)


def test_connect_asks_for_offline_access_and_the_readonly_scope() -> None:
    started = authorization_start(
        GOOGLE_OAUTH, settings={"oauth_client_id": "id"}, redirect_uri="https://cti.example/cb"
    )

    query = parse_qs(urlsplit(started.url).query)
    assert started.url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["scope"] == ["https://www.googleapis.com/auth/contacts.readonly"]


def test_it_calls_the_people_api_with_the_bearer_token() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"connections": [person("+31 20 555 0101", "2026-03-10T08:00:00Z")]})

    records = list(connector(handler).iter_records())

    assert str(requests[0].url).startswith("https://people.googleapis.com/v1/people/me/connections?")
    assert requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert isinstance(records[0], CrmRecord)
    assert records[0].url == "https://contacts.google.com/person/c1"
    assert records[0].phones[0].type == "home"


def test_changes_are_listed_newest_first_until_one_is_older_than_since() -> None:
    requests: list[httpx.Request] = []
    pages = {
        None: {
            "connections": [
                person("+31 20 555 0101", "2026-03-10T12:00:00Z", resource="people/c1"),
                person("+31 20 555 0102", "2026-03-10T09:00:00.123456Z", resource="people/c2"),
            ],
            "nextPageToken": "p2",
        },
        "p2": {
            "connections": [
                person("+31 20 555 0103", "2026-03-10T08:59:59Z", resource="people/c3"),
                person("+31 20 555 0104", "2026-03-10T08:00:00Z", resource="people/c4"),
            ],
            "nextPageToken": "p3",
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("pageToken")])

    since = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    items = list(connector(handler).iter_changes(since))

    assert [item.id for item in items if isinstance(item, CrmRecord)] == ["c1", "c2"]
    assert len(requests) == 2  # p3 is never asked for
    assert requests[0].url.params["sortOrder"] == "LAST_MODIFIED_DESCENDING"
    assert (
        requests[0].url.params["personFields"] == "names,phoneNumbers,emailAddresses,organizations,metadata"
    )
    assert requests[1].url.params["sortOrder"] == "LAST_MODIFIED_DESCENDING"
    assert GoogleContactsConnector.incremental_supported({})


def test_a_429_resource_exhausted_is_retried_with_backoff_then_temporary() -> None:
    waits: list[float] = []

    with pytest.raises(ConnectorError, match=r"rate limiting requests \(HTTP 429\)") as caught:
        list(connector(lambda r: httpx.Response(429, json=RESOURCE_EXHAUSTED), waits=waits).iter_records())

    assert waits == [1.0, 2.0]
    assert not caught.value.permanent


def test_a_403_rate_limit_is_throttling_not_a_missing_permission() -> None:
    body = {
        "error": {
            "code": 403,
            "message": "Rate Limit Exceeded",
            "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded"}],
        }
    }
    answers = iter([httpx.Response(403, json=body)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"totalItems": 0}))

    waits: list[float] = []
    assert list(connector(handler, waits=waits).iter_records()) == []
    assert waits == [1.0]

    with pytest.raises(ConnectorError, match=r"rate limiting requests \(HTTP 403") as caught:
        list(connector(lambda r: httpx.Response(403, json=body)).iter_records())
    assert not caught.value.permanent


def test_a_403_without_a_rate_limit_reason_is_no_permission() -> None:
    body = {
        "error": {
            "code": 403,
            "message": "People API has not been used in project 1 before",
            "status": "PERMISSION_DENIED",
        }
    }

    with pytest.raises(ConnectorError, match="no permission") as caught:
        list(connector(lambda r: httpx.Response(403, json=body)).iter_records())

    assert caught.value.permanent


def test_an_answer_without_a_connections_list_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="without a list of connections") as caught:
        list(connector(lambda r: httpx.Response(200, json={"connections": {"a": 1}})).iter_records())

    assert caught.value.permanent


def test_ids_and_phone_types() -> None:
    assert person_id("people/c123") == "c123"
    assert person_id("contactGroups/abc") == ""
    assert person_id("people/") == ""
    assert phone_type("workMobile") == "mobile"
    assert phone_type("main") == "work"
    assert phone_type("Boat") == "boat"
    assert phone_type(None) == ""


def test_the_preset_has_one_record_type_and_no_create_script() -> None:
    assert GOOGLE_CONTACTS.record_types == ("contact",)
    assert [s.name for s in GOOGLE_CONTACTS.default_scripts] == ["Open contact"]
