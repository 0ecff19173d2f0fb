"""The audit log: every configuration write leaves an entry with its actor; secrets never do.

Runs in the two-tenant world of conftest: Acme's admin must never see Globex's entries (nor the
other way round), entries of deleted objects stay visible to their own tenant only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO
from typing import Any

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from configurator.audit import audit_entry_list, audit_rows
from integrations.models import Integration, PhoneCacheEntry, Script, SyncState
from integrations.services import (
    integration_create,
    integration_delete,
    integration_set_enabled,
    script_create,
    script_delete,
    script_update,
)
from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create, api_key_revoke
from tests.conftest import PASSWORD
from tests.test_ui import form_token

SECRET = "hunter2-unique"
URL = reverse("audit-log")


def carddav(tenant: Tenant, name: str = "CRM", **settings: str) -> Integration:
    values = {"url": "https://dav.example.com/addressbooks/alice/contacts/", "username": "alice", **settings}
    return integration_create(
        tenant=tenant, preset_slug="carddav", name=name, settings_values=values, start_sync=False
    )


def entries_of(obj: Any) -> list[LogEntry]:
    """The object's entries, oldest first."""
    return list(LogEntry.objects.get_for_object(obj).order_by("timestamp", "pk"))


def all_log_text() -> str:
    """Every column of every log entry, as one text to search."""
    return json.dumps(list(LogEntry.objects.values()), default=str)


def table_rows(html: str) -> list[str]:
    """The text of each row of the audit table, tags stripped, whitespace squeezed."""
    if 'data-testid="audit-table"' not in html:
        return []
    body = html.split('data-testid="audit-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


# Secrets ----------------------------------------------------------------------------------------


def test_an_integration_password_never_reaches_the_log_not_even_encrypted(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = carddav(tenant, password=SECRET)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [integration.pk])
        ciphertext = cursor.fetchone()[0]
    assert ciphertext
    assert SECRET not in str(ciphertext)

    # A settings change that replaces the password, then deletion.
    integration.secrets = {"password": SECRET + "-2"}
    integration.settings = {**integration.settings, "username": "bob"}
    integration.save()
    integration_delete(tenant=tenant, integration=integration)

    text = all_log_text()
    assert SECRET not in text
    assert str(ciphertext) not in text
    created, changed, deleted = (
        e for e in entries_of(integration) if e.content_type.model_class() is Integration
    )
    assert created.changes["secrets"] == ["(not set)", "(set)"]
    assert changed.changes["secrets"] == ["(set)", "(set)"]
    assert changed.changes["settings"][1]["username"] == "bob"
    assert deleted.action == LogEntry.Action.DELETE

    page = admin_client.get(URL)
    assert SECRET not in page.text
    rows = table_rows(page.text)
    changed_row = next(r for r in rows if "changed" in r and "Integration “CRM”" in r)
    assert "secrets: changed (not shown)" in changed_row
    assert "settings username: alice → bob" in changed_row
    assert "url" not in changed_row


def test_an_api_keys_hash_and_key_never_reach_the_log(tenant: Tenant) -> None:
    api_key, key = api_key_create(tenant=tenant, name="PBX 1")
    api_key_revoke(tenant=tenant, prefix=api_key.prefix)

    text = all_log_text()
    assert api_key.hashed_key not in text
    assert key not in text
    assert key.split(".", 1)[1] not in text
    created, revoked = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(TenantAPIKey)
    ).order_by("pk")
    assert created.object_pk == api_key.prefix == revoked.object_pk
    assert created.changes["name"] == [None, "PBX 1"]
    assert revoked.changes == {"revoked": [False, True]}
    assert [r.action for r in audit_rows([revoked, created])] == ["revoked", "created"]


# Every write path -------------------------------------------------------------------------------


