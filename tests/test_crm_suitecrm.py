"""SuiteCRM beyond the contract suite (tests/fixtures/suitecrm*/).

A local SuiteCRM double on 127.0.0.1 (port 0) follows the V8 API as SuiteCRM's code answers it:
`POST {root}/access_token` (client credentials in the form body, league/oauth2-server's
`invalid_client` body on a bad secret), `GET {root}/V8/module/{Module}` with `page[number]`,
`page[size]`, `fields[Module]`, `filter[date_modified][gte]` and `filter[deleted][eq]`, `meta`
and `links` only on non-empty pages (Api/V8/Service/ModuleService.php), the resource
server's 401 for a bad bearer token, and the 400 a listing of deleted records answers as soon as
one matches (ModuleService loads each listed row again without deleted rows: SuiteCRM #8631).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import scripts_engine
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, SkippedRecord
from integrations.connectors.suitecrm import (
    SUITECRM,
    SUITECRM7,
    SUITECRM8_OAUTH,
    SuiteCrm7Connector,
    SuiteCrmConnector,
    suitecrm_settings_problems,
)
from integrations.http import connector_client
from integrations.models import PhoneCacheEntry
from integrations.oauth import token_request
from integrations.services import integration_create, preset_default_scripts
from integrations.sync import connector_settings, phone_cache_sync
from tenants.models import Tenant

CLIENT_ID = "3d7f3fda97-d8e2-b9ad-eb89-5a2fe9b07650"
SECRET = "ExampleSecretPassword"
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed",
    "message": "Client authentication failed",
}
ACCESS_DENIED = {
    "error": "access_denied",
    "error_description": "The resource owner or authorization server denied the request.",
    "hint": "Error while decoding from JSON",
    "message": "The resource owner or authorization server denied the request.",
}


def row(
    rid: str, modified: str = "2026-03-01 08:00:00", deleted: int = 0, **attributes: str
) -> dict[str, Any]:
    return {"id": rid, "date_modified": modified, "deleted": deleted, **attributes}


def default_rows() -> dict[str, list[dict[str, Any]]]:
    contacts = [
        row(f"c{n:02d}", first_name="Contact", last_name=str(n), phone_work=f"+31 20 555 {n:04d}")
        for n in range(5)
    ]
    contacts.append(
        row(
            "c90",
            modified="2026-03-12 10:00:00",
            first_name="New",
            last_name="Mobile",
            phone_mobile="+31 6 5550 0090",
        )
    )
    contacts.append(
        row("c91", modified="2026-03-12 11:00:00", deleted=1, first_name="Gone", phone_work="+31 20 555 0091")
    )
    return {
        "Contacts": contacts,
        "Leads": [row("l01", first_name="Lee", last_name="Lead", phone_home="+31 20 555 1001")],
        "Accounts": [
            row("a01", modified="2026-03-11 09:00:00", name="Acme", phone_office="+31 20 555 2001"),
            row(
                "a02",
                modified="2026-03-13 09:00:00",
                deleted=1,
                name="Old Acme",
                phone_office="+31 20 555 2002",
            ),
        ],
    }


@dataclass
class FakeSuiteCrm:
    """The double's state: rows per module, tokens handed out, requests seen."""

    root: str = "/legacy/Api"
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=default_rows)
    tokens: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    accepts: set[str] = field(default_factory=set)

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "message": "The authorization grant type is not supported.",
            }
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, SECRET):
            return 401, INVALID_CLIENT
        token = f"jwt-{len(self.tokens) + 1}"
        self.tokens.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}

    def listing(self, module: str, query: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return 401, ACCESS_DENIED
        size, number = int(query["page[size]"]), int(query["page[number]"])
        wanted = query[f"fields[{module}]"].split(",")
        deleted = int(query.get("filter[deleted][eq]", "0"))
        since = query.get("filter[date_modified][gte]", "")
        rows = sorted(
            (r for r in self.rows[module] if r["deleted"] == deleted and r["date_modified"] >= since),
            key=lambda r: r["id"],
        )
        page = rows[(number - 1) * size : number * size]
        if deleted and page:
            detail = f"{module} module with id {page[0]['id']} is not found"
            return 400, {"errors": {"status": 400, "title": None, "detail": detail}}
        body: dict[str, Any] = {
            "data": [
                {
                    "type": module[:-1],
                    "id": r["id"],
                    "attributes": {name: r.get(name, "") for name in wanted if name != "id"},
                    "relationships": {},
                }
                for r in page
            ]
        }
        if page:
            total = -(-len(rows) // size)
            body["meta"] = {"total-pages": total, "records-on-this-page": len(page)}
            body["links"] = (
                {"next": f"/V8/module/{module}?page[number]={number + 1}"} if number < total else {}
            )
        return 200, body


@pytest.fixture
def suitecrm(allow_private_addresses: None) -> Iterator[Callable[..., tuple[FakeSuiteCrm, str]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(**options: Any) -> tuple[FakeSuiteCrm, str]:
        fake = FakeSuiteCrm(**options)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any], content_type: str) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                fake.requests.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != f"{fake.root}/access_token":
                    self._answer(404, {"errors": {"status": 404}}, "application/json")
                    return
                self._answer(*fake.token(form), "application/json")

            def do_GET(self) -> None:
                fake.requests.append(f"GET {self.path}")
                fake.accepts.add(self.headers.get("Accept", ""))
                url = urlsplit(self.path)
                prefix = f"{fake.root}/V8/module/"
                if not url.path.startswith(prefix):
                    self._answer(404, {"errors": {"status": 404}}, "application/json")
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, body = fake.listing(
                    url.path.removeprefix(prefix), query, self.headers.get("Authorization", "")
                )
                self._answer(status, body, "application/vnd.api+json")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return fake, f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def settings_for(base_url: str, **overrides: str) -> dict[str, str]:
    return {
        "base_url": base_url,
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": SECRET,
        "page_size": "2",
        **overrides,
    }


def stored_settings(tenant: Tenant, preset_slug: str, base_url: str) -> dict[str, str]:
    """The settings a sync hands the connector: with the integration id, so the token is stored."""
    integration = integration_create(
        tenant=tenant,
        preset_slug=preset_slug,
        name="SuiteCRM",
        settings_values=settings_for(base_url),
        start_sync=False,
    )
    return connector_settings(integration)


def records(items: list[Any]) -> list[CrmRecord]:
    return [item for item in items if isinstance(item, CrmRecord)]


def test_the_connection_test_gets_a_token_then_reads_contacts(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]],
) -> None:
    # The base URL ends with "/": the token URL must not become "//legacy/Api/access_token".
    fake, base_url = suitecrm()

    SuiteCrmConnector(settings=settings_for(base_url), client=connector_client()).test_connection()

    assert fake.requests[0] == "POST /legacy/Api/access_token"
    assert fake.requests[1].startswith("GET /legacy/Api/V8/module/Contacts?")
    assert len(fake.requests) == 2


