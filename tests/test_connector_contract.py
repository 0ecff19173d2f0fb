"""The connector contract: one suite run over every HTTP connector of the catalog.

A connector joins by supplying recorded-style fixtures under `tests/fixtures/<preset slug>/<case>/`
(see tests/fixtures/README.md): its settings, the listing as the CRM answers it page by
page (`exchanges.json`, requests matched on method, path, decoded query and the headers the CRM
requires), the empty listing, and the records it must yield. The double answers only the
recorded requests, like the CRM would (a request without the recorded credentials gets a 401),
and the suite injects the faults: 401, 403, 5xx, timeouts, 429 with Retry-After, a CRM that
repeats its first page's cursor, a request budget of one.

OAuth 2.0 connectors add `token.json` to a case: the stored token (`access_token`, and
`instance_url` when the CRM hands back its API host). The suite serves it in place of the
integration's stored token (`integrations.oauth.access_token`, whose refreshing and storing
tests/test_oauth.py covers against a real token endpoint), so the double sees the bearer token
the connector would send; "credentials the CRM does not know" then sends a wrong token.

Also: every preset's default scripts parse and render for a sample record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

import scripts_engine
from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RetryPolicy, SkippedRecord
from integrations.connectors.http_base import HttpConnector
from integrations.oauth import OAuth2Config
from integrations.presets import Preset, ScriptApplies, SettingKind
from integrations.registry import PRESETS
from integrations.services import preset_default_scripts

FIXTURES = Path(__file__).parent / "fixtures"
RETRIES = 2


@dataclass(frozen=True)
class ContractCase:
    """One configuration of a connector with its recorded listing."""

    preset: Preset
    name: str
    settings: dict[str, str]
    exchanges: list[dict[str, Any]]
    empty: dict[str, Any]
    expected: dict[str, Any]
    token: dict[str, str] | None = None
    changes: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.preset.slug}/{self.name}"


def http_presets() -> list[Preset]:
    return [
        p for p in PRESETS if p.connector_class is not None and issubclass(p.connector_class, HttpConnector)
    ]


def contract_cases() -> list[ContractCase]:
    cases: list[ContractCase] = []
    for preset in http_presets():
        for folder in sorted((FIXTURES / preset.slug).glob("*/exchanges.json")):
            directory = folder.parent

            def load(name: str, directory: Path = directory) -> Any:
                return json.loads((directory / name).read_text())

            cases.append(
                ContractCase(
                    preset=preset,
                    name=directory.name,
                    settings=load("settings.json"),
                    exchanges=load("exchanges.json"),
                    empty=load("empty.json"),
                    expected=load("expected.json"),
                    token=load("token.json") if (directory / "token.json").exists() else None,
                    changes=load("changes.json") if (directory / "changes.json").exists() else None,
                )
            )
    return cases


CASES = contract_cases()

# The tokens the patched `access_token` serves, by the `_integration_id` a double gives its connector.
_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _stored_oauth_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def stored(integration_id: int, config: OAuth2Config, *, settings: Any) -> dict[str, str]:
        return _TOKENS[integration_id]

    monkeypatch.setattr(oauth, "access_token", stored)
    yield
    _TOKENS.clear()


def _response(recorded: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        recorded.get("status", 200), headers=recorded.get("headers", {}), json=recorded.get("body")
    )


def _json_body(request: httpx.Request) -> Any:
    """The request's JSON body (RPC-style APIs page in the body: Teamleader, Copper, Odoo)."""
    try:
        return json.loads(request.content or b"null")
    except ValueError:
        return "<not JSON>"


