"""SugarCRM beyond the contract suite (tests/fixtures/sugarcrm/).

A `httpx.MockTransport` double of a Sugar instance answers as the Sugar Developer Guide and
Sugar's `SugarApiException` classes describe: `POST /rest/v11/oauth2/token` (password grant,
form body read like `$_POST`, the answer with `refresh_token`, `refresh_expires_in` and
`download_token`; a wrong password is 401 `need_login`), `GET /rest/v11/{Module}` with the token
in the `OAuth-Token` header (`next_offset` -1 on the last page), and 401 `invalid_grant` for a
session that is no longer valid ("the client should get a new token and retry").
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

import scripts_engine
from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord
from integrations.connectors.sugarcrm import (
    SUGARCRM,
    SUGARCRM_OAUTH,
    SugarCrmConnector,
    sugarcrm_settings_problems,
)
from integrations.oauth import TOKEN_SECRET
from integrations.services import integration_create, preset_default_scripts
from integrations.sync import phone_cache_sync
from tenants.models import Tenant

BASE = "https://example.sugarondemand.com"
STORED = "5ee48ec7-023e-ecff-5184-530bd0358868"
NEED_LOGIN = {"error": "need_login", "error_message": "You must specify a valid username and password."}
INVALID_GRANT = {"error": "invalid_grant", "error_message": "The access token provided is invalid."}


def settings(**more: str) -> dict[str, str]:
    return {
        "base_url": BASE + "/",
        "username": "cti-sync",
        "password": "ExamplePassword",
        "page_size": "2",
        oauth.INTEGRATION_ID_SETTING: "7",
        **more,
    }


@dataclass
class SugarDouble:
    """A Sugar instance: one contact page per module unless `contacts` says otherwise."""

    valid_tokens: set[str] = field(default_factory=lambda: {STORED})
    contacts: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": "c1", "first_name": "Jane", "last_name": "Smith", "phone_mobile": "06 1"}
        ]
    )
    requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/rest/v11/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}
            if (form.get("username"), form.get("password")) != ("cti-sync", "ExamplePassword"):
                return httpx.Response(401, json=NEED_LOGIN)
            self.issued += 1
            token = f"new-token-{self.issued}"
            self.valid_tokens.add(token)
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "expires_in": 3600,
                    "token_type": "bearer",
                    "scope": None,
                    "refresh_token": f"refresh-{self.issued}",
                    "refresh_expires_in": 1209600,
                    "download_token": "d0",
                },
            )
        if request.headers.get("OAuth-Token") not in self.valid_tokens:
            return httpx.Response(401, json=INVALID_GRANT)
        records = self.contacts if request.url.path == "/rest/v11/Contacts" else []
        return httpx.Response(200, json={"next_offset": -1, "records": records})


@pytest.fixture
def stored_token(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The integration's stored token, served in place of `integrations.oauth.access_token`."""
    token = {"access_token": STORED, "refresh_token": "r0", "expires_at": "", "instance_url": ""}

    def stored(integration_id: int, config: oauth.OAuth2Config, *, settings: Any) -> dict[str, str]:
        return token

    monkeypatch.setattr(oauth, "access_token", stored)
    return token


def connector(double: SugarDouble, **more: str) -> SugarCrmConnector:
    return SugarCrmConnector(
        settings=settings(**more), client=httpx.Client(transport=httpx.MockTransport(double))
    )


# --- The token endpoint ----------------------------------------------------------------------


def test_the_password_grant_posts_sugars_form_and_keeps_the_refresh_token() -> None:
    double = SugarDouble()
    sugar = connector(double)

    token = oauth.token_request(
        SUGARCRM_OAUTH,
        settings=sugar.auth_settings(),
        data={"grant_type": "password", "username": "cti-sync", "password": "ExamplePassword"},
        now=1_000.0,
        client=sugar.client,
    )

    [request] = double.requests
    assert str(request.url) == f"{BASE}/rest/v11/oauth2/token"
    assert parse_qs(request.content.decode(), keep_blank_values=True) == {
        "grant_type": ["password"],
        "username": ["cti-sync"],
        "password": ["ExamplePassword"],
        "platform": ["cti"],  # its own platform: "base" would log the user out of the web UI
        "client_id": ["sugar"],
        "client_secret": [""],
    }
    assert token["access_token"] == "new-token-1"
    assert token["refresh_token"] == "refresh-1"
    assert token["expires_at"] == "4600"
    assert not SUGARCRM_OAUTH.needs_connect