def test_every_ui_write_path_records_its_action_and_the_signed_in_admin(
    tenant: Tenant, admin_client: Client
) -> None:
    admin_client.post(
        reverse("integration-add", args=["web_search"]),
        {"name": "Google", "settings-search_url": "https://www.google.nl?q=", "action": "create"},
    )
    integration = Integration.objects.get(tenant=tenant, name="Google")
    script = Script.objects.get(integration=integration)
    admin_client.post(
        reverse("script-edit", args=[script.pk]),
        {
            "name": "Search Google",
            "template": "https://www.google.nl?q=#(Caller number)",
            "applies": "on_no_match",
        },
    )
    admin_client.post(reverse("integration-disable", args=[integration.pk]))
    admin_client.post(reverse("integration-enable", args=[integration.pk]))
    admin_client.post(
        reverse("script-add"), {"name": "Bing", "template": "https://bing.com/", "applies": "always"}
    )
    admin_client.post(reverse("script-delete", args=[Script.objects.get(name="Bing").pk]))
    admin_client.post(reverse("api-keys"), {"name": "PBX 1", "form_token": form_token(admin_client)})
    admin_client.post(reverse("api-key-revoke", args=[TenantAPIKey.objects.get(name="PBX 1").prefix]))
    admin_client.post(reverse("integration-delete", args=[integration.pk]), {"confirm_name": "Google"})
    assert not Integration.objects.filter(pk=integration.pk).exists(), "the delete form changed"

    config = [
        r for r in audit_rows(audit_entry_list(tenant=tenant)) if r.kind not in ("Organization", "User")
    ]
    rows = [(r.who, r.kind, r.name, r.action) for r in reversed(config)]
    rows[-2:] = sorted(rows[-2:])  # the integration and its script go in one delete  # oldest first
    assert rows == [
        ("admin", "Integration", "Google", "created"),
        ("admin", "Script", "Search the web", "created"),
        ("admin", "Script", "Search Google", "changed"),
        ("admin", "Integration", "Google", "disabled"),
        ("admin", "Integration", "Google", "enabled"),
        ("admin", "Script", "Bing", "created"),
        ("admin", "Script", "Bing", "deleted"),
        ("admin", "API key", "PBX 1", "created"),
        ("admin", "API key", "PBX 1", "revoked"),
        ("admin", "Integration", "Google", "deleted"),
        ("admin", "Script", "Search Google", "deleted"),
    ]
    admin = get_user_model().objects.get(username="admin")
    assert all(
        e.actor == admin
        for e in audit_entry_list(tenant=tenant).exclude(
            content_type__model__in=["tenant", "tenantmembership"]
        )
    )

    page = admin_client.get(URL)
    assert page.status_code == 200
    text = " | ".join(table_rows(page.text))
    assert "name: Search the web → Search Google" in text
    assert "applies: Always → On no match" in text
    assert "enabled: yes → no" in text


def test_service_writes_record_changes_with_old_and_new_values(tenant: Tenant) -> None:
    integration = carddav(tenant)
    script = script_create(tenant=tenant, integration=None, name="Search", template="https://x.example/")
    script_update(
        tenant=tenant,
        script=script,
        name="Search",
        template="https://y.example/",
        applies="always",
        auto_open=True,
    )
    integration_set_enabled(tenant=tenant, integration=integration, enabled=False)
    integration_set_enabled(tenant=tenant, integration=integration, enabled=False)  # no change, no entry
    script_delete(tenant=tenant, script=script)

    script_entries = entries_of(script)
    assert [e.action for e in script_entries] == [
        LogEntry.Action.CREATE,
        LogEntry.Action.UPDATE,
        LogEntry.Action.DELETE,
    ]
    assert script_entries[1].changes == {
        "template": ["https://x.example/", "https://y.example/"],
        "applies": ["on_match", "always"],
        "auto_open": [False, True],
    }
    integration_entries = entries_of(integration)
    assert [e.changes for e in integration_entries[1:]] == [{"enabled": [True, False]}]
    assert all(e.actor is None for e in script_entries + integration_entries)
    assert {r.who for r in audit_rows(audit_entry_list(tenant=tenant))} == {"system"}


