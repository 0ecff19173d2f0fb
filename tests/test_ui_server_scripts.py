"""The script form for requests the server sends, its preview, and the server-request log (Django client)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import CallJournalEntry, Integration, Script, ScriptKind, ServerScriptRun
from integrations.presets import ScriptApplies
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tests.crm_hook_server import HookServer, hook_server

BODY = '{"from": #(Caller number:e164), "name": "#(Caller name)"}'


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "CRM call log",
        "template": "https://crm.example.com/api/calls?ddi=#(Ddi number)",
        "applies": "always",
        "kind": "server_request",
        "http_method": "POST",
        "request_headers": "Authorization: Bearer token-1\nX-Device: #(Device name)",
        "body_encoding": "json",
        "body_template": BODY,
        "on_events": ["start", "ended"],
    }
    data.update(overrides)
    return data


def a_script(tenant: Tenant, **overrides: Any) -> Script:
    values: dict[str, Any] = {
        "tenant": tenant,
        "integration": None,
        "name": "CRM call log",
        "template": "https://crm.example.com/api/calls",
        "applies": ScriptApplies.ALWAYS,
        "kind": ScriptKind.SERVER_REQUEST,
        "body_template": BODY,
    }
    values.update(overrides)
    return script_create(**values)


def test_the_form_offers_the_kind_and_the_request_fields(admin_client: Client) -> None:
    page = admin_client.get(reverse("script-add")).content.decode()
    assert 'name="kind" value="server_request"' in page
    for field in ("http_method", "request_headers", "body_encoding", "body_template", "on_events"):
        assert f'name="{field}"' in page
    assert 'name="preview"' in page  # a preview without JavaScript


def test_adding_a_server_request_saves_every_field(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(reverse("script-add"), form_data(), follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    script = Script.objects.get(tenant=tenant)
    assert (script.kind, script.http_method, script.body_encoding) == ("server_request", "POST", "json")
    assert script.on_events == ["start", "ended"]
    assert script.request_headers.startswith("Authorization: Bearer token-1")
    assert script.body_template == BODY
    assert "POST by the server" in response.content.decode()


def test_a_bad_json_body_is_shown_on_its_field_and_nothing_is_saved(admin_client: Client) -> None:
    response = admin_client.post(reverse("script-add"), form_data(body_template='{"a": #(Caller name)'))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The body is not valid JSON" in page
    assert "at character" in page
    assert not Script.objects.exists()


def test_a_header_injection_is_refused_in_the_form(admin_client: Client) -> None:
    response = admin_client.post(reverse("script-add"), form_data(request_headers="Host: evil.example"))
    assert "Host is set by the server itself" in response.content.decode()
    assert not Script.objects.exists()


def test_the_preview_shows_method_url_headers_and_body_for_the_sample_call(admin_client: Client) -> None:
    response = admin_client.post(reverse("script-preview"), form_data(), headers={"HX-Request": "true"})
    page = response.content.decode()
    assert 'data-preview="ok"' in page
    assert "POST https://crm.example.com/api/calls?ddi=0207654321" in page
    assert "Authorization: Bearer token-1" in page
    assert "X-Device: Reception" in page
    assert "{&quot;from&quot;: &quot;+31201234567&quot;, &quot;name&quot;: &quot;Jan Jansen&quot;}" in page


def test_the_preview_lists_every_problem(admin_client: Client) -> None:
    data = form_data(request_headers="Bad Name: x", body_template="{")
    page = admin_client.post(reverse("script-preview"), data).content.decode()
    assert 'data-preview="error"' in page
    assert "is not a header name" in page
    assert "The body is not valid JSON" in page


def test_the_preview_works_without_javascript_and_saves_nothing(admin_client: Client) -> None:
    response = admin_client.post(reverse("script-add"), {**form_data(), "preview": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "POST https://crm.example.com/api/calls?ddi=0207654321" in page
    assert "CRM call log" in page  # the form keeps what was typed
    assert not Script.objects.exists()


def test_a_link_preview_is_unchanged(admin_client: Client) -> None:
    data = {"template": "https://www.google.nl?q=#(Caller number)", "applies": "always", "kind": "link"}
    page = admin_client.post(reverse("script-preview"), data).content.decode()
    assert 'id="preview-link"' in page
    assert "https://www.google.nl?q=0201234567" in page


def test_editing_shows_and_keeps_the_request_fields(tenant: Tenant, admin_client: Client) -> None:
    script = a_script(tenant, on_events=["answered"], request_headers="X-Token: abc")
    page = admin_client.get(reverse("script-edit", args=[script.pk])).content.decode()
    assert "X-Token: abc" in page
    assert re.search(r'value="answered"[^>]*checked', page)
    assert not re.search(r'value="start"[^>]*checked', page)
    response = admin_client.post(
        reverse("script-edit", args=[script.pk]), form_data(http_method="PATCH", on_events=["answered"])
    )
    assert response.status_code == 302
    script.refresh_from_db()
    assert (script.http_method, script.on_events) == ("PATCH", ["answered"])


def test_another_tenants_script_and_integration_are_404(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client
) -> None:
    theirs = a_script(other_tenant)
    integration = integration_create(
        tenant=other_tenant,
        preset_slug="efecte_esm",
        name="Their Efecte",
        settings_values={"base_url": "https://efecte.example.com"},
        start_sync=False,
    )
    assert admin_client.get(reverse("script-edit", args=[theirs.pk])).status_code == 404
    assert admin_client.post(reverse("script-edit", args=[theirs.pk]), form_data()).status_code == 404
    assert (
        admin_client.post(reverse("integration-script-add", args=[integration.pk]), form_data()).status_code
        == 404
    )
    preview = reverse("integration-script-preview", args=[integration.pk])
    assert admin_client.post(preview, form_data()).status_code == 404
    assert Script.objects.filter(tenant=tenant).count() == 0
    theirs.refresh_from_db()
    assert theirs.http_method == "POST"


def test_odd_form_values_never_give_a_500(admin_client: Client) -> None:
    for data in (
        form_data(kind="nonsense"),
        form_data(http_method="TRACE"),
        form_data(body_encoding="xml"),
        form_data(on_events=["never"]),
        form_data(request_headers="X: \x00"),
        form_data(body_template="{" * 5000),
    ):
        response = admin_client.post(reverse("script-add"), data)
        assert response.status_code == 200
        preview = admin_client.post(reverse("script-preview"), data)
        assert preview.status_code == 200
    assert not Script.objects.exists()


# --- The log ---------------------------------------------------------------------------------------


@pytest.fixture
def crm(allow_private_addresses: None) -> Iterator[HookServer]:
    with hook_server() as server:
        yield server


def test_the_call_log_entry_shows_the_calls_server_requests_with_each_attempt(
    tenant: Tenant,
    api_key: Any,
    crm: HookServer,
    admin_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    a_script(tenant, name="Notify CRM", template=crm.base_url + "/hook")
    crm.answers.append((503, {}, b""))
    with django_capture_on_commit_callbacks(execute=True):
        Client().get(
            "/api/v1/match",
            {"caller_number": "0201234567", "call_id": "call-77"},
            HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
        )
    entry = CallJournalEntry.objects.get(tenant=tenant)
    page = admin_client.get(reverse("call-log-entry", args=[entry.pk])).content.decode()
    assert "Server requests of this call" in page
    assert "Notify CRM" in page
    assert "HTTP 503" in page  # both attempts
    assert "HTTP 200" in page
    assert f"POST {crm.base_url}/hook" in page


def test_the_server_request_list_shows_failures_and_only_the_tenants_runs(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client
) -> None:
    mine = a_script(tenant, name="Mine")
    theirs = a_script(other_tenant, name="Theirs")
    ServerScriptRun.objects.create(
        tenant=tenant,
        script=mine,
        call_key="a",
        call_id="a",
        event="start",
        status="failed",
        attempts=1,
        last_status_code=404,
        last_error="HTTP 404",
        attempts_log=[
            {"at": "2026-12-01T10:00:00+00:00", "status_code": 404, "error": "HTTP 404", "duration_ms": 3}
        ],
    )
    ServerScriptRun.objects.create(
        tenant=tenant, script=mine, call_key="b", call_id="b", event="ended", status="sent"
    )
    ServerScriptRun.objects.create(
        tenant=other_tenant, script=theirs, call_key="c", event="start", status="failed"
    )
    page = admin_client.get(reverse("server-requests")).content.decode()
    assert page.count('data-status="') == 2
    assert "Theirs" not in page
    failures = admin_client.get(reverse("server-requests") + "?failed=1").content.decode()
    assert failures.count('data-status="failed"') == 1
    assert 'data-status="sent"' not in failures
    assert "HTTP 404" in failures
    call_log = admin_client.get(reverse("call-log")).content.decode()
    assert "1 failed" in call_log


def test_the_log_pages_need_a_tenant_admin(tenant: Tenant, client: Client) -> None:
    response = client.get(reverse("server-requests"))
    assert response.status_code in (302, 403)


def test_an_integration_server_script_previews_with_the_sample_record(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": "https://dav.example.com/", "username": "u", "password": "p"},
        start_sync=False,
    )
    assert isinstance(integration, Integration)
    data = form_data(applies="on_match", body_template='{"who": $(DisplayName), "mail": "$(Email)"}')
    page = admin_client.post(
        reverse("integration-script-preview", args=[integration.pk]), data
    ).content.decode()
    body = page.split("\n")
    assert any(
        json.dumps({"who": "Jan Jansen", "mail": "jan@example.com"}).replace('"', "&quot;") in line
        for line in body
    )
