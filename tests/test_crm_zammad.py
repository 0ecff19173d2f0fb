"""Zammad beyond the contract suite: the token header, its auth-failure and rate-limit answers,
the end of the listing at a short page, the incremental search, the phone lookup and the record
URL, also for a Zammad below a path.

The doubles follow the Zammad REST API (https://docs.zammad.org/en/latest/api/intro.html,
https://docs.zammad.org/en/latest/api/user.html) and are served with `httpx.MockTransport`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import scripts_engine
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.zammad import ZAMMAD, ZammadConnector
from integrations.services import preset_default_scripts

SETTINGS = {"base_url": "https://helpdesk.example.com", "api_token": "tok-1"}

Handler = Callable[[httpx.Request], httpx.Response]


def connector(handler: Handler, *, waits: list[float] | None = None, **settings: str) -> ZammadConnector:
    return ZammadConnector(
        settings={**SETTINGS, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def user(
    user_id: int, first: str, last: str, phone: str = "", mobile: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "id": user_id,
        "login": f"{first.lower()}@example.com",
        "firstname": first,
        "lastname": last,
        "email": f"{first.lower()}@example.com",
        "phone": phone,
        "mobile": mobile,
        "fax": "",
        "active": True,
        "organization_id": None,
        "organization": None,
        "updated_at": "2026-03-09T10:00:00.000Z",
        **extra,
    }


def test_the_access_token_goes_in_the_token_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[user(3, "Chris", "Miller", phone="+4930123456")])

    records = list(connector(handler).iter_records())

    assert seen[0].headers["Authorization"] == "Token token=tok-1"
    assert dict(seen[0].url.params) == {"expand": "true", "per_page": "100", "page": "1"}
    assert [(r.id, r.display_name, r.url) for r in records if isinstance(r, CrmRecord)] == [
        ("3", "Chris Miller", "https://helpdesk.example.com/#user/profile/3")
    ]


def test_a_zammad_below_a_path_keeps_it_for_the_api_and_the_record_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[user(4, "Ada", "", mobile="0612345678")])

    records = list(connector(handler, base_url="https://example.com/zammad/").iter_records())

    assert seen[0].url.path == "/zammad/api/v1/users"
    assert [r.url for r in records if isinstance(r, CrmRecord)] == [
        "https://example.com/zammad/#user/profile/4"
    ]


def test_the_listing_pages_until_a_short_page() -> None:
    requests: list[httpx.Request] = []
    full = [user(1000 + n, f"U{n}", "X") for n in range(100)]
    full[0]["mobile"] = "+31612345678"

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        page = int(request.url.params["page"])
        return httpx.Response(200, json=full if page == 1 else [user(7, "Last", "One", phone="+31201234567")])

    records = list(connector(handler).iter_records())

    assert [request.url.params["page"] for request in requests] == ["1", "2"]
    assert [r.id for r in records] == ["1000", "7"]


def test_zammads_401_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": "Authentication required", "error_human": "Authentication required"}
        )

    with pytest.raises(ConnectorError, match=r"Zammad refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_a_429_with_retry_after_is_waited_out() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "5"}, json={"error": "Too many requests"}),
            httpx.Response(200, json=[user(3, "Chris", "Miller", phone="+4930123456")]),
        ]
    )
    waits: list[float] = []

    records = list(connector(lambda request: next(answers), waits=waits).iter_records())

    assert waits == [5.0]
    assert [r.id for r in records] == ["3"]


def test_an_answer_that_is_not_an_array_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "Not authorized (user)!"})

    with pytest.raises(ConnectorError, match="is not a list") as caught:
        list(connector(handler).iter_records())

    assert caught.value.permanent


def test_incremental_searches_users_updated_since_the_day_sorted_by_update() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            200, json=[user(3, "Chris", "Miller", phone="+4930123456"), user(9, "No", "Number")]
        )

    since = dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert requests[0].url.path == "/api/v1/users/search"
    assert dict(requests[0].url.params) == {
        "query": "updated_at:[2026-03-09 TO *]",
        "sort_by": "updated_at",
        "order_by": "asc",
        "expand": "true",
        "per_page": "100",
        "page": "1",
    }
    assert [item.id for item in items if isinstance(item, CrmRecord)] == ["3"]
    assert ZammadConnector.incremental_supported(SETTINGS)


def test_lookup_searches_phone_and_mobile_in_e164_and_national_form() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=[user(5, "Sam", "Lee", mobile="0201234567"), user(6, "No", "Number")])

    found = connector(handler).lookup("+31201234567")

    assert requests[0].url.path == "/api/v1/users/search"
    assert requests[0].url.params["query"] == (
        'phone:"+31201234567" OR mobile:"+31201234567" OR phone:"0201234567" OR mobile:"0201234567"'
    )
    assert [(r.id, r.url) for r in found] == [("5", "https://helpdesk.example.com/#user/profile/5")]


def test_a_lookup_answer_that_is_not_a_list_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="other than a list"):
        connector(lambda request: httpx.Response(200, json={"users": []})).lookup("+31201234567")


def test_a_user_without_a_name_shows_the_email() -> None:
    page = [user(8, "", "", phone="+31201234567", email="nameless@example.com")]

    (record,) = list(connector(lambda request: httpx.Response(200, json=page)).iter_records())

    assert isinstance(record, CrmRecord)
    assert record.display_name == "nameless@example.com"


def test_the_default_script_opens_the_users_profile() -> None:
    page = [user(42, "Ada", "Lovelace", phone="+31201234567", organization="Engines Ltd")]
    record = next(iter(connector(lambda request: httpx.Response(200, json=page)).iter_records()))
    assert isinstance(record, CrmRecord)
    (script,) = preset_default_scripts(preset=ZAMMAD, settings_values=SETTINGS)

    link = scripts_engine.render(
        scripts_engine.validate(script.template, record_fields=[f.name for f in ZAMMAD.all_fields]),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        record=dict(record.fields),
        country="NL",
    )

    assert link == "https://helpdesk.example.com/#user/profile/42"
    assert record.fields["Company"] == "Engines Ltd"