def test_another_tenants_objects_are_neither_changed_nor_logged_by_a_cross_tenant_call(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = carddav(other_tenant, name="Globex CRM")
    their_script = Script.objects.filter(integration=theirs).first()
    assert their_script is not None
    before = LogEntry.objects.count()

    integration_set_enabled(tenant=tenant, integration=theirs, enabled=False)
    script_delete(tenant=tenant, script=their_script)
    integration_delete(tenant=tenant, integration=theirs)

    assert LogEntry.objects.count() == before
    theirs.refresh_from_db()
    assert theirs.enabled
    assert Script.objects.filter(pk=their_script.pk).exists()


def test_deleting_an_integration_logs_it_and_its_scripts_but_not_each_cached_number(tenant: Tenant) -> None:
    integration = carddav(tenant)
    n_scripts = Script.objects.filter(integration=integration).count()
    assert n_scripts >= 1
    PhoneCacheEntry.objects.bulk_create(
        PhoneCacheEntry(
            tenant=tenant,
            integration=integration,
            generation=0,
            e164=f"+3120123{i:04d}",
            number_as_written=f"020 123 {i:04d}",
            record_id=str(i),
            record_type="contact",
        )
        for i in range(25)
    )
    before = LogEntry.objects.count()

    integration_delete(tenant=tenant, integration=integration)

    new = LogEntry.objects.order_by("pk")[before:]
    assert [e.content_type.model_class() for e in new].count(Integration) == 1
    assert [e.content_type.model_class() for e in new].count(Script) == n_scripts
    assert len(new) == 1 + n_scripts
    assert not LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(PhoneCacheEntry)
    ).exists()
    assert not PhoneCacheEntry.objects.filter(integration_id=integration.pk).exists()


def test_the_syncs_bookkeeping_writes_are_not_logged(tenant: Tenant) -> None:
    integration = carddav(tenant)
    before = LogEntry.objects.count()

    integration.sync_state = SyncState.RUNNING
    integration.cached_numbers = 1234
    integration.last_error = "The CardDAV server refused the credentials (HTTP 401)."
    integration.save()
    integration.sync_progress = 10
    integration.save(update_fields=["sync_progress"])
    Integration.objects.filter(pk=integration.pk).update(sync_state=SyncState.IDLE, cache_generation=2)

    assert LogEntry.objects.count() == before


# Command line ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_commands_record_command_line_as_the_actor() -> None:
    call_command(
        "tenant_create",
        "--name=Initech",
        "--admin-username=peter",
        f"--admin-password={PASSWORD}",
        stdout=StringIO(),
    )
    call_command("apikey_create", "--tenant=Initech", "--name=PBX 1", stdout=StringIO())
    call_command(
        "integration_add",
        "--tenant=Initech",
        "--preset=web_search",
        "--name=Google",
        "--setting=search_url=https://www.google.nl?q=",
        "--no-test",
        stdout=StringIO(),
    )
    initech = Tenant.objects.get(name="Initech")

    rows = audit_rows(audit_entry_list(tenant=initech))
    assert {(r.kind, r.name, r.action) for r in rows} == {
        ("Organization", "Initech", "created"),
        ("User", "peter", "created"),
        ("API key", "PBX 1", "created"),
        ("Integration", "Google", "created"),
        ("Script", "Search the web", "created"),
    }
    assert {r.who for r in rows} == {"command line"}
    assert all(e.additional_data["via"] == "cli" for e in audit_entry_list(tenant=initech))

    # The marker does not leak into what runs after the command.
    api_key_create(tenant=initech, name="PBX 2")
    assert audit_rows(audit_entry_list(tenant=initech)[:1])[0].who == "system"


# The page ---------------------------------------------------------------------------------------


def test_the_page_shows_only_the_tenants_entries_including_deleted_objects(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client, other_admin_client: Client
) -> None:
    ours = carddav(tenant, name="Acme CRM")
    integration_delete(tenant=tenant, integration=ours)
    api_key_create(tenant=tenant, name="Acme PBX")
    carddav(other_tenant, name="Globex CRM")

    ours_page = admin_client.get(URL).text
    theirs_page = other_admin_client.get(URL).text

    assert "Acme CRM" in ours_page
    assert "Acme PBX" in ours_page
    assert any("Acme CRM" in r and "deleted" in r for r in table_rows(ours_page))
    assert "Globex CRM" not in ours_page
    assert "Acme CRM" not in theirs_page
    assert "Acme PBX" not in theirs_page
    assert "Globex CRM" in theirs_page
    # Another tenant's integration id as a history filter shows nothing of theirs.
    assert "Acme CRM" not in other_admin_client.get(URL, {"integration": ours.pk}).text