def test_a_sync_lists_contacts_leads_and_accounts_with_one_stored_token(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]], tenant: Tenant
) -> None:
    fake, base_url = suitecrm()
    integration = integration_create(
        tenant=tenant,
        preset_slug="suitecrm",
        name="SuiteCRM",
        settings_values=settings_for(base_url),
        start_sync=False,
    )

    result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert (result.status, result.records, result.numbers) == ("ok", 8, 8)
    assert fake.requests.count("POST /legacy/Api/access_token") == 1
    # Contacts: 6 live rows in pages of 2 -> 3 full pages and an empty 4th; Leads and Accounts one each.
    assert len([r for r in fake.requests if r.startswith("GET")]) == 6
    entries = PhoneCacheEntry.objects.filter(integration=integration)
    assert {e.record_type for e in entries} == {"contact", "lead", "company"}


def test_records_have_their_type_phone_labels_and_record_view(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]], tenant: Tenant
) -> None:
    fake, base_url = suitecrm()
    connector = SuiteCrmConnector(
        settings=stored_settings(tenant, "suitecrm", base_url), client=connector_client()
    )

    found = records(list(connector.iter_records()))

    assert [(r.type, r.id) for r in found] == [
        *[("contact", f"c{n:02d}") for n in range(5)],
        ("contact", "c90"),
        ("lead", "l01"),
        ("company", "a01"),
    ]
    assert found[5].phones[0].type == "mobile"
    assert found[6].phones[0].type == "home"
    assert found[0].url == f"{base_url.rstrip('/')}/#/contacts/record/c00"
    assert found[7].url == f"{base_url.rstrip('/')}/#/accounts/record/a01"
    assert fake.accepts == {"application/vnd.api+json"}


def test_changes_since_list_modified_records_and_no_deletions(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]],
) -> None:
    fake, base_url = suitecrm()
    since = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 09:00 UTC

    items = list(
        SuiteCrmConnector(settings=settings_for(base_url), client=connector_client()).iter_changes(since)
    )

    assert [(type(i).__name__, i.id) for i in items if not isinstance(i, SkippedRecord)] == [
        ("CrmRecord", "c90"),
        ("CrmRecord", "a01"),
    ]
    listings = [r for r in fake.requests if r.startswith("GET")]
    assert all("filter%5Bdate_modified%5D%5Bgte%5D=2026-03-11+09%3A00%3A00" in r for r in listings)
    assert not any("filter%5Bdeleted%5D" in r for r in listings)


