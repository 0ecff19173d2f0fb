"""Dynamics 365 / Dataverse beyond the contract suite: the service protection 429, the 401 of a
token Dataverse does not accept, the Microsoft identity platform token endpoint (client
credentials end to end, and its error body), authorities, incremental listing, screen pops.

Shapes follow https://learn.microsoft.com/power-apps/developer/data-platform/api-limits (429 +
Retry-After), .../webapi/query/page-results (`value`, `@odata.nextLink`) and
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import scripts_engine
from integrations import http, oauth
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy
from integrations.connectors.dynamics import DYNAMICS, DynamicsConnector
from integrations.services import preset_default_scripts

ORG = "https://contoso.crm4.dynamics.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SETTINGS = {
    "org_url": ORG,
    "auth_kind": "client_credentials",
    "tenant_id": TENANT,
    "oauth_client_id": "51f81489-12ee-4a9e-aaae-a2591f45987d",
    "oauth_client_secret": "fake-client-secret",
    "login_host": "login.microsoftonline.com",
}
THROTTLED = {
    "error": {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    }
}
CONTACT = {
    "contactid": "49b0be2e-d01c-ed11-b83e-000d3a572421",
    "fullname": "Yvonne McKay (sample)",
    "telephone1": "555-0100",
    "statecode": 0,
}

_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _stored_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        oauth, "access_token", lambda integration_id, config, *, settings: _TOKENS[integration_id]
    )
    yield
    _TOKENS.clear()


def connector(
    handler: Callable[[httpx.Request], httpx.Response], *, retries: int = 0, waits: list[float] | None = None
) -> DynamicsConnector:
    key = len(_TOKENS) + 1
    _TOKENS[key] = {"access_token": "app-token", "instance_url": ""}
    return DynamicsConnector(
        settings={**SETTINGS, oauth.INTEGRATION_ID_SETTING: str(key)},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=retries, backoff=1.0, max_retry_after=60),
    )


def page(*rows: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"@odata.context": f"{ORG}/api/data/v9.2/$metadata#contacts", "value": list(rows)}
    )


def test_the_service_protection_429_is_waited_out_as_retry_after_asks() -> None:
    answers = [httpx.Response(429, json=THROTTLED, headers={"Retry-After": "12"})]

    def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop()
        return page(CONTACT) if request.url.path.endswith("/contacts") else page()

    waits: list[float] = []
    records = list(connector(handler, retries=2, waits=waits).iter_records())

    assert waits == [12.0]
    assert [r.id for r in records] == [CONTACT["contactid"]]


def test_a_429_asking_longer_than_the_sync_may_wait_fails_with_its_retry_after() -> None:
    conn = connector(
        lambda request: httpx.Response(429, json=THROTTLED, headers={"Retry-After": "300"}), retries=2
    )

    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        conn.test_connection()

    assert caught.value.retry_after == 300
    assert not caught.value.permanent


def test_a_token_dataverse_does_not_accept_is_refused_credentials() -> None:
    answer = httpx.Response(
        401,
        headers={
            "WWW-Authenticate": "Bearer authorization_uri="
            f"https://login.microsoftonline.com/{TENANT}/oauth2/authorize, resource_id={ORG}/"
        },
    )

    with pytest.raises(ConnectorError, match=r"Dynamics 365 refused the credentials \(HTTP 401\)") as caught:
        connector(lambda request: answer).test_connection()

    assert caught.value.permanent


def test_the_wizards_connection_test_gets_a_client_credentials_token_and_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    def entra(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0eXAi.app"}
        )

    monkeypatch.setattr(
        http, "connector_client", lambda **kwargs: httpx.Client(transport=httpx.MockTransport(entra))
    )
    api: list[httpx.Request] = []

    def dataverse(request: httpx.Request) -> httpx.Response:
        api.append(request)
        return page(CONTACT)

    DynamicsConnector(
        settings=SETTINGS, client=httpx.Client(transport=httpx.MockTransport(dataverse))
    ).test_connection()

    assert str(seen[0].url) == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    form = dict(httpx.QueryParams(seen[0].content.decode()))
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == f"{ORG}/.default"
    assert form["client_id"] == SETTINGS["oauth_client_id"]
    assert api[0].headers["Authorization"] == "Bearer eyJ0eXAi.app"
    assert api[0].url.host == "contoso.crm4.dynamics.com"
    assert api[0].headers["OData-Version"] == "4.0"
    assert "odata.maxpagesize=500" in api[0].headers["Prefer"]


def test_an_invalid_client_secret_is_permanent_with_entras_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
        "in the request is the client secret value, not the client secret ID.",
        "error_codes": [7000215],
    }
    monkeypatch.setattr(
        http,
        "connector_client",
        lambda **kwargs: httpx.Client(
            transport=httpx.MockTransport(lambda request: httpx.Response(401, json=body))
        ),
    )
    conn = DynamicsConnector(
        settings=SETTINGS, client=httpx.Client(transport=httpx.MockTransport(lambda r: page()))
    )

    with pytest.raises(ConnectorError, match="AADSTS7000215") as caught:
        conn.test_connection()

    assert caught.value.permanent


@pytest.mark.parametrize(
    ("changes", "token_url"),
    [
        ({}, f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
        (
            {"login_host": "login.microsoftonline.us"},
            f"https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token",
        ),
        (
            {"login_host": "https://evil.example"},
            f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
        ),
        (
            {"tenant_id": "contoso.onmicrosoft.com"},
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        ),
    ],
)
def test_the_token_endpoint_is_the_tenants_at_the_chosen_authority(
    changes: dict[str, str], token_url: str
) -> None:
    settings = {**SETTINGS, **changes}
    config = DynamicsConnector.oauth_config(settings)

    assert config.url(config.token_url, settings) == token_url
    assert not config.needs_connect


def test_the_authorization_code_variant_needs_connect_and_asks_for_a_refresh_token() -> None:
    settings = {**SETTINGS, "auth_kind": "authorization_code"}
    config = DynamicsConnector.oauth_config(settings)

    assert config.needs_connect
    assert config.url(config.authorize_url, settings) == (
        f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"
    )
    assert config.scope(settings) == f"{ORG}/.default offline_access"


def test_changes_since_a_moment_with_deactivated_rows_reported_deleted() -> None:
    filters: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        filters.append(request.url.params["$filter"])
        if request.url.path.endswith("/contacts"):
            inactive = {**CONTACT, "contactid": "4db0be2e-d01c-ed11-b83e-000d3a572421", "statecode": 1}
            return page(CONTACT, inactive)
        if request.url.path.endswith("/leads"):
            return page({"leadid": "a1b0be2e-d01c-ed11-b83e-000d3a572421", "fullname": "Won", "statecode": 1})
        return page()

    since = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    items = list(connector(handler).iter_changes(since))

    assert filters == ["modifiedon ge 2026-03-10T08:00:00Z"] * 3
    assert isinstance(items[0], CrmRecord)
    assert items[1:] == [
        DeletedRecord(id="4db0be2e-d01c-ed11-b83e-000d3a572421", type="contact"),
        DeletedRecord(id="a1b0be2e-d01c-ed11-b83e-000d3a572421", type="lead"),
    ]
    assert DynamicsConnector.supports_incremental


def test_the_record_url_and_create_contact_url() -> None:
    records = list(
        connector(lambda r: page(CONTACT) if r.url.path.endswith("/contacts") else page()).iter_records()
    )
    assert isinstance(records[0], CrmRecord)
    assert (
        records[0].url
        == f"{ORG}/main.aspx?pagetype=entityrecord&etn=contact&id=49b0be2e-d01c-ed11-b83e-000d3a572421"
    )

    scripts = {s.name: s for s in preset_default_scripts(preset=DYNAMICS, settings_values=SETTINGS)}
    template = scripts_engine.validate(scripts["Create contact in Dynamics 365"].template, record_fields=None)
    link = scripts_engine.render(
        template, call=scripts_engine.CallProperties(caller_number="0201234567"), country="NL"
    )

    assert link == f"{ORG}/main.aspx?etn=contact&pagetype=entityrecord&extraqs=telephone1%3D%2B31201234567"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"org_url": "http://contoso.crm4.dynamics.com"}, "org_url"),
        ({"org_url": "https://contoso.crm4.dynamics.com/api/data/v9.2"}, "org_url"),
        ({"tenant_id": "not a tenant!"}, "tenant_id"),
    ],
)
def test_settings_problems_name_the_setting(changes: dict[str, str], problem: str) -> None:
    assert DynamicsConnector.settings_problems(SETTINGS) == {}
    assert set(DynamicsConnector.settings_problems({**SETTINGS, **changes})) == {problem}