@pytest.mark.django_db
def test_only_tenant_admins_see_the_page(tenant: Tenant, client: Client) -> None:
    anonymous = client.get(URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(URL).status_code == 403


def test_the_nav_links_to_the_page(admin_client: Client) -> None:
    home = admin_client.get(reverse("home")).text
    assert f'href="{URL}">Audit log</a>' in home
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert 'active" href="/audit-log/"' in page.text


def test_the_page_shows_times_in_the_tenants_time_zone(tenant: Tenant, admin_client: Client) -> None:
    with time_machine.travel(dt.datetime(2026, 1, 15, 12, 0, 5, tzinfo=dt.UTC), tick=False):
        carddav(tenant, name="Winter CRM")
    rows = table_rows(admin_client.get(URL).text)
    assert any("2026-01-15 13:00:05 CET" in r and "Winter CRM" in r for r in rows)
    assert not any("12:00:05" in r for r in rows)


def test_the_page_filters_by_object_type_and_by_integration(tenant: Tenant, admin_client: Client) -> None:
    crm = carddav(tenant, name="CRM")
    carddav(tenant, name="Other book")
    api_key_create(tenant=tenant, name="PBX 1")

    keys_only = table_rows(admin_client.get(URL, {"type": "api-key"}).text)
    assert len(keys_only) == 1
    assert "API key “PBX 1”" in keys_only[0]

    history = admin_client.get(URL, {"integration": crm.pk})
    assert "History of CRM" in history.text
    rows = table_rows(history.text)
    assert rows
    assert all("Other book" not in r and "PBX 1" not in r for r in rows)
    assert any("Integration “CRM”" in r for r in rows)
    assert any(r.count("Script “") == 1 for r in rows)


@pytest.mark.parametrize(
    "params",
    [
        {"type": "passwords"},
        {"integration": "abc"},
        {"integration": "-1"},
        {"integration": "9" * 30},
        {"type": ["x", "y"]},
    ],
)
def test_a_bad_filter_gets_a_clear_message_not_a_500(admin_client: Client, params: dict[str, Any]) -> None:
    response = admin_client.get(URL, params)
    assert response.status_code == 400
    assert "invalid-feedback" in response.text
    assert 'data-testid="audit-table"' not in response.text


def test_the_page_has_no_inline_script(tenant: Tenant, admin_client: Client) -> None:
    carddav(tenant)
    html = admin_client.get(URL).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_the_page_is_paginated_fifty_a_page_newest_first(tenant: Tenant, admin_client: Client) -> None:
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    for i in range(55):
        with time_machine.travel(start + dt.timedelta(minutes=i), tick=False):
            api_key_create(tenant=tenant, name=f"PBX {i:02d}")

    first = admin_client.get(URL, {"type": "api-key"})
    first_rows = table_rows(first.text)
    assert len(first_rows) == 50
    assert "PBX 54" in first_rows[0]
    assert "PBX 05" in first_rows[-1]
    assert "Page 1 of 2" in first.text
    assert 'href="?type=api-key&amp;page=2"' in first.text

    second_rows = table_rows(admin_client.get(URL, {"type": "api-key", "page": "2"}).text)
    assert len(second_rows) == 5
    assert "PBX 04" in second_rows[0]
    assert "PBX 00" in second_rows[-1]
    # Out-of-range and non-numeric pages fall back to a real page rather than failing.
    assert admin_client.get(URL, {"page": 999}).status_code == 200
    assert admin_client.get(URL, {"page": "x"}).status_code == 200


def test_the_actor_name_survives_the_users_deletion(tenant: Tenant, admin_client: Client) -> None:
    admin_client.post(reverse("api-keys"), {"name": "PBX 1", "form_token": form_token(admin_client)})
    get_user_model().objects.filter(username="admin").delete()

    row = next(r for r in audit_rows(audit_entry_list(tenant=tenant)) if r.name == "PBX 1")
    assert row.who == "admin"


def test_the_integration_overview_links_to_its_history(tenant: Tenant, admin_client: Client) -> None:
    integration = carddav(tenant, name="CRM")
    overview = admin_client.get(reverse("integration-overview", args=[integration.pk])).text
    link = f"{URL}?integration={integration.pk}"
    assert f'href="{link}">History of this integration</a>' in overview
    history = admin_client.get(link)
    assert "History of CRM" in history.text
    assert any("Integration “CRM” created" in r for r in table_rows(history.text))
