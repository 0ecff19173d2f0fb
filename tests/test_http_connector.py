"""The HTTP connector base: auth declarations, URLs, rate limits, throttling, JSON, paging helpers."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import time_machine

from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy, SkippedRecord
from integrations.connectors.http_base import (
    ApiKeyHeader,
    ApiKeyQuery,
    Auth,
    Basic,
    Bearer,
    HttpConnector,
    JsonPathError,
    json_path_first,
    json_path_values,
    rate_limit_wait,
)

BASE = "https://crm.example.com/api/v2"

Handler = Callable[[httpx.Request], httpx.Response]


class Probe(HttpConnector):
    """A minimal connector: lists `/contacts` as one page."""

    what = "The test CRM"

    def test_connection(self) -> None:
        self.get_json("contacts")

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        yield from ()


class Recorder:
    """A MockTransport handler answering from a list of responses (the last one repeats)."""

    def __init__(self, *responses: httpx.Response | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return answer(request) if callable(answer) else answer


def probe(
    handler: Recorder,
    *,
    settings: dict[str, str] | None = None,
    auth: Auth | None = None,
    waits: list[float] | None = None,
    retry: RetryPolicy | None = None,
    cls: type[Probe] = Probe,
    **kwargs: Any,
) -> Probe:
    connector = cls(
        settings=settings or {"base_url": BASE, "key": "k123", "user": "ada", "password": "pw"},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=retry or RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
        **kwargs,
    )
    if auth is not None:
        connector.auth = auth
    return connector


def ok(body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=[] if body is None else body, headers=headers)


# --- Auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (ApiKeyHeader("X-Api-Key", setting="key"), "X-Api-Key", "k123"),
        (
            ApiKeyHeader("Authorization", setting="key", prefix="Token token="),
            "Authorization",
            "Token token=k123",
        ),
        (Bearer(setting="key"), "Authorization", "Bearer k123"),
        (Bearer(setting="key", prefix="Zoho-oauthtoken"), "Authorization", "Zoho-oauthtoken k123"),
        (Basic("user", "password"), "Authorization", "Basic " + base64.b64encode(b"ada:pw").decode()),
        (Basic("key", password="X"), "Authorization", "Basic " + base64.b64encode(b"k123:X").decode()),
    ],
)
def test_the_declared_auth_goes_into_every_request(auth: Auth, header: str, value: str) -> None:
    handler = Recorder(ok())

    probe(handler, auth=auth).test_connection()

    assert handler.requests[0].headers[header] == value


def test_an_api_key_in_the_query_is_added_to_next_links_too() -> None:
    handler = Recorder(ok({"items": [1], "next": f"{BASE}/contacts?page=2"}), ok({"items": [2]}))
    connector = probe(handler, auth=ApiKeyQuery("api_token", setting="key"))

    pages = list(connector.pages_by_next_link("contacts", items="items", next_link="next"))

    assert pages == [[1], [2]]
    assert [dict(r.url.params) for r in handler.requests] == [
        {"api_token": "k123"},
        {"page": "2", "api_token": "k123"},
    ]


def test_an_empty_credential_sends_no_header() -> None:
    handler = Recorder(ok())

    probe(handler, settings={"base_url": BASE}, auth=Bearer(setting="key")).test_connection()

    assert "Authorization" not in handler.requests[0].headers


# --- URLs -------------------------------------------------------------------------------------


def test_paths_join_the_base_url_and_a_host_the_crm_handed_back_wins() -> None:
    handler = Recorder(ok())
    connector = probe(handler)

    connector.get_json("contacts")
    connector.get_json("/services/data")
    connector.instance_url = "https://eu12.my.example.com"
    connector.get_json("/services/data/v61.0/query")

    assert [str(r.url) for r in handler.requests] == [
        "https://crm.example.com/api/v2/contacts",
        "https://crm.example.com/services/data",
        "https://eu12.my.example.com/services/data/v61.0/query",
    ]


def test_a_next_link_to_another_host_is_not_followed() -> None:
    handler = Recorder(ok({"items": [1], "next": "https://evil.example.net/steal"}))

    with pytest.raises(ConnectorError, match="link to another host") as caught:
        list(probe(handler).pages_by_next_link("contacts", items="items", next_link="next"))

    assert caught.value.permanent
    assert len(handler.requests) == 1


def test_a_base_url_that_is_not_one_is_a_permanent_error() -> None:
    with pytest.raises(ConnectorError, match="not an http:// or https:// URL") as caught:
        probe(Recorder(ok()), settings={"base_url": "ftp://crm"}).test_connection()

    assert caught.value.permanent


# --- Errors -----------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_temporary_error() -> None:
    handler = Recorder(
        httpx.Response(200, text="<html>maintenance</html>", headers={"Content-Type": "text/html"})
    )

    with pytest.raises(ConnectorError, match="answered something that is not JSON") as caught:
        probe(handler).test_connection()

    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("status", "message", "permanent"),
    [
        (401, "The test CRM refused the credentials (HTTP 401).", True),
        (403, "The test CRM denied access: no permission (HTTP 403).", True),
        (404, "The test CRM answered 'not found' (HTTP 404): check the URL.", True),
        (422, "The test CRM rejected the request (HTTP 422).", True),
    ],
)
def test_errors_are_translated_for_the_admin(status: int, message: str, permanent: bool) -> None:
    with pytest.raises(ConnectorError) as caught:
        probe(Recorder(httpx.Response(status, json={}))).test_connection()

    assert (caught.value.message, caught.value.permanent) == (message, permanent)


def test_a_redirect_is_reported_with_its_target() -> None:
    handler = Recorder(httpx.Response(301, headers={"Location": "https://new.example.com/api"}))

    with pytest.raises(ConnectorError, match=r"redirects .* to https://new\.example\.com/api") as caught:
        probe(handler).test_connection()

    assert caught.value.permanent


# --- Rate limits and throttling ---------------------------------------------------------------


def test_remaining_zero_waits_for_the_reset_before_the_next_request() -> None:
    handler = Recorder(
        ok({"a": 1}, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}), ok({"a": 2})
    )
    waits: list[float] = []
    connector = probe(handler, waits=waits)

    connector.get_json("one")
    assert waits == []  # the last page needs no wait
    connector.get_json("two")

    assert waits == [12.0]


def test_a_reset_longer_than_the_sync_may_wait_fails_with_retry_after() -> None:
    handler = Recorder(ok(**{"RateLimit-Remaining": "0", "RateLimit-Reset": "600"}))
    connector = probe(handler)
    connector.get_json("one")

    with pytest.raises(ConnectorError, match="request limit is used up") as caught:
        connector.get_json("two")

    assert caught.value.retry_after == 600
    assert not caught.value.permanent
    assert len(handler.requests) == 1


def test_rate_limit_headers_in_their_several_forms() -> None:
    def response(**headers: str) -> httpx.Response:
        return httpx.Response(200, headers=headers)

    with time_machine.travel(dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC), tick=False):
        epoch = int(dt.datetime(2026, 11, 22, 3, 0, 30, tzinfo=dt.UTC).timestamp())
        assert (
            rate_limit_wait(response(**{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(epoch)})) == 30
        )
    assert rate_limit_wait(response(**{"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "9"})) is None
    assert rate_limit_wait(response(RateLimit="limit=100, remaining=0, reset=7")) == 7
    assert rate_limit_wait(response(RateLimit='"default";r=0;t=4')) == 4
    assert rate_limit_wait(response()) is None


def test_a_429_with_a_reset_header_waits_for_the_reset() -> None:
    handler = Recorder(
        httpx.Response(429, json={}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9"}), ok()
    )
    waits: list[float] = []

    probe(handler, waits=waits).test_connection()

    assert waits == [9.0]


class SalesforceLike(Probe):
    def is_throttled(self, response: httpx.Response) -> bool:
        return response.status_code == 403 and b"REQUEST_LIMIT_EXCEEDED" in response.content


def test_a_crm_specific_throttle_is_retried_like_a_429_and_then_temporary() -> None:
    limit = httpx.Response(
        403, json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    )
    handler = Recorder(limit)
    waits: list[float] = []

    with pytest.raises(ConnectorError, match=r"rate limiting requests \(HTTP 403") as caught:
        probe(handler, waits=waits, cls=SalesforceLike).test_connection()

    assert not caught.value.permanent
    assert len(handler.requests) == 3
    assert waits == [1.0, 2.0]


def test_a_plain_403_of_that_crm_stays_no_permission() -> None:
    handler = Recorder(httpx.Response(403, json=[{"errorCode": "INSUFFICIENT_ACCESS"}]))

    with pytest.raises(ConnectorError, match="no permission") as caught:
        probe(handler, cls=SalesforceLike).test_connection()

    assert caught.value.permanent


def test_retries_count_against_the_request_budget() -> None:
    handler = Recorder(httpx.Response(503, json={}))

    with pytest.raises(ConnectorError, match="after 2 requests") as caught:
        probe(handler, max_requests=2).test_connection()

    assert caught.value.permanent
    assert len(handler.requests) == 2


def test_the_budget_defaults_to_the_setting(settings: Any) -> None:
    settings.SYNC_MAX_REQUESTS = 7

    assert probe(Recorder(ok())).max_requests == 7


# --- Paging helpers ---------------------------------------------------------------------------


def test_offset_paging_follows_has_more_like_close() -> None:
    handler = Recorder(ok({"data": [1, 2], "has_more": True}), ok({"data": [3, 4], "has_more": False}))

    pages = list(
        probe(handler).pages_by_offset(
            "leads",
            items="data",
            offset_param="_skip",
            limit_param="_limit",
            page_size=2,
            has_more="has_more",
        )
    )

    assert pages == [[1, 2], [3, 4]]
    assert [dict(r.url.params) for r in handler.requests] == [
        {"_limit": "2", "_skip": "0"},
        {"_limit": "2", "_skip": "2"},
    ]


def test_offset_paging_stops_at_a_short_page_like_odata_skip_top() -> None:
    handler = Recorder(ok({"value": [1, 2, 3]}), ok({"value": [4]}))

    pages = list(
        probe(handler).pages_by_offset(
            "c", items="value", offset_param="$skip", limit_param="$top", page_size=3
        )
    )

    assert pages == [[1, 2, 3], [4]]
    assert dict(handler.requests[1].url.params) == {"$top": "3", "$skip": "3"}


def test_page_number_paging_follows_more_records_like_zoho() -> None:
    handler = Recorder(
        ok({"data": [1, 2], "info": {"more_records": True}}),
        ok({"data": [3, 4], "info": {"more_records": False}}),
    )

    pages = list(
        probe(handler).pages_by_page_number(
            "Contacts", items="data", page_size=2, has_more="info.more_records"
        )
    )

    assert pages == [[1, 2], [3, 4]]
    assert [r.url.params["page"] for r in handler.requests] == ["1", "2"]


def test_page_number_paging_refuses_a_page_that_repeats() -> None:
    handler = Recorder(ok([1, 2]))

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(probe(handler).pages_by_page_number("contacts", items="", page_size=2))

    assert len(handler.requests) == 2


def test_cursor_paging_like_google_page_tokens() -> None:
    handler = Recorder(
        ok({"connections": [1], "nextPageToken": "t1"}), ok({"connections": [2], "nextPageToken": ""})
    )

    pages = list(
        probe(handler).pages_by_cursor(
            "people/me/connections", items="connections", cursor="nextPageToken", cursor_param="pageToken"
        )
    )

    assert pages == [[1], [2]]
    assert handler.requests[1].url.params["pageToken"] == "t1"


def test_link_header_paging_follows_rel_next() -> None:
    handler = Recorder(
        ok([1], Link=f'<{BASE}/users?page=2>; rel="next", <{BASE}/users?page=9>; rel="last"'), ok([2])
    )

    pages = list(probe(handler).pages_by_next_link("users", items=""))

    assert pages == [[1], [2]]
    assert str(handler.requests[1].url) == f"{BASE}/users?page=2"


def test_null_records_are_an_empty_page_and_a_missing_list_is_an_error() -> None:
    assert list(
        probe(Recorder(ok({"data": None}))).pages_by_cursor("p", items="data", cursor="c", cursor_param="c")
    ) == [[]]

    with pytest.raises(ConnectorError, match='without a record list at "data"') as caught:
        list(
            probe(Recorder(ok({"items": []}))).pages_by_cursor(
                "p", items="data", cursor="c", cursor_param="c"
            )
        )
    assert caught.value.permanent


def test_paging_stops_after_max_pages() -> None:
    counter = iter(range(1000))
    handler = Recorder(lambda request: ok({"items": [1], "next": str(next(counter))}))
    connector = probe(handler)
    connector.max_pages = 5

    with pytest.raises(ConnectorError, match="more than 5"):
        list(connector.pages_by_cursor("c", items="items", cursor="next", cursor_param="after"))

    assert len(handler.requests) == 5


# --- JSON paths -------------------------------------------------------------------------------


DOCUMENT = {
    "data": {"items": [{"id": 1}, {"id": 2}]},
    "phones": [{"number": "+31 20"}, {"number": "+31 6"}],
    "properties": {"phone": "123"},
    "@odata.nextLink": "https://x/next",
    "a.b": "dotted key",
}


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("data.items", [[{"id": 1}, {"id": 2}]]),
        ("data.items[*].id", [1, 2]),
        ("data.items[-1].id", [2]),
        ("phones[*].number", ["+31 20", "+31 6"]),
        ("properties.phone", ["123"]),
        ("@odata.nextLink", ["https://x/next"]),
        ("a.b", ["dotted key"]),
        ("properties.*", ["123"]),
        ("$.properties.phone", ["123"]),
        ("missing.path", []),
        ("data.items[5]", []),
    ],
)
def test_json_paths_find_values(path: str, values: list[Any]) -> None:
    assert json_path_values(DOCUMENT, path) == values


def test_the_empty_path_is_the_document_and_a_bad_path_is_an_error() -> None:
    assert json_path_first([1, 2], "") == [1, 2]
    with pytest.raises(JsonPathError, match="is not a JSON path"):
        json_path_values(DOCUMENT, "phones[x].number")


def test_params_are_merged_into_a_path_that_has_a_query() -> None:
    handler = Recorder(ok())

    probe(handler).get_json("contacts?$select=fullname,telephone1", params={"page": 2, "skip": None})

    assert dict(handler.requests[0].url.params) == {"$select": "fullname,telephone1", "page": "2"}


def test_a_next_link_back_to_the_first_page_is_a_repeat() -> None:
    handler = Recorder(ok({"items": [1], "next": f"{BASE}/contacts?limit=2"}))

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(
            probe(handler).pages_by_next_link(
                "contacts", items="items", next_link="next", params={"limit": 2}
            )
        )

    assert len(handler.requests) == 1


def test_a_reset_in_epoch_milliseconds_is_read_as_such() -> None:
    # Exact Online: X-RateLimit-Minutely-Reset style values are Unix times in milliseconds.
    now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
    reset_ms = int((now.timestamp() + 30) * 1000)
    response = httpx.Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_ms)})

    assert rate_limit_wait(response, now=now) == pytest.approx(30)
