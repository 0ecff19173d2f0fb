"""Freshdesk beyond the contract suite: its rate-limit and auth-failure answers, incremental
listing with `_updated_since` and deleted contacts, the contact search, the domain setting, the
record and create-contact URLs.

The doubles follow the Freshdesk API v2 (https://developers.freshdesk.com/api/) and are served
with `httpx.MockTransport`.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError

import scripts_engine
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy, SkippedRecord
from integrations.connectors.freshdesk import FRESHDESK, FreshdeskConnector
from integrations.presets import ScriptApplies
from integrations.services import integration_settings_clean, preset_default_scripts

SETTINGS = {"domain": "acme", "api_key": "key-1"}

Handler = Callable[[httpx.Request], httpx.Response]


def connector(handler: Handler, *, waits: list[float] | None = None, **settings: str) -> FreshdeskConnector:
    return FreshdeskConnector(
        settings={**SETTINGS, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def contact(
    contact_id: int, name: str, phone: str | None = None, mobile: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": name,
        "phone": phone,
        "mobile": mobile,
        "email": f"{contact_id}@example.com",
        "active": True,
        "company_id": None,
        "updated_at": "2026-03-09T10:00:00Z",
        **extra,
    }


def test_the_api_key_is_the_basic_user_with_password_x() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[contact(1, "Jane", "+31201234567")])

    records = list(connector(handler).iter_records())

    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"key-1:X").decode()
    assert str(seen[0].url) == "https://acme.freshdesk.com/api/v2/contacts?per_page=100"
    assert [(r.id, r.url) for r in records if isinstance(r, CrmRecord)] == [
        ("1", "https://acme.freshdesk.com/a/contacts/1")
    ]


def test_freshdesks_401_is_a_permanent_credentials_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
        return httpx.Response(401, json=body)

    with pytest.raises(ConnectorError, match=r"Freshdesk refused the credentials \(HTTP 401\)") as caught:
        connector(handler).test_connection()

    assert caught.value.permanent


def test_freshdesks_429_is_waited_out_per_retry_after() -> None:
    answers = iter(
        [
            httpx.Response(
                429,
                headers={
                    "Retry-After": "23",
                    "X-RateLimit-Total": "700",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Used-CurrentRequest": "1",
                },
                json={"message": "You have exceeded the limit of requests per minute"},
            ),
            httpx.Response(
                200, headers={"X-RateLimit-Remaining": "699"}, json=[contact(1, "Jane", "+31201234567")]
            ),
        ]
    )
    waits: list[float] = []

    records = list(connector(lambda request: next(answers), waits=waits).iter_records())

    assert waits == [23.0]
    assert [r.id for r in records] == ["1"]


def test_a_429_longer_than_the_sync_may_wait_fails_temporarily_with_its_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "600", "X-RateLimit-Remaining": "0"})

    with pytest.raises(ConnectorError, match=r"Freshdesk is rate limiting") as caught:
        list(connector(handler).iter_records())

    assert caught.value.retry_after == 600
    assert not caught.value.permanent


def test_a_page_that_is_not_an_array_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"description": "Validation failed", "errors": []})

    with pytest.raises(ConnectorError, match="is not a list") as caught:
        list(connector(handler).iter_records())

    assert caught.value.permanent


def test_incremental_lists_updated_contacts_then_the_deleted_ones() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.params.get("state") == "deleted":
            return httpx.Response(
                200, json=[contact(7, "Gone", "+31201234599", deleted=True), {"name": "no id"}]
            )
        return httpx.Response(
            200,
            json=[
                contact(1, "Jane", "+31201234567"),
                contact(2, "Soft deleted", "+31201234568", deleted=True),
                contact(3, "No number"),
            ],
        )

    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert [dict(request.url.params) for request in requests] == [
        {"per_page": "100", "_updated_since": "2026-03-10T09:00:00Z"},
        {"per_page": "100", "state": "deleted"},
    ]
    assert [item.id for item in items if isinstance(item, CrmRecord)] == ["1"]
    assert [item for item in items if isinstance(item, DeletedRecord)] == [
        DeletedRecord(id="2", type="contact"),
        DeletedRecord(id="7", type="contact"),
    ]
    assert len([item for item in items if isinstance(item, SkippedRecord)]) == 1
    assert FreshdeskConnector.incremental_supported(SETTINGS)


def test_lookup_searches_phone_and_mobile_in_e164_and_national_form() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        results = [contact(9, "Caller", mobile="0201234567"), contact(10, "No number")]
        return httpx.Response(200, json={"results": results, "total": 2})

    found = connector(handler).lookup("+31201234567")

    assert requests[0].url.path == "/api/v2/search/contacts"
    assert requests[0].url.params["query"] == (
        "\"phone:'+31201234567' OR mobile:'+31201234567' OR phone:'0201234567' OR mobile:'0201234567'\""
    )
    assert [(r.id, r.phones[0].type) for r in found] == [("9", "mobile")]


def test_lookup_answer_without_results_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match='without a "results" list'):
        connector(lambda request: httpx.Response(200, json=[])).lookup("+31201234567")


@pytest.mark.parametrize("domain", ["", "acme.freshdesk.com", "https://acme.freshdesk.com", "ac me"])
def test_only_the_account_name_is_accepted_as_domain(domain: str) -> None:
    assert "domain" in FreshdeskConnector.settings_problems({**SETTINGS, "domain": domain})

    with pytest.raises(ConnectorError, match="domain") as caught:
        connector(lambda request: httpx.Response(200, json=[]), domain=domain).test_connection()

    assert caught.value.permanent
    assert FreshdeskConnector.settings_problems(SETTINGS) == {}


def test_the_default_scripts_open_the_contact_and_create_one_with_the_caller_number() -> None:
    scripts = {s.applies: s for s in preset_default_scripts(preset=FRESHDESK, settings_values=SETTINGS)}
    call = scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1")
    record = next(
        iter(
            connector(
                lambda request: httpx.Response(200, json=[contact(5, "Ada", "+31201234567")])
            ).iter_records()
        )
    )
    assert isinstance(record, CrmRecord)

    opened = scripts_engine.render(
        scripts_engine.validate(scripts[ScriptApplies.ON_MATCH].template, record_fields=list(record.fields)),
        call=call,
        record=dict(record.fields),
        country="NL",
    )
    created = scripts_engine.render(
        scripts_engine.validate(scripts[ScriptApplies.ON_NO_MATCH].template, record_fields=None),
        call=call,
        record=None,
        country="NL",
    )

    assert opened == "https://acme.freshdesk.com/a/contacts/5"
    assert created == "https://acme.freshdesk.com/a/contacts/new?phone=%2B31201234567"


def test_the_wizard_form_rejects_a_full_address_as_domain() -> None:
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(
            preset=FRESHDESK, values={**SETTINGS, "domain": "https://acme.freshdesk.com"}
        )

    assert "domain" in caught.value.message_dict
    plain, secrets = integration_settings_clean(preset=FRESHDESK, values=SETTINGS)
    assert plain == {"domain": "acme"}
    assert secrets == {"api_key": "key-1"}
