"""Microsoft 365 contacts (Graph) beyond the contract suite: Graph's 429 with Retry-After and its
error body, a mailbox that does not exist, the app-only token request, national clouds, the
mailbox settings, and the default script.

Shapes follow https://learn.microsoft.com/graph/throttling (429 + Retry-After,
`{"error": {"code": "TooManyRequests"...}}`), https://learn.microsoft.com/graph/errors and
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import scripts_engine
from integrations import http, oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy
from integrations.connectors.microsoft_graph import MICROSOFT_GRAPH, MicrosoftGraphConnector, mailboxes
from integrations.services import preset_default_scripts

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SETTINGS = {
    "auth_kind": "client_credentials",
    "mailboxes": "contacts@contoso.com",
    "tenant_id": TENANT,
    "oauth_client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
    "oauth_client_secret": "fake-client-secret",
    "cloud": "global",
}
TOO_MANY = {
    "error": {
        "code": "TooManyRequests",
        "message": "Application is over its MailboxConcurrency limit.",
        "innerError": {"date": "2026-03-10T09:30:00", "request-id": "2f4f3e1a-6c2b-4b8e-9a57-0d2c3f1e7a10"},
    }
}
CONTACT = {"id": "AAMkAGI2TGuLAAA=", "displayName": "Jane Smith", "businessPhones": ["+31 20 123 4567"]}

_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _stored_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        oauth, "access_token", lambda integration_id, config, *, settings: _TOKENS[integration_id]
    )
    yield
    _TOKENS.clear()


def connector(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    settings: dict[str, str] | None = None,
    retries: int = 0,
    waits: list[float] | None = None,
) -> MicrosoftGraphConnector:
    key = len(_TOKENS) + 1
    _TOKENS[key] = {"access_token": "graph-token", "instance_url": ""}
    return MicrosoftGraphConnector(
        settings={**(settings or SETTINGS), oauth.INTEGRATION_ID_SETTING: str(key)},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=retries, backoff=1.0, max_retry_after=60),
    )


def page(*contacts: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"value": list(contacts)})


def recording(
    into: list[str], what: Callable[[httpx.Request], str]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        into.append(what(request))
        return page()

    return handler


def test_graphs_429_is_waited_out_as_retry_after_asks() -> None:
    answers = [httpx.Response(429, json=TOO_MANY, headers={"Retry-After": "5"})]
    waits: list[float] = []

    records = list(
        connector(
            lambda r: answers.pop() if answers else page(CONTACT), retries=2, waits=waits
        ).iter_records()
    )

    assert waits == [5.0]
    assert [r.id for r in records] == ["AAMkAGI2TGuLAAA="]


def test_a_mailbox_that_does_not_exist_is_named_and_permanent() -> None:
    body = {
        "error": {
            "code": "ErrorInvalidUser",
            "message": "The requested user 'nobody@contoso.com' is invalid.",
        }
    }

    with pytest.raises(ConnectorError, match="no such mailbox") as caught:
        connector(
            lambda r: httpx.Response(404, json=body), settings={**SETTINGS, "mailboxes": "nobody@contoso.com"}
        ).test_connection()

    assert caught.value.permanent
    assert "nobody@contoso.com" in caught.value.message


def test_access_denied_by_an_application_access_policy_is_no_permission() -> None:
    body = {"error": {"code": "ErrorAccessDenied", "message": "Access to OData is disabled."}}

    with pytest.raises(ConnectorError, match=r"no permission \(HTTP 403\)") as caught:
        connector(lambda r: httpx.Response(403, json=body)).test_connection()

    assert caught.value.permanent


def test_every_mailbox_is_listed_in_turn() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return page(CONTACT)

    settings = {**SETTINGS, "mailboxes": "contacts@contoso.com; reception@contoso.com contacts@contoso.com"}
    list(connector(handler, settings=settings).iter_records())

    assert paths == [
        "/v1.0/users/contacts@contoso.com/contacts",
        "/v1.0/users/reception@contoso.com/contacts",
    ]


def test_the_wizards_connection_test_gets_an_app_only_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def entra(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0.graph"}
        )

    monkeypatch.setattr(
        http, "connector_client", lambda **kwargs: httpx.Client(transport=httpx.MockTransport(entra))
    )
    api: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        api.append(request)
        return page(CONTACT)

    MicrosoftGraphConnector(
        settings=SETTINGS, client=httpx.Client(transport=httpx.MockTransport(graph))
    ).test_connection()

    assert str(seen[0].url) == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    form = dict(httpx.QueryParams(seen[0].content.decode()))
    assert (form["grant_type"], form["scope"]) == (
        "client_credentials",
        "https://graph.microsoft.com/.default",
    )
    assert api[0].headers["Authorization"] == "Bearer eyJ0.graph"
    assert str(api[0].url).startswith("https://graph.microsoft.com/v1.0/users/contacts@contoso.com/contacts?")


@pytest.mark.parametrize(
    ("cloud", "login", "graph"),
    [
        ("global", "login.microsoftonline.com", "graph.microsoft.com"),
        ("usgov", "login.microsoftonline.us", "graph.microsoft.us"),
        ("usgov_dod", "login.microsoftonline.us", "dod-graph.microsoft.us"),
        ("china", "login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn"),
        ("elsewhere", "login.microsoftonline.com", "graph.microsoft.com"),
    ],
)
def test_national_clouds_have_their_own_authority_and_graph_host(cloud: str, login: str, graph: str) -> None:
    settings = {**SETTINGS, "cloud": cloud}
    config = MicrosoftGraphConnector.oauth_config(settings)
    hosts: list[str] = []

    connector(recording(hosts, lambda r: r.url.host), settings=settings).test_connection()

    assert config.url(config.token_url, settings) == f"https://{login}/{TENANT}/oauth2/v2.0/token"
    assert config.scope(settings) == f"https://{graph}/.default"
    assert hosts == [graph]


def test_the_signed_in_user_variant_reads_me_and_asks_for_a_refresh_token() -> None:
    settings = {**SETTINGS, "auth_kind": "authorization_code", "mailboxes": ""}
    config = MicrosoftGraphConnector.oauth_config(settings)
    paths: list[str] = []

    connector(recording(paths, lambda r: r.url.path), settings=settings).test_connection()

    assert config.needs_connect
    assert config.scope(settings) == "https://graph.microsoft.com/Contacts.Read offline_access"
    assert paths == ["/v1.0/me/contacts"]
    assert MicrosoftGraphConnector.settings_problems(settings) == {}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"mailboxes": ""}, "mailboxes"),
        ({"mailboxes": "contacts@contoso.com, not a mailbox"}, "mailboxes"),
        ({"tenant_id": "no tenant!"}, "tenant_id"),
    ],
)
def test_settings_problems_name_the_setting(changes: dict[str, str], problem: str) -> None:
    assert MicrosoftGraphConnector.settings_problems(SETTINGS) == {}
    assert set(MicrosoftGraphConnector.settings_problems({**SETTINGS, **changes})) == {problem}


def test_mailboxes_are_read_in_order_without_repeats() -> None:
    assert mailboxes({"mailboxes": " a@x.example,b@x.example;\na@x.example "}) == [
        "a@x.example",
        "b@x.example",
    ]


def test_records_have_no_url_and_the_default_script_opens_outlook_people() -> None:
    records = list(connector(lambda r: page(CONTACT)).iter_records())
    assert isinstance(records[0], CrmRecord)
    assert records[0].url == ""
    assert records[0].fields["PopUpUri"] == ""

    (script,) = preset_default_scripts(preset=MICROSOFT_GRAPH, settings_values=SETTINGS)
    template = scripts_engine.validate(
        script.template, record_fields=[f.name for f in MICROSOFT_GRAPH.all_fields]
    )
    link = scripts_engine.render(template, call=scripts_engine.CallProperties(caller_number="+31201234567"))

    assert link == "https://outlook.office.com/people/"
