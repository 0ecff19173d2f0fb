"""Insightly beyond the contract suite: pods, the Basic key, /Search changes, the daily allowance.

The double follows the v3.1 reference (https://api.na1.insightly.com/v3.1/): bare JSON arrays,
`skip`/`top` paging, `X-RateLimit-Limit`/`-Remaining` headers and a 429 when the per-second or
the daily allowance is used up.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

import httpx
import pytest
import time_machine

from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.insightly import INSIGHTLY, InsightlyConnector, seconds_to_next_utc_day
from integrations.registry import get_preset

KEY = "4b6d8e2a-1f3c-4e5a-9b7d-0c2e4f6a8b10"
Handler = Callable[[httpx.Request], httpx.Response]


def connector(
    handler: Handler, *, pod: str = "na1", page_size: str = "2", retry: RetryPolicy | None = None
) -> tuple[InsightlyConnector, list[float]]:
    waits: list[float] = []
    return (
        InsightlyConnector(
            settings={"pod": pod, "api_key": KEY, "page_size": page_size},
            client=httpx.Client(transport=httpx.MockTransport(handler)),
            sleep=waits.append,
            retry=retry,
        ),
        waits,
    )


CONTACT = {
    "CONTACT_ID": 7,
    "FIRST_NAME": "Jane",
    "LAST_NAME": "Smith",
    "PHONE": "+31 20 123 4567",
    "PHONE_HOME": "020 1",
}


def test_the_pod_picks_the_api_host_and_the_web_ui_host() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=[CONTACT] if request.url.path.endswith("/Contacts") else [])

    insightly, _ = connector(handler, pod="eu1")
    records = [r for r in insightly.iter_records() if isinstance(r, CrmRecord)]

    assert {url.host for url in seen} == {"api.eu1.insightly.com"}
    assert [url.path for url in seen] == ["/v3.1/Contacts", "/v3.1/Organisations", "/v3.1/Leads"]
    assert records[0].url == "https://crm.eu1.insightly.com/details/Contact/7"
    assert [(p.number, p.type) for p in records[0].phones] == [("+31 20 123 4567", "work"), ("020 1", "home")]


def test_the_api_key_is_the_basic_user_name_with_an_empty_password() -> None:
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers["Authorization"])
        return httpx.Response(200, json=[])

    connector(handler)[0].test_connection()

    assert headers == ["Basic " + base64.b64encode(f"{KEY}:".encode()).decode()]


@pytest.mark.parametrize("pod", ["", "api.na1", "https://api.na1.insightly.com"])
def test_a_pod_that_is_not_one_is_named(pod: str) -> None:
    problems = InsightlyConnector.settings_problems({"pod": pod, "api_key": KEY})

    assert "pod" in problems
    with pytest.raises(ConnectorError, match="not an Insightly pod") as caught:
        connector(lambda request: httpx.Response(200, json=[]), pod=pod)
    assert caught.value.permanent


def test_the_page_size_is_at_most_500() -> None:
    assert InsightlyConnector.settings_problems({"pod": "na1", "page_size": "501"}) == {
        "page_size": "The page size must be a whole number from 1 to 500."
    }
    assert InsightlyConnector.settings_problems({"pod": "au1"}) == {}


def test_changes_come_from_search_updated_after_utc_page_by_page() -> None:
    queries: list[tuple[str, dict[str, str]]] = []
    pages = {
        "0": [CONTACT, {"CONTACT_ID": 8, "PHONE_MOBILE": "06 1"}],
        "2": [{"CONTACT_ID": 9, "PHONE": None}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append((request.url.path, dict(request.url.params)))
        if request.url.path == "/v3.1/Contacts/Search":
            return httpx.Response(200, json=pages[request.url.params["skip"]])
        return httpx.Response(200, json=[])

    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    changed = list(connector(handler)[0].iter_changes(since))

    assert [r.id for r in changed if isinstance(r, CrmRecord)] == ["7", "8"]
    stamp = {"brief": "true", "updated_after_utc": "2026-03-10T09:00:00Z", "top": "2"}
    assert queries == [
        ("/v3.1/Contacts/Search", {**stamp, "skip": "0"}),
        ("/v3.1/Contacts/Search", {**stamp, "skip": "2"}),
        ("/v3.1/Organisations/Search", {**stamp, "skip": "0"}),
        ("/v3.1/Leads/Search", {**stamp, "skip": "0"}),
    ]
    assert INSIGHTLY.connector_class is InsightlyConnector
    assert InsightlyConnector.incremental_supported({})


def test_a_per_second_429_with_retry_after_is_waited_out() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "1", "X-RateLimit-Remaining": "99000"}),
        httpx.Response(200, json=[CONTACT]),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=[])

    insightly, waits = connector(handler, retry=RetryPolicy(retries=2, max_retry_after=60))
    records = [r for r in insightly.iter_records() if isinstance(r, CrmRecord)]

    assert waits == [1.0]
    assert [r.id for r in records] == ["7"]


@time_machine.travel(dt.datetime(2026, 3, 10, 18, 30, tzinfo=dt.UTC), tick=False)
def test_the_daily_allowance_used_up_reschedules_for_the_next_utc_day() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            429,
            headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0"},
            json={"Message": "API rate limit exceeded."},
        )

    insightly, waits = connector(handler, retry=RetryPolicy(retries=3, max_retry_after=60))
    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        list(insightly.iter_records())

    assert caught.value.retry_after == 5.5 * 3600
    assert not caught.value.permanent
    assert len(requests) == 1  # no retries burnt on a day-long limit
    assert waits == []


def test_seconds_to_next_utc_day_counts_in_utc() -> None:
    amsterdam = dt.timezone(dt.timedelta(hours=1))

    assert seconds_to_next_utc_day(dt.datetime(2026, 3, 10, 0, 30, tzinfo=amsterdam)) == 30 * 60


def test_a_refused_key_is_permanent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"Message": "Authorization has been denied for this request."})

    with pytest.raises(ConnectorError, match=r"Insightly refused the credentials \(HTTP 401\)") as caught:
        connector(handler)[0].test_connection()

    assert caught.value.permanent


def test_an_answer_that_is_not_a_list_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="is not a list") as caught:
        list(connector(lambda request: httpx.Response(200, json={"items": []}))[0].iter_records())

    assert caught.value.permanent


def test_the_preset_is_in_the_catalog_with_its_screen_pop() -> None:
    preset = get_preset("insightly")

    assert preset.record_types == ("contact", "organisation", "lead")
    assert [s.template for s in preset.default_scripts] == ["$(PopUpUri)"]
    assert preset.docs_url.startswith("https://api.na1.insightly.com/v3.1")
    assert {"na1", "eu1", "au1"} <= {value for value, _ in preset.settings[0].choices}
