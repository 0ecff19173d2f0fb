"""Odoo beyond the contract suite (which runs the JSON-2 variant from tests/fixtures/odoo/).

XML-RPC runs against a real `xmlrpc.server` on 127.0.0.1 (port 0) emulating Odoo's
`/xmlrpc/2/common` (`authenticate`) and `/xmlrpc/2/object` (`execute_kw`: `fields_get`,
`search_read` with domain, offset, limit), answering faults with Odoo's codes
(odoo/addons/base/controllers/rpc.py). Transport faults (5xx, timeouts, answers that are not
XML-RPC) use `httpx.MockTransport` answering real marshalled bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xmlrpc.server import MultiPathXMLRPCServer, SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

import httpx
import pytest

import scripts_engine
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy, SkippedRecord
from integrations.connectors.odoo import ODOO, OdooConnector, fault_error, odoo_settings_problems, record_url
from integrations.http import connector_client
from integrations.presets import ScriptApplies
from integrations.services import preset_default_scripts

DB = "mycompany"
LOGIN = "bot@mycompany.example"
KEY = "0123456789abcdef0123456789abcdef01234567"
UID = 6
TRACEBACK = 'Traceback (most recent call last):\n  File "/opt/odoo/odoo/http.py", line 1\n'


def partner(pid: int, name: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": pid,
        "name": name,
        "display_name": name,
        "is_company": False,
        "parent_id": False,
        "email": False,
        "function": False,
        "city": False,
        "country_id": False,
        "phone": False,
        "mobile": False,
        "active": True,
        "write_date": "2026-01-01 08:00:00",
    }
    row.update(values)
    return row


def partners() -> list[dict[str, Any]]:
    rows = [
        partner(1, "Acme BV", is_company=True, phone="+31 20 111 0000", write_date="2026-03-10 09:00:00"),
        partner(2, "Ann Acme", parent_id=[1, "Acme BV"], phone="+31 20 111 0001", mobile="+31 6 1111 0001"),
        partner(3, "Nobody Numbers"),
        partner(4, "Bert Mobile", mobile="+31 6 1111 0004", write_date="2026-03-11 10:00:00"),
        partner(5, "Archived Anna", phone="+31 20 111 0005", active=False, write_date="2026-03-12 10:00:00"),
    ]
    rows += [partner(pid, f"Person {pid}", phone=f"+31 20 222 {pid:04d}") for pid in range(6, 13)]
    return rows


@dataclass
class FakeOdoo:
    """Odoo's XML-RPC services over `partners()`; `has_mobile` False is Odoo 19 (no `mobile`)."""

    has_mobile: bool = True
    rows: list[dict[str, Any]] = field(default_factory=partners)
    access_error: bool = False
    key_revoked_after_login: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)

    def authenticate(self, db: str, login: str, key: str, env: dict[str, Any]) -> int | bool:
        self.calls.append(("common", "authenticate"))
        self._check_db(db)
        return UID if (login, key) == (LOGIN, KEY) else False

    def execute_kw(
        self, db: str, uid: int, key: str, model: str, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        self.calls.append(("object", method))
        self._check_db(db)
        if (uid, key) != (UID, KEY) or self.key_revoked_after_login:
            raise xmlrpc.client.Fault(3, "Access Denied")
        if self.access_error:
            raise xmlrpc.client.Fault(4, "You are not allowed to access 'Contact' (res.partner) records.")
        assert model == "res.partner"
        if method == "fields_get":
            known = {"phone", "mobile"} if self.has_mobile else {"phone"}
            return {name: {"type": "char"} for name in kwargs.get("allfields", []) if name in known}
        assert method == "search_read"
        return self.search_read(args[0], **kwargs)

    def search_read(
        self, domain: list[Any], fields: list[str], offset: int = 0, limit: int = 0, order: str = ""
    ) -> list[dict[str, Any]]:
        for name in fields:
            if name == "mobile" and not self.has_mobile:
                raise xmlrpc.client.Fault(
                    1, TRACEBACK + "ValueError: Invalid field 'mobile' on model 'res.partner'\n"
                )
        assert order == "id"
        rows = self.rows
        active_test = True
        for name, operator, value in domain:
            if name == "write_date" and operator == ">=":
                rows = [r for r in rows if r["write_date"] >= value]
            elif name == "active" and operator == "in":
                active_test = False
        if active_test:
            rows = [r for r in rows if r["active"]]
        page = rows[offset : offset + limit] if limit else rows[offset:]
        return [{"id": r["id"], **{name: r[name] for name in fields}} for r in page]

    def _check_db(self, db: str) -> None:
        if db != DB:
            raise xmlrpc.client.Fault(
                1,
                TRACEBACK
                + f'psycopg2.OperationalError: connection to server failed: FATAL:  database "{db}" '
                "does not exist\n",
            )


@dataclass
class Served:
    odoo: FakeOdoo
    base_url: str


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def odoo_server(allow_private_addresses: None) -> Iterator[Callable[..., Served]]:
    servers: list[MultiPathXMLRPCServer] = []

    def start(**options: Any) -> Served:
        odoo = FakeOdoo(**options)
        server = MultiPathXMLRPCServer(("127.0.0.1", 0), requestHandler=_Quiet, logRequests=False)
        common = SimpleXMLRPCDispatcher(allow_none=False)
        common.register_function(lambda *params: odoo.authenticate(*params), "authenticate")
        obj = SimpleXMLRPCDispatcher(allow_none=False)
        obj.register_function(lambda *params: odoo.execute_kw(*params), "execute_kw")
        server.add_dispatcher("/xmlrpc/2/common", common)
        server.add_dispatcher("/xmlrpc/2/object", obj)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return Served(odoo, f"http://127.0.0.1:{server.server_address[1]}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def xmlrpc_settings(base_url: str, **overrides: str) -> dict[str, str]:
    return {
        "base_url": base_url,
        "database": DB,
        "protocol": "xmlrpc",
        "login": LOGIN,
        "api_key": KEY,
        "page_size": "4",
        **overrides,
    }


def live_connector(settings: dict[str, str]) -> OdooConnector:
    return OdooConnector(settings=settings, client=connector_client(), sleep=lambda s: None)


def records(items: list[Any]) -> list[CrmRecord]:
    return [item for item in items if isinstance(item, CrmRecord)]


# --- XML-RPC against a real XML-RPC server --------------------------------------------------


def test_xmlrpc_lists_every_page_with_phone_and_mobile(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server()

    found = records(list(live_connector(xmlrpc_settings(served.base_url)).iter_records()))

    assert [r.id for r in found] == ["1", "2", "4", *map(str, range(6, 13))]
    ann = found[1]
    assert ann.type == "contact"
    assert [(p.number, p.type) for p in ann.phones] == [
        ("+31 20 111 0001", "work"),
        ("+31 6 1111 0001", "mobile"),
    ]
    assert ann.fields["Company"] == "Acme BV"
    assert ann.url == f"{served.base_url}/web#id=2&model=res.partner&view_type=form"
    assert found[0].type == "company"
    # One login, one fields_get, then pages of 4 (active partners: 11 -> 4 + 4 + 3).
    assert served.odoo.calls == [
        ("common", "authenticate"),
        ("object", "fields_get"),
        ("object", "search_read"),
        ("object", "search_read"),
        ("object", "search_read"),
    ]


def test_xmlrpc_without_the_mobile_field_asks_only_for_phone(odoo_server: Callable[..., Served]) -> None:
    # Odoo 19 removed res.partner.mobile; asking for it would be a fault ("Invalid field").
    served = odoo_server(has_mobile=False)

    found = records(list(live_connector(xmlrpc_settings(served.base_url)).iter_records()))

    assert "4" not in [r.id for r in found]  # Bert has only a mobile, which this database lacks
    assert all(p.type == "work" for r in found for p in r.phones)


def test_other_phone_fields_that_odoo_lacks_fail_with_its_message(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server(has_mobile=False)
    connector = live_connector(xmlrpc_settings(served.base_url, other_phone_fields="mobile"))

    with pytest.raises(ConnectorError, match=r"Invalid field 'mobile' on model 'res\.partner'") as caught:
        list(connector.iter_records())

    assert caught.value.permanent


def test_xmlrpc_refused_login_is_permanent(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server()
    connector = live_connector(xmlrpc_settings(served.base_url, api_key="wrong"))

    with pytest.raises(ConnectorError, match="refused the login or API key") as caught:
        connector.test_connection()

    assert caught.value.permanent
    assert served.odoo.calls == [("common", "authenticate")]


def test_xmlrpc_access_denied_fault_is_permanent(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server(key_revoked_after_login=True)
    connector = live_connector(xmlrpc_settings(served.base_url))

    with pytest.raises(ConnectorError, match=r"refused the credentials \(access denied\)") as caught:
        list(connector.iter_records())

    assert caught.value.permanent


def test_xmlrpc_access_error_says_the_user_may_not_read_contacts(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server(access_error=True)

    with pytest.raises(ConnectorError, match="may not read contacts") as caught:
        list(live_connector(xmlrpc_settings(served.base_url)).iter_records())

    assert caught.value.permanent


def test_xmlrpc_unknown_database_is_permanent(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server()

    with pytest.raises(ConnectorError, match="no such database") as caught:
        live_connector(xmlrpc_settings(served.base_url, database="typo")).test_connection()

    assert caught.value.permanent


def test_xmlrpc_empty_listing(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server(rows=[])

    assert list(live_connector(xmlrpc_settings(served.base_url)).iter_records()) == []
    assert served.odoo.calls[-1] == ("object", "search_read")


def test_xmlrpc_changes_since_with_archived_partners_as_deleted(odoo_server: Callable[..., Served]) -> None:
    served = odoo_server()
    since = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 09:00 UTC

    items = list(live_connector(xmlrpc_settings(served.base_url)).iter_changes(since))

    assert [(type(i).__name__, getattr(i, "id", "")) for i in items] == [
        ("CrmRecord", "1"),
        ("CrmRecord", "4"),
        ("DeletedRecord", "5"),
    ]
    assert items[2] == DeletedRecord(id="5", type="contact")


# --- XML-RPC transport faults (MockTransport answering marshalled bodies) --------------------


def xmlrpc_answer(value: Any) -> httpx.Response:
    body = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=False)
    return httpx.Response(200, headers={"Content-Type": "text/xml"}, content=body.encode())


def mock_xmlrpc(
    handler: Callable[[str, tuple[Any, ...]], httpx.Response],
) -> tuple[OdooConnector, list[float]]:
    def answer(request: httpx.Request) -> httpx.Response:
        params, method = xmlrpc.client.loads(request.content)
        return handler(f"{request.url.path} {method}", params)

    waits: list[float] = []
    connector = OdooConnector(
        settings=xmlrpc_settings("https://mycompany.odoo.com"),
        client=httpx.Client(transport=httpx.MockTransport(answer)),
        sleep=waits.append,
        retry=RetryPolicy(retries=2, backoff=1.0, max_retry_after=60),
    )
    return connector, waits


def normal(call: str, params: tuple[Any, ...]) -> httpx.Response:
    if call == "/xmlrpc/2/common authenticate":
        return xmlrpc_answer(UID)
    method = params[4]
    if method == "fields_get":
        return xmlrpc_answer({"mobile": {"type": "char"}})
    return xmlrpc_answer([partner(9, "Nine", phone="+31 20 999 0000")])


def test_xmlrpc_server_errors_are_retried_then_temporary() -> None:
    seen: list[str] = []

    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        seen.append(call)
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    connector, waits = mock_xmlrpc(handler)
    with pytest.raises(ConnectorError, match=r"server error \(HTTP 502") as caught:
        list(connector.iter_records())

    assert not caught.value.permanent
    assert len(seen) == 3
    assert waits == [1.0, 2.0]


def test_xmlrpc_a_server_error_once_is_retried_and_completes() -> None:
    failures = [httpx.Response(503, headers={"Retry-After": "2"})]

    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        return failures.pop() if failures and "search_read" in str(params) else normal(call, params)

    connector, waits = mock_xmlrpc(handler)

    assert [r.id for r in records(list(connector.iter_records()))] == ["9"]
    assert waits == [2.0]


def test_xmlrpc_timeouts_are_temporary() -> None:
    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    connector, _ = mock_xmlrpc(handler)
    with pytest.raises(ConnectorError, match="did not answer in time") as caught:
        connector.test_connection()

    assert caught.value.timed_out
    assert not caught.value.permanent


def test_xmlrpc_an_answer_that_is_not_xmlrpc_is_a_clear_error() -> None:
    connector, _ = mock_xmlrpc(
        lambda call, params: httpx.Response(200, text="<html><body>Odoo</body></html>")
    )

    with pytest.raises(ConnectorError, match="not XML-RPC"):
        connector.test_connection()


def test_xmlrpc_a_search_read_that_is_not_a_list_is_a_clear_error() -> None:
    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        if "search_read" in str(params):
            return xmlrpc_answer({"records": []})
        return normal(call, params)

    connector, _ = mock_xmlrpc(handler)
    with pytest.raises(ConnectorError, match="not its documented shape") as caught:
        list(connector.iter_records())

    assert caught.value.permanent


def test_xmlrpc_a_repeated_page_does_not_loop_forever() -> None:
    page = [partner(pid, f"P{pid}", phone=f"+31 20 000 {pid:04d}") for pid in range(1, 5)]
    calls: list[int] = []

    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        if "search_read" in str(params):
            calls.append(params[6]["offset"])
            return xmlrpc_answer(page)  # ignores the offset
        return normal(call, params)

    connector, _ = mock_xmlrpc(handler)
    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(connector.iter_records())

    assert calls == [0, 4]


def test_xmlrpc_unreadable_rows_are_skipped() -> None:
    rows: list[Any] = ["not a row", {"name": "no id"}, partner(9, "Nine", phone="+31 20 999 0000")]

    def handler(call: str, params: tuple[Any, ...]) -> httpx.Response:
        return xmlrpc_answer(rows) if "search_read" in str(params) else normal(call, params)

    connector, _ = mock_xmlrpc(handler)
    items = list(connector.iter_records())

    assert sum(isinstance(i, SkippedRecord) for i in items) == 2
    assert [r.id for r in records(items)] == ["9"]


def test_fault_codes_map_to_admin_messages() -> None:
    assert fault_error(xmlrpc.client.Fault(2, "The operation cannot be completed")).permanent
    application = fault_error(xmlrpc.client.Fault(1, TRACEBACK + "psycopg2.errors.SerializationFailure: x\n"))
    assert not application.permanent
    assert "XML-RPC fault 1" in application.message


# --- JSON-2 specifics (the listing itself is in the contract suite) --------------------------


def json2_connector(handler: Callable[[httpx.Request], httpx.Response], **settings: str) -> OdooConnector:
    values = {"base_url": "https://mycompany.odoo.com", "protocol": "json2", "api_key": KEY, **settings}
    return OdooConnector(settings=values, client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_json2_invalid_api_key_answer_is_permanent() -> None:
    # The 401 body of the External JSON-2 API docs ("Response", error example).
    body = {
        "name": "werkzeug.exceptions.Unauthorized",
        "message": "Invalid apikey",
        "arguments": ["Invalid apikey", 401],
        "context": {},
        "debug": "Traceback ...",
    }
    connector = json2_connector(lambda request: httpx.Response(401, json=body))

    with pytest.raises(ConnectorError, match=r"refused the credentials \(HTTP 401\)") as caught:
        connector.test_connection()

    assert caught.value.permanent


def test_json2_unprocessable_request_names_odoos_message() -> None:
    body = {"name": "builtins.ValueError", "message": "Invalid field 'mobile' on model 'res.partner'"}
    connector = json2_connector(lambda request: httpx.Response(422, json=body), other_phone_fields="mobile")

    with pytest.raises(ConnectorError, match=r"HTTP 422\): Invalid field 'mobile'") as caught:
        connector.test_connection()

    assert caught.value.permanent


def test_json2_sends_the_database_header_only_when_set() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    json2_connector(handler).test_connection()
    json2_connector(handler, database=DB).test_connection()

    assert "X-Odoo-Database" not in seen[0].headers
    assert seen[1].headers["X-Odoo-Database"] == DB
    assert seen[1].headers["Authorization"] == f"bearer {KEY}"
    assert seen[1].url.path == "/json/2/res.partner/search_read"


def test_json2_changes_since_sends_the_write_date_domain() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(
            200,
            json=[
                {**partner(7, "Seven", phone="+31 20 777 0000"), "active": True},
                {**partner(8, "Gone Company", is_company=True, phone="+31 20 888 0000"), "active": False},
            ],
        )

    since = dt.datetime(2026, 3, 10, 9, 30, 15, tzinfo=dt.UTC)
    items = list(json2_connector(handler).iter_changes(since))

    assert bodies[0]["domain"] == [
        ["write_date", ">=", "2026-03-10 09:30:15"],
        ["active", "in", [True, False]],
    ]
    assert "active" in bodies[0]["fields"]
    assert "mobile" not in bodies[0]["fields"]  # Odoo 19 has no res.partner.mobile
    assert [type(i) for i in items] == [CrmRecord, DeletedRecord]
    assert items[1] == DeletedRecord(id="8", type="company")


# --- Settings, URLs, scripts -----------------------------------------------------------------


def test_settings_problems() -> None:
    assert odoo_settings_problems({"base_url": "https://x.odoo.com", "api_key": KEY}) == {}
    problems = odoo_settings_problems(
        {"protocol": "xmlrpc", "other_phone_fields": "mobile, Bad Name", "page_size": "0"}
    )
    assert set(problems) == {"database", "login", "other_phone_fields", "page_size"}
    with pytest.raises(ConnectorError, match="not usable") as caught:
        OdooConnector(settings={"protocol": "soap"}, client=httpx.Client())
    assert caught.value.permanent


def test_record_urls_per_version() -> None:
    assert record_url("https://x.odoo.com/", "42", protocol="json2") == "https://x.odoo.com/odoo/contacts/42"
    assert (
        record_url("https://x.odoo.com", "42", protocol="xmlrpc")
        == "https://x.odoo.com/web#id=42&model=res.partner&view_type=form"
    )


def test_the_default_scripts_open_the_record_and_create_a_contact() -> None:
    scripts = {
        s.name: s
        for s in preset_default_scripts(preset=ODOO, settings_values={"base_url": "https://x.odoo.com"})
    }
    create = scripts["Create contact in Odoo"]
    assert create.applies == ScriptApplies.ON_NO_MATCH
    link = scripts_engine.render(
        scripts_engine.validate(create.template, record_fields=None),
        call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="c1"),
        record=None,
        country="NL",
    )
    assert link == "https://x.odoo.com/web#model=res.partner&view_type=form"
    assert scripts["Open contact in Odoo"].template == "$(PopUpUri)"