def test_the_platform_client_and_api_version_settings_are_sent() -> None:
    double = SugarDouble()
    sugar = connector(double, platform="my_cti", oauth_client_id="cti_key", api_version="v11_20")

    with pytest.raises(ConnectorError):  # the double serves v11 only; the request is what counts
        oauth.token_request(SUGARCRM_OAUTH, settings=sugar.auth_settings(), data={}, client=sugar.client)

    form = parse_qs(double.requests[0].content.decode())
    assert double.requests[0].url.path == "/rest/v11_20/oauth2/token"
    assert (form["platform"], form["client_id"]) == (["my_cti"], ["cti_key"])


def test_a_wrong_password_is_permanent_and_names_sugars_reason() -> None:
    sugar = connector(SugarDouble(), password="wrong")

    with pytest.raises(ConnectorError) as caught:
        oauth.token_request(
            SUGARCRM_OAUTH,
            settings=sugar.auth_settings(),
            data={"grant_type": "password", "username": "cti-sync", "password": "wrong"},
            client=sugar.client,
        )

    assert caught.value.permanent
    assert caught.value.message.endswith("You must specify a valid username and password.")


# --- The REST API ----------------------------------------------------------------------------


def test_records_are_read_with_the_token_in_the_oauth_token_header(stored_token: dict[str, str]) -> None:
    double = SugarDouble()

    records = list(connector(double).iter_records())

    assert [r.id for r in records if isinstance(r, CrmRecord)] == ["c1"]
    [record] = records
    assert isinstance(record, CrmRecord)
    assert record.url == f"{BASE}/#Contacts/c1"
    assert record.display_name == "Jane Smith"
    assert [(p.number, p.type) for p in record.phones] == [("06 1", "mobile")]
    assert [r.url.path for r in double.requests] == [
        "/rest/v11/Contacts",
        "/rest/v11/Leads",
        "/rest/v11/Accounts",
    ]
    assert all(
        r.headers["OAuth-Token"] == STORED and "Authorization" not in r.headers for r in double.requests
    )
    assert double.requests[0].url.params["offset"] == "0"


def test_an_ended_session_gets_a_new_token_once_and_the_request_is_sent_again(
    stored_token: dict[str, str],
) -> None:
    double = SugarDouble(valid_tokens=set())  # another login on the platform ended the session

    records = list(connector(double).iter_records())

    assert [r.id for r in records if isinstance(r, CrmRecord)] == ["c1"]
    paths = [r.url.path for r in double.requests]
    assert paths[:3] == ["/rest/v11/Contacts", "/rest/v11/oauth2/token", "/rest/v11/Contacts"]
    assert paths.count("/rest/v11/oauth2/token") == 1
    assert double.requests[2].headers["OAuth-Token"] == "new-token-1"
    assert double.requests[-1].headers["OAuth-Token"] == "new-token-1"


def test_a_session_refused_again_after_a_new_token_is_a_permanent_error(stored_token: dict[str, str]) -> None:
    double = SugarDouble(valid_tokens=set())
    double.valid_tokens = _Nothing()

    with pytest.raises(ConnectorError, match="The access token provided is invalid") as caught:
        list(connector(double).iter_records())

    assert caught.value.permanent
    assert [r.url.path for r in double.requests].count("/rest/v11/oauth2/token") == 1


class _Nothing(set[str]):
    """A token set that never contains anything, even after `add`."""

    def add(self, element: str) -> None:
        pass


def test_need_login_names_sugars_message(stored_token: dict[str, str]) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401, json=NEED_LOGIN)))
    sugar = SugarCrmConnector(settings=settings(), client=client)

    with pytest.raises(ConnectorError, match=r"HTTP 401 need_login: You must specify a valid") as caught:
        sugar.test_connection()

    assert caught.value.permanent


def test_maintenance_is_temporary(stored_token: dict[str, str]) -> None:
    body = {"error": "maintenance", "error_message": "The server is in maintenance mode."}
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503, json=body)))
    sugar = SugarCrmConnector(settings=settings(), client=client, sleep=lambda s: None)

    with pytest.raises(ConnectorError) as caught:
        sugar.test_connection()

    assert not caught.value.permanent