@dataclass
class ContractDouble:
    """Answers the case's recorded requests; `fault` answers instead while `fault_times` > 0 (-1: always)."""

    case: ContractCase
    empty: bool = False
    repeat_first_page: bool = False
    fault: Callable[[httpx.Request], httpx.Response] | None = None
    fault_times: int = 0
    wrong_token: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None and self.fault_times != 0:
            self.fault_times -= 1
            return self.fault(request)
        for exchange in self.case.exchanges:
            expected = exchange["request"]
            if (
                request.method == expected.get("method", "GET")
                and request.url.path == expected["path"]
                and dict(request.url.params) == expected.get("query", {})
                and ("json" not in expected or _json_body(request) == expected["json"])
            ):
                wanted = expected.get("headers", {})
                if any(request.headers.get(name) != value for name, value in wanted.items()):
                    return httpx.Response(401, json={"message": "Authentication credentials not found."})
                if self.empty:
                    return _response(self.case.empty)
                if self.repeat_first_page:
                    return _response(self.case.exchanges[0]["response"])
                return _response(exchange["response"])
        self.unmatched.append(f"{request.method} {request.url}")
        return httpx.Response(400, json={"message": "unexpected request"})

    def connector(
        self, *, waits: list[float] | None = None, settings: dict[str, str] | None = None, **kwargs: Any
    ) -> HttpConnector:
        connector_class = self.case.preset.connector_class
        assert connector_class is not None
        assert issubclass(connector_class, HttpConnector)
        values = dict(settings or self.case.settings)
        if self.case.token is not None:
            key = len(_TOKENS) + 1
            _TOKENS[key] = dict(self.case.token)
            if self.wrong_token:
                _TOKENS[key]["access_token"] = "wrong"
            values[oauth.INTEGRATION_ID_SETTING] = str(key)
        return connector_class(
            settings=values,
            client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            sleep=(waits if waits is not None else []).append,
            retry=RetryPolicy(retries=RETRIES, backoff=1.0, max_retry_after=60),
            **kwargs,
        )


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, headers=headers, json={"message": f"HTTP {code}"})


def records_of(
    items: list[CrmRecord | SkippedRecord] | list[CrmRecord | SkippedRecord | DeletedRecord],
) -> list[CrmRecord]:
    return [item for item in items if isinstance(item, CrmRecord)]


def assert_expected_records(case: ContractCase, records: list[CrmRecord]) -> None:
    expected = case.expected["records"]
    assert [r.id for r in records] == [e["id"] for e in expected]
    for record, wanted in zip(records, expected, strict=True):
        assert record.type == wanted.get("type", record.type)
        assert record.display_name == wanted["display_name"]
        assert [[p.number, p.type] for p in record.phones] == wanted["phones"]
        assert record.url == wanted.get("url", record.url)
        for name, value in wanted.get("fields", {}).items():
            assert record.fields.get(name) == value, (record.id, name)


contract = pytest.mark.parametrize("case", CASES, ids=str)


@contract
def test_it_lists_every_page(case: ContractCase) -> None:
    double = ContractDouble(case)

    items = list(double.connector().iter_records())

    assert double.unmatched == []
    assert len(double.requests) == len(case.exchanges) > 1
    assert_expected_records(case, records_of(items))


@contract
def test_an_empty_listing_gives_no_records(case: ContractCase) -> None:
    double = ContractDouble(case, empty=True)

    assert list(double.connector().iter_records()) == []
    # One request per record type listed (contacts, then companies...); default one.
    assert len(double.requests) == case.expected.get("empty_requests", 1)


@contract
def test_a_malformed_record_is_skipped_and_counted(case: ContractCase) -> None:
    items = list(ContractDouble(case).connector().iter_records())

    skipped = [item for item in items if isinstance(item, SkippedRecord)]
    assert len(skipped) == case.expected["skipped"] >= 1
    assert all(item.reason for item in skipped)


@contract
def test_a_record_without_numbers_is_left_out(case: ContractCase) -> None:
    without = case.expected["without_numbers"]
    assert without, "the fixtures must show a record without numbers"

    ids = {record.id for record in records_of(list(ContractDouble(case).connector().iter_records()))}

    assert ids.isdisjoint(without)


