"""Zoho CRM beyond the contract suite: data centres, the token answer's `api_domain`, the
`Zoho-oauthtoken` header, If-Modified-Since with deletions, the phone search, Zoho's 429 body.

Doubles follow Zoho's published shapes (github.com/zoho/crm-oas v8.0 record.json examples).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import scripts_engine
from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy
from integrations.connectors.zoho import DATA_CENTRES, ZOHO_CRM, ZOHO_OAUTH, ZohoConnector, record_url
from integrations.matching import call_from_params, match_call
from integrations.oauth import TOKEN_SECRET, InvalidGrantError, authorization_start, token_request
from integrations.services import integration_create, preset_default_scripts
from integrations.sync import phone_cache_sync
from tenants.models import Tenant

TOKEN = "1000.9d1c.test"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def stored_token(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    token = {"access_token": TOKEN, "instance_url": "https://www.zohoapis.com.au"}
    monkeypatch.setattr(oauth, "access_token", lambda integration_id, config, *, settings: token)
    return token


def connector(handler: Handler, *, waits: list[float] | None = None, **settings: str) -> ZohoConnector:
    values = {
        "data_centre": "zoho.com.au",
        "oauth_client_id": "1000.ID",
        "oauth_client_secret": "s",
        "_integration_id": "7",
    }
    return ZohoConnector(
        settings={**values, **settings},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )


def page(*records: dict[str, Any], more: bool = False, token: str | None = None) -> httpx.Response:
    info = {"per_page": 200, "count": len(records), "page": 1, "more_records": more, "next_page_token": token}
    return httpx.Response(200, json={"data": list(records), "info": info})


def test_the_token_answer_gives_the_api_domain_and_the_dc_accounts_server_is_asked() -> None:
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": "1000.new",
                "refresh_token": "1000.refresh",
                "api_domain": "https://www.zohoapis.eu",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    settings = {"data_centre": "zoho.eu", "oauth_client_id": "1000.ID", "oauth_client_secret": "sec"}
    client = httpx.Client(transport=httpx.MockTransport(token_endpoint))

    token = token_request(
        ZOHO_OAUTH, settings=settings, data={"grant_type": "refresh_token"}, now=0, client=client
    )

    assert token["instance_url"] == "https://www.zohoapis.eu"
    assert token["expires_at"] == "3600"
    assert str(seen[0].url) == "https://accounts.zoho.eu/oauth/v2/token"
    form = parse_qs(seen[0].content.decode())
    assert form["client_id"] == ["1000.ID"]
    assert form["client_secret"] == ["sec"]


def test_zohos_refusal_in_a_200_answer_is_an_error_not_a_token() -> None:
    # Zoho answers a bad or used grant with HTTP 200 and {"error": "invalid_code"}.
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"error": "invalid_code"}))
    )

    with pytest.raises(InvalidGrantError) as caught:
        token_request(
            ZOHO_OAUTH, settings={"data_centre": "zoho.com"}, data={"grant_type": "x"}, client=client
        )
    assert caught.value.permanent  # reconnect required, not retried forever


def test_connect_sends_the_admin_to_the_chosen_data_centre_with_offline_access() -> None:
    started = authorization_start(
        ZOHO_OAUTH,
        settings={"data_centre": "zohocloud.ca", "oauth_client_id": "1000.ID"},
        redirect_uri="https://cti.example.com/oauth/callback",
    )

    parts = urlsplit(started.url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.zohocloud.ca/oauth/v2/auth"
    assert query["scope"] == [
        "ZohoCRM.modules.contacts.READ,ZohoCRM.modules.leads.READ,ZohoCRM.modules.accounts.READ,"
        "ZohoSearch.securesearch.READ"
    ]
    assert query["access_type"] == ["offline"]
    assert query["client_id"] == ["1000.ID"]


def test_it_calls_the_api_domain_the_token_handed_back_with_the_zoho_header(
    stored_token: dict[str, str],
) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    assert list(connector(handler).iter_records()) == []

    assert [r.url.host for r in requests] == ["www.zohoapis.com.au"] * 3
    assert [r.url.path for r in requests] == ["/crm/v8/Contacts", "/crm/v8/Leads", "/crm/v8/Accounts"]
    assert requests[0].headers["Authorization"] == f"Zoho-oauthtoken {TOKEN}"


@pytest.mark.parametrize(("domain", "label", "api_host"), DATA_CENTRES)
def test_without_an_api_domain_it_calls_the_data_centres_api_host(
    stored_token: dict[str, str], domain: str, label: str, api_host: str
) -> None:
    stored_token["instance_url"] = ""
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(f"{request.url.scheme}://{request.url.host}")
        return page({"id": "1", "Full_Name": "Ada", "Phone": "+31 20 555 0101"})

    records = list(connector(handler, data_centre=domain).iter_records())

    assert set(hosts) == {api_host}
    assert isinstance(records[0], CrmRecord)
    assert records[0].url == f"https://crm.{domain}/crm/tab/Contacts/1"
    assert ZohoConnector.settings_problems({"data_centre": domain}) == {}


def test_an_unknown_data_centre_is_named() -> None:
    assert "data_centre" in ZohoConnector.settings_problems({"data_centre": "zoho.example"})


def test_the_record_url_carries_the_organization_when_set() -> None:
    assert (
        record_url("zoho.eu", "Leads", "42", "org20071234")
        == "https://crm.zoho.eu/crm/org20071234/tab/Leads/42"
    )
    assert (
        record_url("zoho.eu", "Leads", "42", "20071234") == "https://crm.zoho.eu/crm/org20071234/tab/Leads/42"
    )


def test_a_429_with_zohos_body_waits_its_retry_after(stored_token: dict[str, str]) -> None:
    answers = iter(
        [
            httpx.Response(
                429,
                json={
                    "code": "TOO_MANY_REQUESTS",
                    "message": "Rate limit exceeded. Please retry after the specified time.",
                    "status": "error",
                    "details": {"retry_after": 45, "limit": 100, "window": 60},
                },
            )
        ]
    )
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(204))

    assert list(connector(handler, waits=waits).iter_records()) == []
    assert waits == [45.0]


def test_a_429_asking_longer_than_the_sync_may_wait_fails_with_its_retry_after(
    stored_token: dict[str, str],
) -> None:
    body = {
        "code": "TOO_MANY_REQUESTS",
        "message": "Rate limit exceeded.",
        "status": "error",
        "details": {"retry_after": 900},
    }

    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        list(connector(lambda r: httpx.Response(429, json=body)).iter_records())

    assert caught.value.retry_after == 900
    assert not caught.value.permanent


def test_an_invalid_token_answer_is_permanent(stored_token: dict[str, str]) -> None:
    body = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}

    with pytest.raises(ConnectorError, match=r"refused the credentials \(HTTP 401\)") as caught:
        list(connector(lambda r: httpx.Response(401, json=body)).iter_records())

    assert caught.value.permanent


def test_changes_use_if_modified_since_and_list_deletions(stored_token: dict[str, str]) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path, params = request.url.path, dict(request.url.params)
        if path == "/crm/v8/Contacts":
            return page({"id": "11", "Full_Name": "Changed Contact", "Mobile": "+31 6 1111 2222"})
        if path == "/crm/v8/Contacts/deleted" and params.get("page") is None:
            deleted = {
                "id": "12",
                "display_name": None,
                "type": "permanent",
                "deleted_time": "2026-03-10T10:00:00+01:00",
            }
            return httpx.Response(
                200,
                json={
                    "data": [deleted],
                    "info": {"per_page": 200, "count": 1, "page": 1, "more_records": True},
                },
            )
        if path == "/crm/v8/Contacts/deleted":
            recycled = {
                "id": "13",
                "display_name": "Old",
                "type": "recycle",
                "deleted_time": "2026-03-10T11:00:00+01:00",
            }
            return httpx.Response(
                200,
                json={
                    "data": [recycled],
                    "info": {"per_page": 200, "count": 1, "page": 2, "more_records": False},
                },
            )
        if path == "/crm/v8/Leads/deleted":
            return httpx.Response(
                200, json={"data": [{"display_name": "no id"}], "info": {"more_records": False}}
            )
        return httpx.Response(304)  # Leads, Accounts and deleted Accounts: not modified

    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert {r.headers["If-Modified-Since"] for r in requests} == {"2026-03-10T09:00:00+00:00"}
    assert [type(i).__name__ for i in items] == [
        "CrmRecord",
        "DeletedRecord",
        "DeletedRecord",
        "SkippedRecord",
    ]
    assert items[1] == DeletedRecord(id="12", type="contact")
    assert items[2] == DeletedRecord(id="13", type="contact")
    deleted_queries = [dict(r.url.params) for r in requests if r.url.path == "/crm/v8/Contacts/deleted"]
    assert deleted_queries == [
        {"type": "all", "per_page": "200"},
        {"type": "all", "per_page": "200", "page": "2"},
    ]
    assert ZohoConnector.incremental_supported({})


def test_lookup_searches_each_module_by_phone(stored_token: dict[str, str]) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/crm/v8/Leads/search":
            return page(
                {"id": "77", "Full_Name": "Lead Caller", "Company": "Zylker", "Phone": "+31201234567"}
            )
        return httpx.Response(204)

    found = connector(handler).lookup("+31201234567")

    assert [r.url.path for r in requests] == [
        "/crm/v8/Contacts/search",
        "/crm/v8/Leads/search",
        "/crm/v8/Accounts/search",
    ]
    assert requests[0].url.params["phone"] == "+31201234567"
    assert [(r.id, r.type, r.fields["Company"]) for r in found] == [("77", "lead", "Zylker")]
    assert found[0].url == "https://crm.zoho.com.au/crm/tab/Leads/77"


def test_more_records_without_a_token_goes_by_page_number_and_stops_on_a_repeat(
    stored_token: dict[str, str],
) -> None:
    same = {"id": "1", "Full_Name": "Ada", "Phone": "+31 20 555 0101"}

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(connector(lambda r: page(same, more=True)).iter_records())


def test_an_answer_that_is_not_the_documented_shape_is_a_clear_error(stored_token: dict[str, str]) -> None:
    with pytest.raises(ConnectorError, match="without a record list") as caught:
        list(connector(lambda r: httpx.Response(200, json={"status": "success"})).iter_records())

    assert caught.value.permanent


def test_the_create_contact_script_renders_with_the_caller_number() -> None:
    scripts = preset_default_scripts(preset=ZOHO_CRM, settings_values={"data_centre": "zoho.eu"})
    create = next(s for s in scripts if s.name == "Create contact")

    link = scripts_engine.render(
        scripts_engine.validate(create.template, record_fields=None),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        country="NL",
    )

    assert link is not None
    assert link.startswith("https://crm.zoho.eu/crm/tab/Contacts/create?Phone=")
    assert "31201234567" in link
    assert json.dumps(ZOHO_CRM.record_types) == '["contact", "lead", "company"]'


class _ZohoApi(BaseHTTPRequestHandler):
    """A local Zoho Records API (127.0.0.1, port 0): Contacts on two pages, Leads, no Accounts."""

    pages: ClassVar[dict[tuple[str, str], Any]] = {
        ("/crm/v8/Contacts", ""): {
            "data": [
                {"id": "101", "Full_Name": "Jane Smith", "Mobile": "+31 6 1234 5678", "Account_Name": None}
            ],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": True, "next_page_token": "t2"},
        },
        ("/crm/v8/Contacts", "t2"): {
            "data": [{"id": "102", "Full_Name": "John Roe", "Phone": "020 555 0102"}],
            "info": {"per_page": 200, "count": 1, "page": 2, "more_records": False, "next_page_token": None},
        },
        ("/crm/v8/Leads", ""): {
            "data": [
                {"id": "201", "Full_Name": "Lead Caller", "Company": "Zylker", "Phone": "+31 20 123 4567"}
            ],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False, "next_page_token": None},
        },
    }

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        token = parse_qs(parts.query).get("page_token", [""])[0]
        if self.headers.get("Authorization") != f"Zoho-oauthtoken {TOKEN}":
            status, body = 401, {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token"}
        elif (parts.path, token) in self.pages:
            status, body = 200, self.pages[(parts.path, token)]
        else:
            status, body = 204, None
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def zoho_api(allow_private_addresses: None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ZohoApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.django_db
def test_a_sync_uses_the_stored_tokens_api_domain_and_a_caller_matches_a_lead(
    zoho_api: str, tenant: Tenant
) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="zoho_crm",
        name="Zoho",
        settings_values={
            "data_centre": "zoho.eu",
            "oauth_client_id": "1000.ID",
            "oauth_client_secret": "sec",
        },
        start_sync=False,
    )
    # What Connect stores: the token answer's `api_domain` as the instance URL (here the local API).
    token = {"access_token": TOKEN, "refresh_token": "1000.r", "expires_at": "", "instance_url": zoho_api}
    integration.secrets = {**(integration.secrets or {}), TOKEN_SECRET: token}
    integration.save(update_fields=["secrets"])

    result = phone_cache_sync(integration_id=integration.pk, sleep=lambda seconds: None)

    assert (result.status, result.records, result.numbers) == ("ok", 3, 3)
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0201234567"})
    )
    assert [m["record"]["url"] for m in answer["matches"]] == ["https://crm.zoho.eu/crm/tab/Leads/201"]
