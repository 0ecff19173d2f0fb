"""Copper beyond the contract suite: its X-PW headers, JSON-body search paging and changes,
phone-number lookup, its 429 and the record URL.

The doubles follow https://developer.copper.com/ (introduction/requests.html: headers, 180
requests per minute then 429; people/list-people-search.html: bare JSON arrays, `page_size`,
`page_number`, `sort_by`; the "Search by Phone Number" partial match).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy, SkippedRecord
from integrations.connectors.copper import (
    COPPER,
    ENTITIES,
    THROTTLE_WAIT_SECONDS,
    CopperConnector,
    lookup_digits,
)

SETTINGS = {"api_key": "key-1", "user_email": "admin@acme.example", "account_id": "562111", "page_size": "2"}
Handler = Callable[[httpx.Request], httpx.Response]


def connector(
    handler: Handler, *, settings: dict[str, str] | None = None, retry: RetryPolicy | None = None
) -> tuple[CopperConnector, list[float]]:
    waits: list[float] = []
    return (
        CopperConnector(
            settings=settings or SETTINGS,
            client=httpx.Client(transport=httpx.MockTransport(handler)),
            sleep=waits.append,
            retry=retry,
        ),
        waits,
    )


def person(record_id: int, number: str = "020 555 1234", category: str = "work") -> dict[str, Any]:
    return {
        "id": record_id,
        "name": "Jane Smith",
        "phone_numbers": [{"number": number, "category": category}],
    }


def test_every_request_carries_the_three_x_pw_headers() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json=[])

    connector(handler)[0].test_connection()

    assert seen[0]["X-PW-AccessToken"] == "key-1"
    assert seen[0]["X-PW-Application"] == "developer_api"
    assert seen[0]["X-PW-UserEmail"] == "admin@acme.example"
    assert seen[0]["Content-Type"] == "application/json"


def test_searches_page_in_the_json_body_sorted_by_date_created() -> None:
    calls: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append((request.url.path, body))
        if request.url.path.endswith("/people/search") and body["page_number"] == 1:
            return httpx.Response(200, headers={"X-PW-TOTAL": "2"}, json=[person(1), person(2)])
        return httpx.Response(200, headers={"X-PW-TOTAL": "0"}, json=[])

    records = [r for r in connector(handler)[0].iter_records() if isinstance(r, CrmRecord)]

    assert [r.id for r in records] == ["1", "2"]
    assert [(path, body["page_number"]) for path, body in calls] == [
        ("/developer_api/v1/people/search", 1),
        ("/developer_api/v1/people/search", 2),
        ("/developer_api/v1/companies/search", 1),
        ("/developer_api/v1/leads/search", 1),
    ]
    assert all(
        body
        == {
            "page_size": 2,
            "sort_by": "date_created",
            "sort_direction": "asc",
            "page_number": body["page_number"],
        }
        for _, body in calls
    )


def test_changes_use_minimum_modified_date_in_unix_seconds() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=[person(7)])

    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    changed = [r for r in connector(handler)[0].iter_changes(since) if isinstance(r, CrmRecord)]

    assert [(r.type, r.id) for r in changed] == [("person", "7"), ("company", "7"), ("lead", "7")]
    assert bodies[0] == {
        "page_size": 2,
        "sort_by": "date_modified",
        "sort_direction": "asc",
        "minimum_modified_date": 1773133200,
        "page_number": 1,
    }
    assert CopperConnector.incremental_supported({})


def test_lookup_searches_the_national_number_as_a_partial_match_in_each_entity() -> None:
    calls: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, json.loads(request.content)))
        if request.url.path.endswith("/people/search"):
            return httpx.Response(200, json=[person(27140359, "020 123 4567"), {"name": "no id"}])
        if request.url.path.endswith("/leads/search"):
            return httpx.Response(200, json=[person(9150552, "+31 20 123 4567", "mobile")])
        return httpx.Response(200, json=[])

    found = connector(handler)[0].lookup("+31201234567")

    assert [(r.type, r.id, r.url) for r in found] == [
        ("person", "27140359", "https://app.copper.com/companies/562111/app#/contact/27140359"),
        ("lead", "9150552", "https://app.copper.com/companies/562111/app#/lead/9150552"),
    ]
    assert [path.rsplit("/", 2)[-2] for path, _ in calls] == ["people", "companies", "leads"]
    assert calls[0][1] == {
        "phone_number": {"value": "201234567", "match": "partial"},
        "page_size": 25,
        "page_number": 1,
    }
    assert CopperConnector.lookup_problem(SETTINGS) == ""


@pytest.mark.parametrize(
    ("e164", "digits"),
    [
        ("+31201234567", "201234567"),
        ("+14155551234", "4155551234"),
        ("+4930123456", "30123456"),
        ("12ab34", "1234"),
    ],
)
def test_lookup_digits_are_the_national_significant_number(e164: str, digits: str) -> None:
    assert lookup_digits(e164) == digits


def test_a_429_without_retry_after_waits_for_the_rolling_window() -> None:
    answers = [httpx.Response(429, json={"success": False, "status": 429, "message": "Rate limit exceeded"})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=[person(1)])

    copper, waits = connector(handler, retry=RetryPolicy(retries=2, max_retry_after=60))
    records = [r for r in copper.iter_records() if isinstance(r, CrmRecord)]

    assert waits == [THROTTLE_WAIT_SECONDS]
    assert [r.type for r in records] == ["person", "company", "lead"]


def test_a_429_that_keeps_coming_fails_the_sync_as_temporary() -> None:
    copper, waits = connector(
        lambda request: httpx.Response(429), retry=RetryPolicy(retries=2, max_retry_after=60)
    )

    with pytest.raises(ConnectorError, match=r"rate limiting requests \(HTTP 429") as caught:
        copper.test_connection()

    assert not caught.value.permanent
    assert caught.value.retry_after == THROTTLE_WAIT_SECONDS
    assert waits == [THROTTLE_WAIT_SECONDS, THROTTLE_WAIT_SECONDS]


def test_a_refused_key_is_permanent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"success": False, "status": 401, "message": "Invalid input: Invalid credentials"}
        )

    with pytest.raises(ConnectorError, match=r"Copper refused the credentials \(HTTP 401\)") as caught:
        connector(handler)[0].test_connection()

    assert caught.value.permanent


def test_an_answer_that_is_not_a_list_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="is not a list") as caught:
        list(connector(lambda request: httpx.Response(200, json={"people": []}))[0].iter_records())

    assert caught.value.permanent


def test_phone_numbers_that_are_not_a_list_are_skipped() -> None:
    copper, _ = connector(lambda request: httpx.Response(200, json=[]))

    odd = copper.record(ENTITIES[0], {"id": 5, "phone_numbers": "020 555 1234"})
    blank = copper.record(ENTITIES[0], {"id": 6, "phone_numbers": [{"number": None, "category": "work"}, 7]})

    assert isinstance(odd, SkippedRecord)
    assert odd.id == "5"
    assert blank is None


@pytest.mark.parametrize("account_id", ["", "acme", "https://app.copper.com/companies/562111/app"])
def test_the_account_id_must_be_the_number_from_the_web_address(account_id: str) -> None:
    assert "account_id" in CopperConnector.settings_problems({**SETTINGS, "account_id": account_id})
    with pytest.raises(ConnectorError, match="account ID") as caught:
        connector(
            lambda request: httpx.Response(200, json=[]), settings={**SETTINGS, "account_id": account_id}
        )
    assert caught.value.permanent


def test_the_preset_lists_people_before_companies_and_leads() -> None:
    assert COPPER.record_types == ("person", "company", "lead")
    assert CopperConnector.settings_problems({**SETTINGS, "page_size": "201"}) == {
        "page_size": "The page size must be a whole number from 1 to 200."
    }
    assert [s.template for s in COPPER.default_scripts] == ["$(PopUpUri)"]