@contract
def test_bad_credentials_are_permanent_with_the_admins_message(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(401), fault_times=-1)

    with pytest.raises(ConnectorError) as caught:
        list(double.connector().iter_records())

    assert caught.value.permanent
    assert caught.value.message.endswith("refused the credentials (HTTP 401).")
    assert len(double.requests) == 1


@contract
def test_credentials_the_crm_does_not_know_are_refused(case: ContractCase) -> None:
    secret_names = case.preset.secret_setting_names & set(case.settings)
    assert secret_names or case.token, "a contract case sends credentials"
    wrong = {**case.settings, **dict.fromkeys(secret_names, "wrong")}

    with pytest.raises(ConnectorError, match="HTTP 401") as caught:
        list(ContractDouble(case, wrong_token=True).connector(settings=wrong).iter_records())

    assert caught.value.permanent


@contract
def test_no_permission_is_permanent(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(403), fault_times=-1)

    with pytest.raises(ConnectorError, match=r"no permission \(HTTP 403\)") as caught:
        list(double.connector().iter_records())

    assert caught.value.permanent


@contract
def test_server_errors_are_retried_then_temporary(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(503), fault_times=-1)
    waits: list[float] = []

    with pytest.raises(ConnectorError, match=r"server error \(HTTP 503") as caught:
        list(double.connector(waits=waits).iter_records())

    assert not caught.value.permanent
    assert len(double.requests) == RETRIES + 1
    assert waits == [1.0, 2.0]


@contract
def test_a_server_error_once_is_retried_and_the_listing_completes(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(500), fault_times=1)

    items = list(double.connector().iter_records())

    assert_expected_records(case, records_of(items))


@contract
def test_timeouts_are_retried_then_temporary(case: ContractCase) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    double = ContractDouble(case, fault=timeout, fault_times=-1)

    with pytest.raises(ConnectorError, match="did not answer in time") as caught:
        list(double.connector().iter_records())

    assert not caught.value.permanent
    assert len(double.requests) == RETRIES + 1


@contract
def test_a_429_is_honoured(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(429, **{"Retry-After": "3"}), fault_times=1)
    waits: list[float] = []

    items = list(double.connector(waits=waits).iter_records())

    assert waits == [3.0]
    assert_expected_records(case, records_of(items))


@contract
def test_a_429_asking_too_long_fails_with_its_retry_after(case: ContractCase) -> None:
    double = ContractDouble(case, fault=status(429, **{"Retry-After": "3600"}), fault_times=-1)

    with pytest.raises(ConnectorError, match="rate limiting") as caught:
        list(double.connector().iter_records())

    assert caught.value.retry_after == 3600
    assert not caught.value.permanent


@contract
def test_a_repeated_cursor_does_not_loop_forever(case: ContractCase) -> None:
    double = ContractDouble(case, repeat_first_page=True)

    with pytest.raises(ConnectorError, match="repeated a page cursor"):
        list(double.connector().iter_records())

    assert len(double.requests) <= 3


@contract
def test_the_request_budget_is_respected(case: ContractCase) -> None:
    double = ContractDouble(case)

    with pytest.raises(ConnectorError, match="SYNC_MAX_REQUESTS") as caught:
        list(double.connector(max_requests=1).iter_records())

    assert caught.value.permanent
    assert len(double.requests) == 1


@contract
def test_the_connection_test_passes_on_the_first_page(case: ContractCase) -> None:
    double = ContractDouble(case)

    double.connector().test_connection()

    assert len(double.requests) == 1


# --- Incremental sync ------------------------------------------------------------------------

INCREMENTAL_CASES = [case for case in CASES if case.changes is not None]


