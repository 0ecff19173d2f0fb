"""Exact Online beyond the contract suite: country sites, the current division, the minutely and
daily rate-limit windows (resets in epoch milliseconds), the Modified filter, the token answer.

Doubles follow the shapes Exact's REST API answers (`{"d": {"results": [...], "__next": ...}}`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import time_machine

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.exact_online import (
    COUNTRIES,
    EXACT_OAUTH,
    ExactOnlineConnector,
    exact_rate_limit_wait,
)
from integrations.oauth import token_request

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def stored_token(monkeypatch: pytest.MonkeyPatch) -> None:
    token = {"access_token": "exact-token", "instance_url": ""}
    monkeypatch.setattr(oauth, "access_token", lambda integration_id, config, *, settings: token)


def connector(handler: Handler, *, waits: list[float] | None = None, **settings: str) -> ExactOnlineConnector:
    values = {"country": "nl", "oauth_client_id": "id", "oauth_client_secret": "s", "_integration_id": "5"}
    return ExactOnlineConnector(
        settings={**values, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def results(*items: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=headers or {}, json={"d": {"results": list(items)}})


def me_or(answer: Callable[[httpx.Request], httpx.Response]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/current/Me":
            return results({"__metadata": {"uri": "x"}, "CurrentDivision": 654321, "FullName": "Admin"})
        return answer(request)

    return handler


def test_it_reads_the_current_division_when_none_is_set() -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return results(
            {"ID": "g1", "FullName": "Ada", "Phone": "+31 20 555 0101", "Mobile": "+31 20 555 0101"}
        )

    records = [r for r in connector(me_or(answer)).iter_records() if isinstance(r, CrmRecord)]

    assert [r.url.path for r in requests] == ["/api/v1/654321/crm/Contacts", "/api/v1/654321/crm/Accounts"]
    assert requests[0].headers["Authorization"] == "Bearer exact-token"
    assert records[0].url == (
        "https://start.exactonline.nl/docs/CRMContactCard.aspx?_Division_=654321&ContactID=%7bg1%7d"
    )
    assert [p.number for p in records[0].phones] == ["+31 20 555 0101"]  # the same number once


def test_without_a_current_division_it_says_to_set_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return results({"CurrentDivision": None})

    with pytest.raises(ConnectorError, match="set the division") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


@pytest.mark.parametrize(("country", "label"), COUNTRIES)
def test_every_country_site_is_called(country: str, label: str) -> None:
    hosts: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.add(request.url.host)
        return results()

    assert list(connector(handler, country=country, division="1").iter_records()) == []
    assert hosts == {f"start.exactonline.{country}"}
    assert ExactOnlineConnector.settings_problems({"country": country}) == {}


def test_bad_settings_are_named() -> None:
    problems = ExactOnlineConnector.settings_problems({"country": "xx", "division": "abc"})

    assert set(problems) == {"country", "division"}


def test_the_token_endpoint_is_the_countrys_and_a_lifetime_as_text_is_read() -> None:
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": "gAAA",
                "token_type": "bearer",
                "expires_in": "600",
                "refresh_token": "Gcp7!IAAA",
            },
        )

    client = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    token = token_request(
        EXACT_OAUTH,
        settings={"country": "be", "oauth_client_id": "id", "oauth_client_secret": "sec"},
        data={"grant_type": "refresh_token", "refresh_token": "old"},
        now=1000,
        client=client,
    )

    assert str(seen[0].url) == "https://start.exactonline.be/api/oauth2/token"
    assert parse_qs(seen[0].content.decode())["client_id"] == ["id"]
    assert token["expires_at"] == "1600"
    assert token["refresh_token"] == "Gcp7!IAAA"


@time_machine.travel(NOW, tick=False)
def test_a_used_up_minutely_window_waits_for_its_reset_in_milliseconds() -> None:
    headers = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "4000",
        "X-RateLimit-Reset": str(NOW_MS + 8 * 3600 * 1000),
        "X-RateLimit-Minutely-Limit": "60",
        "X-RateLimit-Minutely-Remaining": "0",
        "X-RateLimit-Minutely-Reset": str(NOW_MS + 20_000),
    }
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return results({"ID": "g1", "Name": "Acme", "Phone": "+31 20 555 0101"}, headers=headers)

    records = list(connector(handler, waits=waits, division="1").iter_records())

    assert len(records) == 2
    assert waits == [20.0]  # before the second request (Accounts)


@time_machine.travel(NOW, tick=False)
def test_a_used_up_daily_window_stops_the_sync_with_its_retry_after() -> None:
    headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(NOW_MS + 3 * 3600 * 1000),
        "X-RateLimit-Minutely-Remaining": "40",
        "X-RateLimit-Minutely-Reset": str(NOW_MS + 30_000),
    }

    with pytest.raises(ConnectorError, match="request limit is used up") as caught:
        list(connector(lambda r: results(headers=headers), division="1").iter_records())

    assert caught.value.retry_after == 3 * 3600
    assert not caught.value.permanent


@time_machine.travel(NOW, tick=False)
def test_a_429_without_retry_after_waits_for_the_minutely_reset() -> None:
    limited = httpx.Response(
        429,
        headers={"X-RateLimit-Minutely-Remaining": "0", "X-RateLimit-Minutely-Reset": str(NOW_MS + 12_500)},
        json={"error": {"code": "", "message": {"lang": "", "value": "Too many requests"}}},
    )
    answers = iter([limited])
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, results())

    assert list(connector(handler, waits=waits, division="1").iter_records()) == []
    assert waits == [12.5]


def test_the_rate_limit_reading_ignores_windows_with_requests_left() -> None:
    response = httpx.Response(
        200, headers={"X-RateLimit-Minutely-Remaining": "3", "X-RateLimit-Minutely-Reset": "1"}
    )

    assert exact_rate_limit_wait(response) is None
    assert exact_rate_limit_wait(httpx.Response(200)) is None


def test_changes_filter_on_modified_in_utc_without_a_zone() -> None:
    queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(dict(request.url.params))
        return results()

    since = dt.datetime(2026, 3, 10, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert list(connector(handler, division="1").iter_changes(since)) == []

    assert [q["$filter"] for q in queries] == ["Modified ge datetime'2026-03-10T09:30:00'"] * 2
    assert ExactOnlineConnector.incremental_supported({})


def test_an_expired_token_answer_is_permanent() -> None:
    body = {"error": {"code": "", "message": {"lang": "", "value": "Access token is expired"}}}

    with pytest.raises(ConnectorError, match=r"refused the credentials \(HTTP 401\)") as caught:
        list(connector(lambda r: httpx.Response(401, json=body), division="1").iter_records())

    assert caught.value.permanent


def test_an_answer_without_results_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="without a record list") as caught:
        list(connector(lambda r: httpx.Response(200, json={"d": {}}), division="1").iter_records())

    assert caught.value.permanent
