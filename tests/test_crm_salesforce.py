"""Salesforce beyond the contract suite: its throttling and session answers, its token endpoint,
the instance_url it hands back, incremental listing with deletions, SOSL lookup, screen pops.

The doubles answer like the REST API's documentation: errors as `[{"message", "errorCode"}]`
(https://developer.salesforce.com/docs/platform/api-rest/guide/errorcodes.html), query batches
(resources-query), the delete log (resources-getdeleted), SOSL `searchRecords` (dome-search).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import time_machine

import scripts_engine
from integrations import oauth
from integrations.connectors import salesforce
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy
from integrations.connectors.salesforce import SALESFORCE, SOBJECTS, SalesforceConnector, soql
from integrations.oauth import InvalidGrantError, OAuth2Config, token_request
from integrations.services import preset_default_scripts

API = "/services/data/v66.0"
INSTANCE = "https://acme.my.salesforce.com"
SETTINGS = {
    "my_domain_url": INSTANCE,
    "login_host": "https://login.salesforce.com",
    "oauth_client_id": "3MVG9fakeConsumerKey",
    "oauth_client_secret": "fake-consumer-secret",
    "api_version": "66.0",
}
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
SESSION_INVALID = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
EMPTY_BATCH = {"totalSize": 0, "done": True, "records": []}

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
    instance_url: str = INSTANCE,
    settings: dict[str, str] | None = None,
    retries: int = 0,
    waits: list[float] | None = None,
) -> SalesforceConnector:
    key = len(_TOKENS) + 1
    _TOKENS[key] = {"access_token": "session-1", "refresh_token": "refresh-1", "instance_url": instance_url}
    return SalesforceConnector(
        settings={**(settings or SETTINGS), oauth.INTEGRATION_ID_SETTING: str(key)},
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=retries, backoff=1.0, max_retry_after=60),
    )


def contact(record_id: str, name: str, **phones: str | None) -> dict[str, Any]:
    return {
        "attributes": {"type": "Contact", "url": f"{API}/sobjects/Contact/{record_id}"},
        "Id": record_id,
        "Name": name,
        "Phone": None,
        "MobilePhone": None,
        "HomePhone": None,
        "OtherPhone": None,
        "AssistantPhone": None,
        "Email": None,
        "Title": None,
        "Account": None,
        **phones,
    }


# --- Throttling and session answers -----------------------------------------------------------


def test_request_limit_exceeded_is_retried_then_a_temporary_rate_limit() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            403, json=LIMIT_EXCEEDED, headers={"Sforce-Limit-Info": "api-usage=100000/100000"}
        )

    waits: list[float] = []
    with pytest.raises(ConnectorError, match=r"rate limiting requests \(HTTP 403") as caught:
        list(connector(handler, retries=2, waits=waits).iter_records())

    assert not caught.value.permanent
    assert len(requests) == 3
    assert waits == [1.0, 2.0]


def test_request_limit_exceeded_once_then_the_listing_completes() -> None:
    answers = [httpx.Response(403, json=LIMIT_EXCEEDED)]

    def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop()
        if "FROM Contact" in request.url.params["q"]:
            body = {
                "totalSize": 1,
                "done": True,
                "records": [contact("003RO00000ZPd1aYAD", "Jane", Phone="+1 415 901 7000")],
            }
            return httpx.Response(200, json=body)
        return httpx.Response(200, json=EMPTY_BATCH)

    records = list(connector(handler, retries=1).iter_records())

    assert [r.id for r in records if isinstance(r, CrmRecord)] == ["003RO00000ZPd1aYAD"]


def test_another_403_is_no_permission_and_permanent() -> None:
    body = [{"message": "insufficient access rights on object id", "errorCode": "INSUFFICIENT_ACCESS"}]
    conn = connector(lambda request: httpx.Response(403, json=body), retries=2)

    with pytest.raises(ConnectorError, match=r"no permission \(HTTP 403\)") as caught:
        list(conn.iter_records())

    assert caught.value.permanent


def test_an_expired_session_is_refreshed_once_and_the_request_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refreshed: list[tuple[int, str]] = []

    def refresh(
        integration_id: int, config: OAuth2Config, *, settings: Any, stale: dict[str, str]
    ) -> dict[str, str]:
        refreshed.append((integration_id, stale["access_token"]))
        _TOKENS[integration_id] = {**stale, "access_token": "session-2"}
        return _TOKENS[integration_id]

    monkeypatch.setattr(salesforce, "refresh_access_token", refresh)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer session-1":
            return httpx.Response(401, json=SESSION_INVALID)
        return httpx.Response(200, json=EMPTY_BATCH)

    connector(handler).test_connection()

    assert refreshed == [(1, "session-1")]
    assert seen == ["Bearer session-1", "Bearer session-2"]


def test_a_session_still_invalid_after_the_refresh_is_refused_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(salesforce, "refresh_access_token", lambda *args, **kwargs: calls.append(1))

    with pytest.raises(ConnectorError, match=r"Salesforce refused the credentials \(HTTP 401\)") as caught:
        list(connector(lambda request: httpx.Response(401, json=SESSION_INVALID)).iter_records())

    assert caught.value.permanent
    assert calls == [1]


def test_a_401_other_than_an_expired_session_is_not_refreshed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(salesforce, "refresh_access_token", lambda *args, **kwargs: calls.append(1))
    body = [{"message": "Bad_OAuth_Token", "errorCode": "INVALID_AUTH_HEADER"}]

    with pytest.raises(ConnectorError, match="HTTP 401"):
        connector(lambda request: httpx.Response(401, json=body)).test_connection()

    assert calls == []


def test_a_batch_saying_more_follow_without_a_link_fails_the_listing() -> None:
    conn = connector(lambda request: httpx.Response(200, json={"totalSize": 5, "done": False, "records": []}))

    with pytest.raises(ConnectorError, match="sent no nextRecordsUrl") as caught:
        list(conn.iter_records())

    assert not caught.value.permanent


# --- OAuth: login hosts, the token endpoint, instance_url ------------------------------------


@pytest.mark.parametrize(
    ("login_host", "expected"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com/services/oauth2/token"),
        ("https://test.salesforce.com", "https://test.salesforce.com/services/oauth2/token"),
        ("my_domain", "https://acme.my.salesforce.com/services/oauth2/token"),
        ("https://evil.example", "https://login.salesforce.com/services/oauth2/token"),
    ],
)
def test_the_login_host_is_the_admins_choice(login_host: str, expected: str) -> None:
    settings = {**SETTINGS, "login_host": login_host, "my_domain_url": "https://acme.my.salesforce.com/"}
    config = SalesforceConnector.oauth_config(settings)

    assert config.url(config.token_url, settings) == expected
    assert config.url(config.authorize_url, settings) == expected.replace("/token", "/authorize")
    assert config.scope(settings) == "api refresh_token"


def test_the_token_answer_hands_back_the_instance_url() -> None:
    posted: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": "00DRO000001abcd!AQ4AQ",
                "refresh_token": "5Aep861",
                "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
                "scope": "refresh_token api",
                "instance_url": "https://acme--uat.sandbox.my.salesforce.com",
                "id": "https://test.salesforce.com/id/00DRO000001abcd/005RO000000xyz",
                "token_type": "Bearer",
                "issued_at": "1773133200000",
            },
        )

    settings = {**SETTINGS, "login_host": "https://test.salesforce.com"}
    token = token_request(
        SalesforceConnector.oauth_config(settings),
        settings=settings,
        data={"grant_type": "authorization_code", "code": "aPrx", "redirect_uri": "https://cti.example/cb"},
        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )

    assert token["instance_url"] == "https://acme--uat.sandbox.my.salesforce.com"
    assert token["expires_at"] == ""  # Salesforce gives no lifetime: see the INVALID_SESSION_ID refresh
    assert str(posted[0].url) == "https://test.salesforce.com/services/oauth2/token"
    form = dict(httpx.QueryParams(posted[0].content.decode()))
    assert form["client_id"] == "3MVG9fakeConsumerKey"
    assert form["client_secret"] == "fake-consumer-secret"


def test_an_expired_refresh_token_is_invalid_grant() -> None:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "expired access/refresh token"}
        )

    with pytest.raises(InvalidGrantError):
        token_request(
            SalesforceConnector.oauth_config(SETTINGS),
            settings=SETTINGS,
            data={"grant_type": "refresh_token", "refresh_token": "5Aep861"},
            client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
        )


def test_the_connector_calls_the_instance_url_it_was_handed_back() -> None:
    hosts: list[str] = []
    sandbox = "https://acme--uat.sandbox.my.salesforce.com"

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if "FROM Contact" in request.url.params.get("q", ""):
            record = contact("003RO00000ZPd1aYAD", "Jane Smith", MobilePhone="+1 415 555 0100")
            return httpx.Response(200, json={"totalSize": 1, "done": True, "records": [record]})
        return httpx.Response(200, json=EMPTY_BATCH)

    records = list(connector(handler, instance_url=sandbox).iter_records())

    assert set(hosts) == {"acme--uat.sandbox.my.salesforce.com"}
    assert isinstance(records[0], CrmRecord)
    assert records[0].url == f"{sandbox}/lightning/r/Contact/003RO00000ZPd1aYAD/view"
    assert records[0].phones[0].type == "mobile"


# --- Incremental, lookup ---------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


@time_machine.travel(NOW, tick=False)
def test_changes_since_a_moment_with_converted_leads_and_the_delete_log() -> None:
    since = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == f"{API}/query":
            q = request.url.params["q"]
            if "FROM Contact" in q:
                records = [contact("003RO00000ZPd1aYAD", "Jane", Phone="(415) 901-7000")]
            elif "FROM Lead" in q:
                records = [
                    {
                        "attributes": {"type": "Lead"},
                        "Id": "00QRO00000Bx7kLYAR",
                        "Name": "Converted",
                        "Phone": "1",
                        "IsConverted": True,
                    },
                ]
            else:
                records = []
            return httpx.Response(200, json={"totalSize": len(records), "done": True, "records": records})
        if request.url.path == f"{API}/sobjects/Contact/deleted/":
            body = {
                "deletedRecords": [
                    {"id": "003RO00000ZPd1zYAD", "deletedDate": "2026-03-10T08:15:00.000+0000"},
                    {},
                ],
                "earliestDateAvailable": "2026-02-20T00:00:00.000+0000",
                "latestDateCovered": "2026-03-10T09:30:00.000+0000",
            }
            return httpx.Response(200, json=body)
        return httpx.Response(
            200, json={"deletedRecords": [], "latestDateCovered": "2026-03-10T09:30:00.000+0000"}
        )

    items = list(connector(handler).iter_changes(since))

    queries = [r.url.params["q"] for r in requests if r.url.path == f"{API}/query"]
    assert queries[0] == soql(SOBJECTS[0], since=since)
    assert queries[0].endswith("FROM Contact WHERE SystemModstamp >= 2026-03-10T08:00:00Z")
    assert queries[1].endswith("FROM Lead WHERE SystemModstamp >= 2026-03-10T08:00:00Z")
    assert [type(i).__name__ for i in items] == [
        "CrmRecord",
        "DeletedRecord",
        "DeletedRecord",
        "SkippedRecord",
    ]
    assert items[1] == DeletedRecord(id="00QRO00000Bx7kLYAR", type="lead")
    assert items[2] == DeletedRecord(id="003RO00000ZPd1zYAD", type="contact")
    deleted_log = [r for r in requests if r.url.path.endswith("/deleted/")]
    assert [r.url.path.split("/")[-3] for r in deleted_log] == ["Contact", "Lead", "Account"]
    assert deleted_log[0].url.params["start"] == "2026-03-10T08:00:00+00:00"
    assert deleted_log[0].url.params["end"] == "2026-03-10T09:30:00+00:00"


@time_machine.travel(NOW, tick=False)
def test_the_delete_log_is_asked_no_further_back_than_it_keeps_and_at_least_a_minute() -> None:
    starts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/deleted/"):
            starts.append(request.url.params["start"])
            return httpx.Response(200, json={"deletedRecords": []})
        return httpx.Response(200, json=EMPTY_BATCH)

    list(connector(handler).iter_changes(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    list(connector(handler).iter_changes(NOW - dt.timedelta(seconds=20)))

    assert starts == ["2026-02-24T09:30:00+00:00"] * 3 + ["2026-03-10T09:29:00+00:00"] * 3


def test_lookup_searches_the_phone_fields_with_sosl() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"{API}/search/"
        asked.append(request.url.params["q"])
        return httpx.Response(
            200,
            json={
                "searchRecords": [
                    contact("003RO00000ZPd1dYAD", "Jan de Vries", Phone="020 123 4567"),
                    {
                        "attributes": {"type": "Account"},
                        "Id": "001RO00000IqhSLYAZ",
                        "Name": "Acme",
                        "Phone": "+31201234567",
                    },
                    {"attributes": {"type": "Opportunity"}, "Id": "006RO00000IqhSLYAZ", "Name": "Not ours"},
                ]
            },
        )

    found = connector(handler).lookup("+31201234567")

    assert asked[0].startswith(
        "FIND {31201234567 OR 0201234567} IN PHONE FIELDS RETURNING Contact(Id, Name, Phone,"
    )
    assert (
        "Lead(Id, Name, Phone, MobilePhone, Email, Title, Company, IsConverted WHERE IsConverted = false)"
        in asked[0]
    )
    assert [(r.id, r.type) for r in found] == [
        ("003RO00000ZPd1dYAD", "contact"),
        ("001RO00000IqhSLYAZ", "company"),
    ]
    assert found[1].url == f"{INSTANCE}/lightning/r/Account/001RO00000IqhSLYAZ/view"


# --- Settings and scripts --------------------------------------------------------------------


def test_the_create_contact_script_prefills_the_caller_number() -> None:
    scripts = {s.name: s for s in preset_default_scripts(preset=SALESFORCE, settings_values=SETTINGS)}
    template = scripts_engine.validate(scripts["Create contact in Salesforce"].template, record_fields=None)

    link = scripts_engine.render(
        template, call=scripts_engine.CallProperties(caller_number="020 123 4567"), country="NL"
    )

    assert (
        link
        == "https://acme.my.salesforce.com/lightning/o/Contact/new?defaultFieldValues=Phone=%2B31201234567"
    )
    assert scripts["Open in Salesforce"].template == "$(PopUpUri)"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"api_version": "v66"}, "api_version"),
        ({"my_domain_url": "http://acme.my.salesforce.com"}, "my_domain_url"),
        ({"my_domain_url": "https://acme.lightning.force.com/lightning/page/home"}, "my_domain_url"),
    ],
)
def test_settings_problems_name_the_setting(changes: dict[str, str], problem: str) -> None:
    assert SalesforceConnector.settings_problems(SETTINGS) == {}
    assert set(SalesforceConnector.settings_problems({**SETTINGS, **changes})) == {problem}


def test_the_error_body_is_read_as_salesforce_writes_it() -> None:
    throttled = httpx.Response(403, content=json.dumps(LIMIT_EXCEEDED).encode())
    not_json = httpx.Response(403, content=b"<html>Forbidden</html>")

    conn = connector(lambda request: httpx.Response(200, json=EMPTY_BATCH))

    assert conn.is_throttled(throttled)
    assert not conn.is_throttled(not_json)