@pytest.mark.parametrize("case", INCREMENTAL_CASES, ids=str)
def test_an_incremental_listing_returns_the_changes_and_the_deletions(case: ContractCase) -> None:
    """`changes.json`: `since` (ISO 8601), `now` (the frozen clock), the recorded `exchanges` of the
    incremental listing, and what it must yield: changed `records` (as in expected.json) and
    `deleted` ([{id, type}]) in order."""
    assert case.changes is not None
    changed = dataclasses.replace(case, exchanges=case.changes["exchanges"])
    double = ContractDouble(changed)
    connector_class = case.preset.connector_class
    assert connector_class is not None
    assert connector_class.incremental_supported(case.settings)
    since = dt.datetime.fromisoformat(case.changes["since"])

    with time_machine.travel(dt.datetime.fromisoformat(case.changes["now"]), tick=False):
        items = list(double.connector().iter_changes(since))

    assert double.unmatched == []
    assert len(double.requests) == len(case.changes["exchanges"])
    expected = case.changes["expected"]
    assert_expected_records(dataclasses.replace(case, expected=expected), records_of(items))
    deleted = [{"id": item.id, "type": item.type} for item in items if isinstance(item, DeletedRecord)]
    assert deleted == expected.get("deleted", [])


@pytest.mark.parametrize("case", INCREMENTAL_CASES, ids=str)
def test_an_incremental_listing_that_fails_keeps_its_error(case: ContractCase) -> None:
    assert case.changes is not None
    double = ContractDouble(
        dataclasses.replace(case, exchanges=case.changes["exchanges"]), fault=status(503), fault_times=-1
    )

    with (
        time_machine.travel(dt.datetime.fromisoformat(case.changes["now"]), tick=False),
        pytest.raises(ConnectorError, match=r"HTTP 503") as caught,
    ):
        list(double.connector().iter_changes(dt.datetime.fromisoformat(case.changes["since"])))

    assert not caught.value.permanent


def test_every_incremental_connector_has_a_contract_case_for_its_changes() -> None:
    declared = {
        p.slug
        for p in http_presets()
        if p.connector_class is not None
        and any(p.connector_class.incremental_supported(case.settings) for case in CASES if case.preset == p)
    }
    covered = {case.preset.slug for case in INCREMENTAL_CASES}

    assert declared <= covered, f"incremental connectors without changes.json: {sorted(declared - covered)}"


# --- The catalog ------------------------------------------------------------------------------


def test_every_http_connector_has_contract_fixtures() -> None:
    covered = {case.preset.slug for case in CASES}

    assert {preset.slug for preset in http_presets()} <= covered
    assert len([case for case in CASES if case.preset.slug == "rest_json"]) >= 2


def _sample_settings(preset: Preset) -> dict[str, str]:
    values: dict[str, str] = {}
    for setting in preset.settings:
        if setting.kind == SettingKind.CHOICE:
            values[setting.name] = setting.default or setting.choices[0][0]
        elif setting.kind == SettingKind.URL:
            placeholder = setting.placeholder
            values[setting.name] = (
                placeholder if placeholder.startswith("http") else "https://crm.example.com"
            )
        elif setting.kind == SettingKind.SECRET:
            values[setting.name] = "s3cret"
        elif setting.placeholder and "#(" in setting.placeholder:
            values[setting.name] = setting.placeholder  # a URL template (the custom URL preset)
        else:
            values[setting.name] = setting.default or "sample"
    return values


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.slug)
def test_default_scripts_parse_and_render_for_a_sample_record(preset: Preset) -> None:
    record = {field.name: f"sample {field.name}" for field in preset.all_fields}
    record.update(DisplayName="Ada Lovelace", Identifier="42", PopUpUri="https://crm.example.com/contacts/42")
    scripts = preset_default_scripts(preset=preset, settings_values=_sample_settings(preset))
    assert scripts, f"{preset.slug} has no default script"

    for script in scripts:
        uses_record = preset.has_phone_data and script.applies != ScriptApplies.ON_NO_MATCH
        template = scripts_engine.validate(
            script.template, record_fields=[f.name for f in preset.all_fields] if uses_record else None
        )
        link = scripts_engine.render(
            template,
            call=scripts_engine.CallProperties(caller_number="+31201234567", call_id="call-1"),
            record=record if uses_record else None,
            country="NL",
        )
        assert link, (preset.slug, script.name)
        assert "{" not in link, (preset.slug, script.name, link)
