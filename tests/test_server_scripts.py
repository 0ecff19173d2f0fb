"""Scripts the server runs (issue 9 item 8): requests sent to a CRM on call events.

A local server on 127.0.0.1 (tests/crm_hook_server.py) records what it receives; Celery runs
eagerly (conftest), so a retry runs at once and the back-off is read from what the task asked.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpcore
import httpx
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations.models import Integration, Script, ScriptKind, ServerScriptRun
from integrations.outbound import PRIVATE_ADDRESS_MESSAGE
from integrations.pbx.services import pbx_sender_create
from integrations.presets import ScriptApplies
from integrations.server_scripts import (
    RETRY_AFTER_CAP_SECONDS,
    call_key,
    pbx_call_event,
    server_request_render,
    server_script_send,
)
from integrations.services import integration_create, script_create, script_update
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard
from tests.crm_hook_server import HookServer, hook_server
from tests.test_outbound import RecordingBackend

MOMENT = "2026-12-01T10:00:00+00:00"


@pytest.fixture
def crm(allow_private_addresses: None) -> Iterator[HookServer]:
    with hook_server() as server:
        yield server


@pytest.fixture
def address_book(tenant: Any) -> Integration:
    double = CardDavDouble(
        {
            "jan.vcf": vcard(
                "jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV", email="jan@acme.example"
            )
        }
    )
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Sales CRM",
        settings_values=double.settings(),
        notification_fields=["Company"],
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    return integration


def server_script(tenant: Any, crm: HookServer, **overrides: Any) -> Script:
    values: dict[str, Any] = {
        "tenant": tenant,
        "integration": None,
        "name": "Log the call",
        "template": crm.base_url + "/calls?from=#(Caller number:e164)",
        "applies": ScriptApplies.ALWAYS,
        "kind": ScriptKind.SERVER_REQUEST,
        "http_method": "POST",
        "request_headers": "Authorization: Bearer s3cret\nX-Caller: #(Caller name)",
        "body_template": '{"name": #(Caller name), "number": "#(Caller number:e164)", "ddi": #(Ddi number)}',
        "body_encoding": "json",
        "on_events": ["start"],
    }
    values.update(overrides)
    return script_create(**values)


@pytest.fixture(autouse=True)
def _commits(django_capture_on_commit_callbacks: Any) -> None:
    global _capture
    _capture = django_capture_on_commit_callbacks


_capture: Any = None


def match(key: str, **params: str) -> Any:
    """Ask the matching API; the requests queued after its commit are sent before this returns."""
    with _capture(execute=True):
        return Client().get("/api/v1/match", params, HTTP_AUTHORIZATION=f"Api-Key {key}")


def pbx(sender: Any, event: dict[str, str]) -> Any:
    """Post a Zammad event as JSON; the requests queued after its commit are sent before this returns."""
    with _capture(execute=True):
        return Client().post(f"/pbx/zammad/{sender.token}/", event, content_type="application/json")


def test_it_posts_the_rendered_json_with_each_value_escaped(tenant, api_key, crm):
    server_script(tenant, crm)
    name = 'Jan "JJ" Jansen\nSales \\ EMEA'
    with time_machine.travel(MOMENT, tick=False):
        response = match(api_key[1], caller_number="020 123 4567", caller_name=name, call_id="c-1")
    assert response.status_code == 200
    assert response.json()["actions"] == []  # a server request is never an action link
    [got] = crm.requests
    assert got.method == "POST"
    assert got.path == "/calls?from=%2B31201234567"
    assert got.headers["authorization"] == "Bearer s3cret"
    assert got.headers["x-caller"] == 'Jan "JJ" Jansen Sales \\ EMEA'  # a line break never splits a header
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.body) == {"name": name, "number": "+31201234567", "ddi": ""}
    run = ServerScriptRun.objects.get()
    assert (run.status, run.attempts, run.last_status_code, run.call_key) == ("sent", 1, 200, "c-1")
    assert run.attempts_log[0]["status_code"] == 200
    assert run.attempts_log[0]["at"] == "2026-12-01T10:00:00+00:00"


def test_form_encoding_sends_each_line_as_a_field(tenant, api_key, crm):
    server_script(
        tenant,
        crm,
        http_method="PUT",
        request_headers="",
        body_template="caller=#(Caller number)\nname=#(Caller name)",
        body_encoding="form",
    )
    match(api_key[1], caller_number="+31 20 123 4567", caller_name="A&B=C", call_id="c-2")
    [got] = crm.requests
    assert got.method == "PUT"
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(got.body.decode()) == {"caller": ["0201234567"], "name": ["A&B=C"]}


def test_a_get_sends_no_body(tenant, api_key, crm):
    server_script(tenant, crm, http_method="GET", body_template="", body_encoding="none", request_headers="")
    match(api_key[1], caller_number="0201234567", call_id="c-3")
    [got] = crm.requests
    assert (got.method, got.body) == ("GET", b"")


def test_it_applies_on_match_with_the_record_and_on_no_match_without(tenant, api_key, crm, address_book):
    server_script(
        tenant,
        crm,
        name="Matched",
        integration=address_book,
        applies=ScriptApplies.ON_MATCH,
        template=crm.base_url + "/matched",
        body_template='{"who": $(DisplayName), "mail": "$(Email)"}',
    )
    server_script(
        tenant, crm, name="Unknown", applies=ScriptApplies.ON_NO_MATCH, template=crm.base_url + "/unknown"
    )
    match(api_key[1], caller_number="020 123 4567", call_id="known")
    assert [r.path for r in crm.requests] == ["/matched"]
    assert json.loads(crm.requests[0].body) == {"who": "Jan Jansen", "mail": "jan@acme.example"}
    match(api_key[1], caller_number="+32 2 555 12 12", call_id="stranger")
    assert [r.path for r in crm.requests] == ["/matched", "/unknown"]


def test_a_hangup_fires_only_the_scripts_for_ended_calls(tenant, crm, address_book):
    server_script(tenant, crm, name="Start", template=crm.base_url + "/start", on_events=["start"])
    server_script(tenant, crm, name="End", template=crm.base_url + "/end", on_events=["ended"])
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad")
    event = {
        "event": "hangup",
        "from": "31201234567",
        "to": "31207654321",
        "direction": "in",
        "callId": "z-1",
    }
    response = pbx(sender, event)
    assert response.status_code == 200
    assert [r.path for r in crm.requests] == ["/end"]
    run = ServerScriptRun.objects.get()
    assert (run.event, run.call_id, run.script.name) == ("ended", "z-1", "End")


def test_a_pbx_call_start_sends_the_request_end_to_end(tenant, crm, address_book):
    server_script(
        tenant,
        crm,
        integration=address_book,
        applies=ScriptApplies.ON_MATCH,
        body_template='{"caller": "$(DisplayName)", "company": $(Company), "id": #(Caller number:e164)}',
    )
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad")
    event = {
        "event": "newCall",
        "from": "31201234567",
        "to": "31207654321",
        "direction": "in",
        "callId": "z-2",
    }
    response = pbx(sender, event)
    assert response.json() == {}
    [got] = crm.requests
    assert json.loads(got.body) == {"caller": "Jan Jansen", "company": "Acme BV", "id": "+31201234567"}


@pytest.mark.parametrize(
    ("slug", "name", "incoming", "expected"),
    [
        ("zammad", "newCall", True, "start"),
        ("zammad", "newCall", False, None),
        ("zammad", "answer", False, "answered"),
        ("placetel", "HungUp", False, "ended"),
        ("placetel", "OutgoingCall", False, None),
        ("sipgate", "hangup", False, "ended"),
        ("cloudcti", "answered", False, "answered"),
        ("anywhere365", "Hunting", True, "start"),
        ("anywhere365", "Disconnected", False, "ended"),
        ("anywhere365", "LoggedIn", False, None),
    ],
)
def test_each_formats_event_names_map_to_the_script_events(slug, name, incoming, expected):
    assert pbx_call_event(slug, name, incoming=incoming) == expected


def test_the_same_call_event_twice_sends_once(tenant, api_key, crm):
    server_script(tenant, crm)
    for _ in range(2):
        assert match(api_key[1], caller_number="0201234567", call_id="same").status_code == 200
    assert len(crm.requests) == 1
    assert ServerScriptRun.objects.count() == 1


def test_without_a_call_id_the_key_is_a_hash_of_the_call_and_event():
    call = {"caller_number": "0201234567", "call_id": "", "start_time": "2026-12-01T11:00:00+01:00"}
    assert call_key(call, "start").startswith("sha256:")
    assert call_key(call, "start") == call_key(dict(call), "start")
    assert call_key(call, "start") != call_key(call, "ended")
    assert call_key({**call, "call_id": "x"}, "start") == "x"


def test_a_503_is_retried_with_backoff_then_sent(tenant, api_key, crm, settings, monkeypatch):
    server_script(tenant, crm)
    settings.SERVER_SCRIPT_BACKOFF_SECONDS = 10
    crm.answers.extend([(503, {}, b"busy"), (503, {}, b"busy")])
    countdowns: list[float] = []
    from integrations import tasks

    original = tasks.send_server_script.retry

    def recording_retry(*args: Any, **kwargs: Any) -> Any:
        countdowns.append(kwargs["countdown"])
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.send_server_script, "retry", recording_retry)
    with time_machine.travel(MOMENT, tick=False):
        match(api_key[1], caller_number="0201234567", call_id="r-1")
    assert len(crm.requests) == 3
    assert countdowns == [10.0, 20.0]
    run = ServerScriptRun.objects.get()
    assert (run.status, run.attempts, run.last_status_code) == ("sent", 3, 200)
    assert [a["status_code"] for a in run.attempts_log] == [503, 503, 200]


def test_it_gives_up_after_the_last_attempt(tenant, api_key, crm, settings):
    server_script(tenant, crm)
    settings.SERVER_SCRIPT_MAX_ATTEMPTS = 3
    crm.answers.extend([(500, {}, b"")] * 5)
    match(api_key[1], caller_number="0201234567", call_id="r-2")
    assert len(crm.requests) == 3
    run = ServerScriptRun.objects.get()
    assert (run.status, run.attempts, run.last_error) == ("failed", 3, "HTTP 500")
    assert run.finished is not None


def test_a_4xx_is_not_retried(tenant, api_key, crm):
    server_script(tenant, crm)
    crm.answers.append((404, {}, b"no such endpoint"))
    match(api_key[1], caller_number="0201234567", call_id="r-3")
    assert len(crm.requests) == 1
    run = ServerScriptRun.objects.get()
    assert (run.status, run.attempts, run.last_status_code) == ("failed", 1, 404)


def _pending_run(tenant: Any, crm: HookServer) -> ServerScriptRun:
    script = server_script(tenant, crm)
    return ServerScriptRun.objects.create(
        tenant=tenant,
        script=script,
        call_key="k",
        event="start",
        payload={
            "call": {"caller_number": "0201234567", "caller_number_e164": "+31201234567"},
            "record": None,
        },
    )


@pytest.mark.parametrize(("retry_after", "wait"), [("7", 7.0), ("86400", RETRY_AFTER_CAP_SECONDS)])
def test_a_429_waits_its_retry_after_up_to_a_cap(tenant, crm, retry_after, wait):
    run = _pending_run(tenant, crm)
    crm.answers.append((429, {"Retry-After": retry_after}, b""))
    assert server_script_send(run_id=run.pk) == wait
    assert server_script_send(run_id=run.pk) is None
    run.refresh_from_db()
    assert [a["status_code"] for a in run.attempts_log] == [429, 200]
    assert run.status == "sent"


def test_a_429_with_an_http_date_waits_until_then(tenant, crm):
    run = _pending_run(tenant, crm)
    crm.answers.append((429, {"Retry-After": "Tue, 01 Dec 2026 10:00:30 GMT"}, b""))
    with time_machine.travel(MOMENT, tick=False):
        assert server_script_send(run_id=run.pk) == 30.0


def test_a_connection_error_is_retried(tenant, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with hook_server() as gone:
        url = gone.base_url
    run = _pending_run(tenant, HookServer(base_url=url))
    assert server_script_send(run_id=run.pk) == 10.0
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("pending", 1)
    assert run.attempts_log[0]["status_code"] is None
    assert run.attempts_log[0]["error"]


def test_a_sent_run_is_never_sent_again(tenant, crm):
    run = _pending_run(tenant, crm)
    assert server_script_send(run_id=run.pk) is None
    assert server_script_send(run_id=run.pk) is None
    assert len(crm.requests) == 1


def test_a_private_address_is_refused_with_the_guards_message(tenant, api_key, monkeypatch):
    backend = RecordingBackend()
    monkeypatch.setattr(httpcore, "SyncBackend", lambda: backend)
    script_create(
        tenant=tenant,
        integration=None,
        name="Internal CRM",
        template="http://10.1.2.3/calls",
        applies=ScriptApplies.ALWAYS,
        kind=ScriptKind.SERVER_REQUEST,
        body_template='{"n": #(Caller number)}',
    )
    match(api_key[1], caller_number="0201234567", call_id="p-1")
    run = ServerScriptRun.objects.get()
    assert (run.status, run.last_error, run.attempts) == ("refused", PRIVATE_ADDRESS_MESSAGE, 1)
    assert backend.connections == []  # decided on the address: nothing was connected to


def test_an_ignored_caller_sends_nothing(tenant, api_key, crm):
    from integrations.ignore_list import ignored_number_add

    server_script(tenant, crm)
    ignored_number_add(tenant=tenant, number="+31201234567", note="spam", added_by=None)
    match(api_key[1], caller_number="0201234567", call_id="i-1")
    assert crm.requests == []


# --- Saving: templates, JSON, headers -----------------------------------------------------------


def _save(tenant: Any, **overrides: Any) -> Script:
    return server_script(tenant, HookServer(base_url="https://crm.example.com"), **overrides)


@pytest.mark.parametrize(
    ("body", "character"),
    [
        ('{"name": #(Caller name),}', 25),
        ('{"name" #(Caller name)}', 9),
        ('{"name": "#(Caller name)}', 10),
    ],
)
def test_a_body_that_is_not_json_is_refused_saying_where(tenant, body, character):
    with pytest.raises(ValidationError) as caught:
        _save(tenant, body_template=body)
    message = caught.value.message_dict["body_template"][0]
    assert "not valid JSON" in message
    assert f"(at character {character})" in message
    assert not Script.objects.exists()


def test_a_json_body_with_an_unknown_placeholder_is_refused(tenant):
    with pytest.raises(ValidationError) as caught:
        _save(tenant, body_template='{"x": #(Nonsense)}')
    assert "Unknown call property" in caught.value.message_dict["body_template"][0]


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ("X Bad: 1", "is not a header name"),
        ("X-Ok: 1\nHost: evil.example", "line 2: Host is set by the server"),
        ("Transfer-Encoding: chunked", "set by the server"),
        ("Connection: close", "set by the server"),
        ("X-A: one\rX-B: two", "line break or control character"),
        ("just text", "Name: value"),
        ("X-Name: #(Caller nam", "no closing bracket"),
    ],
)
def test_header_injection_and_hop_by_hop_headers_are_refused(tenant, headers, words):
    with pytest.raises(ValidationError) as caught:
        _save(tenant, request_headers=headers)
    assert words in caught.value.message_dict["request_headers"][0]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"template": "ftp://crm.example.com/x"}, "template", "not allowed"),
        ({"template": "mailto:x@example.com"}, "template", "http: or https:"),
        ({"http_method": "DELETE"}, "http_method", "not one of"),
        ({"http_method": "GET"}, "body_template", "sends no body"),
        ({"on_events": []}, "on_events", "at least one"),
        ({"on_events": ["later"]}, "on_events", "Choose among"),
        ({"body_template": ""}, "body_template", "Write the JSON body"),
        ({"body_encoding": "form", "body_template": "no equals"}, "body_template", "name=value"),
    ],
)
def test_other_bad_request_settings_are_named(tenant, overrides, field, words):
    with pytest.raises(ValidationError) as caught:
        _save(tenant, **overrides)
    assert words in caught.value.message_dict[field][0]


def test_record_fields_need_an_integration_with_phone_data(tenant):
    with pytest.raises(ValidationError) as caught:
        _save(tenant, body_template='{"x": $(DisplayName)}')
    assert "CRM fields" in caught.value.message_dict["body_template"][0]


def test_a_link_script_keeps_todays_behaviour_and_can_become_a_server_request(tenant):
    script = script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )
    assert (script.kind, script.on_events) == ("link", ["start"])
    script_update(
        tenant=tenant,
        script=script,
        name="Google",
        template="https://crm.example.com/hook",
        applies="always",
        auto_open=True,
        kind="server_request",
        body_template='{"a": 1}',
        on_events=["answered", "ended"],
    )
    script.refresh_from_db()
    assert (script.kind, script.on_events, script.auto_open) == (
        "server_request",
        ["answered", "ended"],
        False,
    )


def test_finished_runs_are_purged_with_the_call_log(tenant, crm, settings):
    from integrations.tasks import purge_call_journal

    settings.CALL_JOURNAL_DAYS = 30
    old = _pending_run(tenant, crm)
    with time_machine.travel("2026-10-01T10:00:00+00:00", tick=False):
        assert server_script_send(run_id=old.pk) is None
        ServerScriptRun.objects.filter(pk=old.pk).update(created=dt.datetime.now(dt.UTC))
        stuck = ServerScriptRun.objects.create(tenant=tenant, script=old.script, call_key="k2", event="start")
    with time_machine.travel(MOMENT, tick=False):
        fresh = ServerScriptRun.objects.create(
            tenant=tenant, script=old.script, call_key="k3", event="start", status="sent"
        )
        purge_call_journal()
    assert set(ServerScriptRun.objects.values_list("pk", flat=True)) == {stuck.pk, fresh.pk}


def test_a_timeout_is_retried(tenant, crm, settings):
    settings.SERVER_SCRIPT_TIMEOUT_SECONDS = 0.3
    crm.delays.append(2.0)
    run = _pending_run(tenant, crm)
    assert server_script_send(run_id=run.pk) == 10.0
    run.refresh_from_db()
    assert run.attempts_log[0]["error"] == "No answer within 0.3 s."
    assert run.attempts_log[0]["duration_ms"] < 1500
    assert server_script_send(run_id=run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("sent", 2)


def test_a_name_resolving_to_a_private_address_is_refused_without_connecting(tenant, monkeypatch):
    from integrations import outbound
    from tests.test_outbound import FakeDns

    dns = FakeDns()
    dns.names["crm.example.com"] = [["10.20.30.40"]]
    monkeypatch.setattr(outbound, "system_resolver", dns)
    backend = RecordingBackend()
    monkeypatch.setattr(httpcore, "SyncBackend", lambda: backend)
    run = _pending_run(tenant, HookServer(base_url="https://crm.example.com"))
    assert server_script_send(run_id=run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.last_error) == ("refused", PRIVATE_ADDRESS_MESSAGE)
    assert dns.lookups == ["crm.example.com"]
    assert backend.connections == []


def test_cloudcti_answered_fires_only_the_answered_scripts(tenant, crm, address_book):
    server_script(tenant, crm, name="Start", template=crm.base_url + "/start", on_events=["start"])
    server_script(tenant, crm, name="Answered", template=crm.base_url + "/answered", on_events=["answered"])
    sender = pbx_sender_create(tenant=tenant, format_slug="cloudcti", name="CloudCTI")
    event = {
        "CallId": "cc-1",
        "CallerNumber": "+31201234567",
        "CalledNumber": "+31207654321",
        "Direction": "inbound",
        "State": "answered",
    }
    with _capture(execute=True):
        response = Client().post(f"/pbx/cloudcti/{sender.token}/", event, content_type="application/json")
    assert response.status_code == 200
    assert [r.path for r in crm.requests] == ["/answered"]


def test_a_failing_crm_never_changes_what_the_pbx_is_answered(tenant, api_key, crm):
    server_script(tenant, crm)
    crm.answers.extend([(500, {}, b"")] * 10)
    response = match(api_key[1], caller_number="0201234567", call_id="f-1")
    assert response.status_code == 200
    assert response.json()["matches"] == []


@hypothesis_settings(max_examples=200)
@given(name=st.text(), company=st.text())
def test_any_values_give_valid_json_that_reads_back(name, company):
    script = Script(
        template="https://crm.example.com/calls",
        kind=ScriptKind.SERVER_REQUEST,
        body_template='{"bare": #(Caller name), "quoted": "x $(Company) y", "list": [#(Caller name)]}',
        body_encoding="json",
    )
    call = {"caller_name": name, "caller_number": "+31201234567", "caller_number_e164": "+31201234567"}
    rendered = server_request_render(script=script, call_json=call, record={"Company": company}, country="NL")
    assert rendered.body is not None
    assert json.loads(rendered.body) == {"bare": name, "quoted": f"x {company} y", "list": [name]}


def test_a_lone_surrogate_from_a_crm_field_never_breaks_the_request():
    script = Script(
        template="https://crm.example.com/calls",
        kind=ScriptKind.SERVER_REQUEST,
        request_headers="X-Company: $(Company)",
        body_template='{"c": $(Company)}',
        body_encoding="json",
    )
    rendered = server_request_render(
        script=script, call_json={}, record={"Company": "A\ud800B"}, country="NL"
    )
    assert rendered.body is not None
    assert json.loads(rendered.body) == {"c": "A?B"}
    form = Script(template="https://x.example/", body_template="c=$(Company)", body_encoding="form")
    assert (
        server_request_render(script=form, call_json={}, record={"Company": "\ud800"}, country="NL").body
        == b"c=%3F"
    )