def test_changes_are_filtered_on_date_modified_in_utc(stored_token: dict[str, str]) -> None:
    double = SugarDouble()
    since = dt.datetime(2025, 3, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    changes = list(connector(double).iter_changes(since))

    assert [c.id for c in changes if isinstance(c, CrmRecord)] == ["c1"]
    assert {r.url.params["filter[0][date_modified][$gte]"] for r in double.requests} == {
        "2025-03-01T10:00:00+00:00"
    }


def test_paging_follows_next_offset_and_stops_at_minus_one(stored_token: dict[str, str]) -> None:
    pages = {
        "0": {"next_offset": 2, "records": [{"id": "a", "phone_work": "1"}, {"id": "b"}]},
        "2": {"next_offset": -1, "records": [{"id": "c", "phone_work": "3"}]},
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/rest/v11/Contacts":
            return httpx.Response(200, json={"next_offset": -1, "records": []})
        seen.append(request.url.params["offset"])
        assert request.url.params["max_num"] == "2"
        return httpx.Response(200, json=pages[request.url.params["offset"]])

    sugar = SugarCrmConnector(
        settings=settings(), client=httpx.Client(transport=httpx.MockTransport(handler))
    )

    assert [r.id for r in sugar.iter_records() if isinstance(r, CrmRecord)] == ["a", "c"]
    assert seen == ["0", "2"]


@pytest.mark.parametrize("body", [{"records": []}, {"next_offset": "x", "records": []}, {"error": "x"}])
def test_a_page_not_shaped_like_sugars_is_a_clear_error(stored_token: dict[str, str], body: Any) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)))

    with pytest.raises(ConnectorError) as caught:
        list(SugarCrmConnector(settings=settings(), client=client).iter_records())

    assert caught.value.permanent


# --- Settings, preset, overview --------------------------------------------------------------


def test_settings_problems() -> None:
    assert sugarcrm_settings_problems({}) == {}
    assert (
        sugarcrm_settings_problems({"api_version": "v11_20", "platform": "cti-2", "page_size": "1000"}) == {}
    )
    assert set(sugarcrm_settings_problems({"api_version": "11", "platform": "a b", "page_size": "0"})) == {
        "api_version",
        "platform",
        "page_size",
    }
    with pytest.raises(ConnectorError, match="not usable"):
        SugarCrmConnector(settings={"page_size": "many"}, client=httpx.Client())


def test_the_create_contact_link_opens_sugars_create_view() -> None:
    scripts = preset_default_scripts(preset=SUGARCRM, settings_values={"base_url": BASE})
    create = next(s for s in scripts if s.name == "Create contact in SugarCRM")
    link = scripts_engine.render(
        scripts_engine.validate(create.template, record_fields=None),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        record=None,
        country="NL",
    )
    assert link == f"{BASE}/#Contacts/create"


@pytest.mark.django_db
def test_the_overview_has_no_connect_button(admin_client: Client, tenant: Tenant) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="sugarcrm",
        name="Sugar",
        settings_values={"base_url": BASE, "username": "cti-sync", "password": "ExamplePassword"},
        start_sync=False,
    )

    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()

    assert reverse("integration-oauth-connect", args=[integration.pk]) not in page
    assert 'id="oauth-reconnect"' not in page
    connect = admin_client.get(reverse("integration-oauth-connect", args=[integration.pk]))
    assert connect["Location"] == reverse("integration-overview", args=[integration.pk])


# --- End to end: a local Sugar on 127.0.0.1 (port 0), the platform's stored password-grant token


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_sugar(allow_private_addresses: None) -> Iterator[tuple[str, SugarDouble]]:
    """`SugarDouble` served over HTTP on 127.0.0.1, port 0: (its URL, the double)."""
    double = SugarDouble()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        url = f"http://127.0.0.1{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}"
        answer = double(httpx.Request(environ["REQUEST_METHOD"], url, headers=headers, content=body))
        start_response(f"{answer.status_code} Sugar", [("Content-Type", "application/json")])
        return [answer.content]

    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", double
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_syncs_get_one_password_grant_token_store_it_encrypted_and_reuse_it(
    tenant: Tenant, local_sugar: tuple[str, SugarDouble]
) -> None:
    url, double = local_sugar
    integration = integration_create(
        tenant=tenant,
        preset_slug="sugarcrm",
        name="Sugar",
        settings_values={"base_url": url, "username": "cti-sync", "password": "ExamplePassword"},
        start_sync=False,
    )

    first = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)
    second = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert (first.status, first.records, second.status) == ("ok", 1, "ok"), first.error
    token_requests = [r for r in double.requests if r.url.path.endswith("/oauth2/token")]
    assert len(token_requests) == 1
    assert parse_qs(token_requests[0].content.decode())["platform"] == ["cti"]
    integration.refresh_from_db()
    stored = (integration.secrets or {})[TOKEN_SECRET]
    assert stored["access_token"] == "new-token-1"
    assert stored["refresh_token"] == "refresh-1"
    listing = [r for r in double.requests if not r.url.path.endswith("/oauth2/token")]
    assert {r.headers["OAuth-Token"] for r in listing} == {"new-token-1"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [integration.pk])
        raw = str(cursor.fetchone())
    assert "new-token-1" not in raw  # stored encrypted
    assert "refresh-1" not in raw