def test_suitecrm_cannot_list_deleted_records_so_changes_do_not_ask(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]],
) -> None:
    """SuiteCRM #8631: `filter[deleted][eq]=1` answers 400 once a deleted record matches; an
    incremental sync that asked would fail whenever something was deleted since the last one."""
    fake, base_url = suitecrm()
    fake.tokens.add("jwt-test")

    status, body = fake.listing(
        "Contacts",
        {"page[size]": "2", "page[number]": "1", "fields[Contacts]": "id", "filter[deleted][eq]": "1"},
        "Bearer jwt-test",
    )
    assert (status, body["errors"]["detail"]) == (400, "Contacts module with id c91 is not found")

    since = dt.datetime(2026, 3, 12, 0, 0, tzinfo=dt.UTC)
    items = list(
        SuiteCrmConnector(settings=settings_for(base_url), client=connector_client()).iter_changes(since)
    )

    assert [(type(i).__name__, i.id) for i in items] == [("CrmRecord", "c90")]
    assert not any(isinstance(i, DeletedRecord) for i in items)


def test_a_wrong_client_secret_names_suitecrms_reason(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]],
) -> None:
    fake, base_url = suitecrm()
    connector = SuiteCrmConnector(
        settings=settings_for(base_url, oauth_client_secret="wrong"), client=connector_client()
    )

    with pytest.raises(ConnectorError, match="refused the request: Client authentication failed") as caught:
        connector.test_connection()

    assert caught.value.permanent
    assert fake.requests == ["POST /legacy/Api/access_token"]


def test_suitecrm7_uses_the_api_root_and_classic_record_urls(
    suitecrm: Callable[..., tuple[FakeSuiteCrm, str]],
) -> None:
    fake, base_url = suitecrm(root="/Api")

    found = records(
        list(SuiteCrm7Connector(settings=settings_for(base_url), client=connector_client()).iter_records())
    )

    assert fake.requests[0] == "POST /Api/access_token"
    assert found[0].url == f"{base_url.rstrip('/')}/index.php?module=Contacts&action=DetailView&record=c00"


# --- MockTransport: the token answer, the resource server's 401, pages that are not JSON:API --


def test_the_token_answer_is_stored_with_its_lifetime() -> None:
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"token_type": "Bearer", "expires_in": 3600, "access_token": "eyJ0eXAi"}
        )

    token = token_request(
        SUITECRM8_OAUTH,
        settings={**settings_for("https://crm.example.com")},
        data={"grant_type": "client_credentials"},
        now=1_000.0,
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
    )

    assert token["access_token"] == "eyJ0eXAi"
    assert token["expires_at"] == "4600"
    assert str(seen[0].url) == "https://crm.example.com/legacy/Api/access_token"
    form = parse_qs(seen[0].content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": [CLIENT_ID], "client_secret": [SECRET]}


def _with_token(handler: Callable[[httpx.Request], httpx.Response]) -> SuiteCrmConnector:
    connector = SuiteCrmConnector(
        settings=settings_for("https://crm.example.com"),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    connector.auth = _FixedToken()
    return connector


class _FixedToken:
    def apply(self, settings: Any) -> tuple[dict[str, str], dict[str, str]]:
        return {"Authorization": "Bearer eyJ0eXAi"}, {}


def test_an_expired_or_revoked_token_is_a_permanent_401() -> None:
    connector = _with_token(lambda request: httpx.Response(401, json=ACCESS_DENIED))

    with pytest.raises(ConnectorError, match=r"refused the credentials \(HTTP 401\)") as caught:
        list(connector.iter_records())

    assert caught.value.permanent


def test_a_page_without_a_data_list_is_a_clear_error() -> None:
    body = {
        "errors": {"status": 400, "title": None, "detail": 'The option "page" with value array is invalid.'}
    }
    connector = _with_token(lambda request: httpx.Response(200, json=body))

    with pytest.raises(ConnectorError, match="without a record list") as caught:
        list(connector.iter_records())

    assert caught.value.permanent


# --- Settings and scripts ---------------------------------------------------------------------


def test_page_size_must_be_a_number_in_range() -> None:
    assert suitecrm_settings_problems({"page_size": "100"}) == {}
    assert set(suitecrm_settings_problems({"page_size": "0"})) == {"page_size"}
    with pytest.raises(ConnectorError, match="not usable"):
        SuiteCrmConnector(settings={"page_size": "many"}, client=httpx.Client())


def render_no_match(preset: Any) -> str:
    scripts = preset_default_scripts(preset=preset, settings_values={"base_url": "https://crm.example.com"})
    create = next(s for s in scripts if s.name == "Create contact in SuiteCRM")
    link = scripts_engine.render(
        scripts_engine.validate(create.template, record_fields=None),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        record=None,
        country="NL",
    )
    assert link is not None
    return link


def test_create_contact_links() -> None:
    assert render_no_match(SUITECRM) == "https://crm.example.com/#/contacts/create"
    link = render_no_match(SUITECRM7)
    assert link.startswith("https://crm.example.com/index.php?module=Contacts&action=EditView&phone_work=")
    assert parse_qs(urlsplit(link).query)["phone_work"] == ["+31201234567"]
