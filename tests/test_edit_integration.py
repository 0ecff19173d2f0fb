"""Editing an integration: name, settings, credentials (write-only), notification fields and their
order, with a connection test, keeping the phone cache unless the change makes it wrong.

The CRM is `tests.carddav_double` behind `httpx.MockTransport`: one double per host, so that
"another address book" is another server with other cards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import httpx
import pytest
import time_machine
from auditlog.models import LogEntry
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from integrations.matching import call_from_params, match_call
from integrations.models import (
    Integration,
    LookupMode,
    PhoneCacheEntry,
    Script,
    SyncRun,
    SyncRunStatus,
    SyncState,
)
from integrations.oauth import TOKEN_SECRET
from integrations.outbound import PRIVATE_ADDRESS_MESSAGE
from integrations.services import (
    integration_create,
    integration_set_enabled,
    integration_set_lookup_mode,
    integration_update,
    script_create,
)
from integrations.sync import SETTINGS_CHANGED_MESSAGE, phone_cache_sync
from tenants.models import Tenant
from tests.carddav_double import PATH, CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.live_lookup_server import SearchApi, search_api_server

OTHER_BOOK_URL = f"https://dav2.example.com{PATH}"
NEW_PASSWORD = "n3w-Pa55word-after-rotation"


def _book_a() -> CardDavDouble:
    return CardDavDouble(
        {
            "jan.vcf": vcard("jan", "Jan Jansen", "work:+31 20 123 4567", org="Acme BV", email="jan@acme.nl"),
            "piet.vcf": vcard("piet", "Piet Pieters", "cell:06-12345678"),
        }
    )


def _book_b() -> CardDavDouble:
    return CardDavDouble({"kees.vcf": vcard("kees", "Kees de Vries", "work:+31 30 765 4321")})


class Crm:
    """The doubles by host name, as one transport; `install` routes the app's HTTP clients to it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **by_host: CardDavDouble) -> None:
        self.by_host = by_host
        factory: Callable[..., httpx.Client] = lambda **kwargs: httpx.Client(  # noqa: E731
            transport=httpx.MockTransport(self.handle)
        )
        monkeypatch.setattr("integrations.sync.connector_client", factory)
        monkeypatch.setattr("integrations.services.connector_client", factory)

    def handle(self, request: httpx.Request) -> httpx.Response:
        double = self.by_host.get(request.url.host)
        return httpx.Response(404) if double is None else double.handle(request)


def _synced(tenant: Tenant, crm: Crm) -> Integration:
    double = crm.by_host["dav.example.com"]
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=httpx.MockTransport(crm.handle)),
    )
    assert result.status == "ok"
    integration.refresh_from_db()
    return integration


def _matches(tenant: Tenant, number: str) -> list[str]:
    answer = match_call(tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number}))
    return [m["notification"]["title"] for m in answer["matches"]]


def _form(integration: Integration, **changes: str | list[str]) -> dict[str, str | list[str]]:
    """The edit form as the page posts it, unchanged except for `changes` (password left empty)."""
    data: dict[str, str | list[str]] = {
        "name": integration.name,
        "settings-url": integration.settings.get("url", ""),
        "settings-username": integration.settings.get("username", ""),
        "settings-password": "",
        "field_order": ["Company", "Email", "DisplayName", "Identifier", "PopUpUri", "Title"],
        "notification_fields": list(integration.notification_fields),
        "action": "save",
    }
    data.update(changes)
    return data


def _edit_url(integration: Integration) -> str:
    return reverse("integration-edit", args=[integration.pk])


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Crm:
    return Crm(monkeypatch, **{"dav.example.com": _book_a(), "dav2.example.com": _book_b()})


# The page --------------------------------------------------------------------------------------


def test_the_overview_links_to_the_edit_page_which_shows_the_values_but_never_the_password(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    overview = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert _edit_url(integration) in overview.text

    page = admin_client.get(_edit_url(integration))
    assert page.status_code == 200
    assert 'value="https://dav.example.com/addressbooks/alice/contacts/"' in page.text
    assert 'value="alice"' in page.text
    assert "secret" not in re.sub(r"<[^>]*autocomplete[^>]*>", "", page.text).replace("secrets", "")
    password_input = re.search(r'<input[^>]*name="settings-password"[^>]*>', page.text)
    assert password_input is not None
    assert "value=" not in password_input.group(0)
    assert "Leave empty to keep the current value" in page.text
    # The stored order: Company, Email first and ticked; then the preset's other fields.
    order = re.findall(r'name="field_order" value="([^"]+)"', page.text)
    assert order[:2] == ["Company", "Email"]
    assert sorted(order) == sorted(["Company", "Email", "DisplayName", "Identifier", "PopUpUri", "Title"])


# Each kind of value ----------------------------------------------------------------------------


def test_a_new_name_changes_nothing_in_the_cache_and_queues_no_sync(
    tenant: Tenant, admin_client: Client, crm: Crm, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    rows_before = set(PhoneCacheEntry.objects.values_list("pk", flat=True))
    runs_before = SyncRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(_edit_url(integration), _form(integration, name="Office book"))

    assert response.status_code == 302
    assert response["Location"] == reverse("integration-overview", args=[integration.pk])
    integration.refresh_from_db()
    assert integration.name == "Office book"
    assert not callbacks
    assert SyncRun.objects.count() == runs_before
    assert set(PhoneCacheEntry.objects.values_list("pk", flat=True)) == rows_before
    assert integration.secrets == {"password": "secret"}  # left empty: kept
    page = admin_client.get(response["Location"])
    assert "Saved. The cached numbers are kept." in page.text


def test_notification_fields_are_moved_with_the_buttons_and_saved_in_that_order_without_a_resync(
    tenant: Tenant, admin_client: Client, crm: Crm, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    data = _form(integration, notification_fields=["Company", "Email", "Title"])
    data.pop("action")
    moved = admin_client.post(_edit_url(integration), {**data, "move": "up:Email", "name": "Typed name"})
    assert moved.status_code == 200
    order = re.findall(r'name="field_order" value="([^"]+)"', moved.text)
    assert order[:2] == ["Email", "Company"]
    assert 'value="Typed name"' in moved.text  # what was typed survives the move
    assert re.search(r'value="Title" id="nf-Title" checked', moved.text)
    integration.refresh_from_db()
    assert integration.notification_fields == ["Company", "Email"]  # a move saves nothing

    rows_before = PhoneCacheEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        saved = admin_client.post(
            _edit_url(integration),
            {
                **data,
                "field_order": order,
                "notification_fields": ["Title", "Company", "Email"],
                "action": "save",
            },
        )
    assert saved.status_code == 302
    integration.refresh_from_db()
    assert integration.notification_fields == [
        "Email",
        "Company",
        "Title",
    ]  # the list's order, not the ticks'
    assert not callbacks
    assert PhoneCacheEntry.objects.count() == rows_before
    # Read at match time: the next call shows the new order at once.
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0201234567"})
    )
    fields = answer["matches"][0]["notification"]["fields"]
    assert [f["name"] for f in fields] == ["Email", "Company"]  # Jan has no job title


def test_a_new_password_replaces_the_secret_keeps_the_cache_and_starts_a_sync(
    tenant: Tenant, admin_client: Client, crm: Crm, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    crm.by_host["dav.example.com"].password = NEW_PASSWORD
    generation = integration.cache_generation

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            _edit_url(integration), _form(integration, **{"settings-password": NEW_PASSWORD})
        )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.secrets == {"password": NEW_PASSWORD}
    assert integration.cache_generation == generation + 1
    assert integration.last_error == ""
    assert _matches(tenant, "0201234567") == ["Jan Jansen"]


def test_another_address_book_replaces_the_cache_all_or_nothing(
    tenant: Tenant, admin_client: Client, crm: Crm, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    new_book = crm.by_host["dav2.example.com"]
    new_book.fail_from_report = 1  # the first sync of the new book fails

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            _edit_url(integration), _form(integration, **{"settings-url": OTHER_BOOK_URL})
        )
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.settings["url"] == OTHER_BOOK_URL
    assert "500" in integration.last_error
    assert _matches(tenant, "0201234567") == ["Jan Jansen"]  # nothing of the new book yet: old kept
    assert _matches(tenant, "0307654321") == []
    assert integration.last_full_sync_at is None  # no incremental sync from the old book's time

    new_book.fail_from_report = None
    result = phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=httpx.MockTransport(crm.handle)),
    )
    assert result.status == "ok"
    assert _matches(tenant, "0307654321") == ["Kees de Vries"]
    assert _matches(tenant, "0201234567") == []
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 1


def test_a_screen_pop_only_integration_is_edited_without_notification_fields(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = integration_create(
        tenant=tenant, preset_slug="web_search", name="Web search", settings_values={}
    )
    page = admin_client.get(_edit_url(integration))
    assert page.status_code == 200
    assert "field_order" not in page.text
    response = admin_client.post(_edit_url(integration), {"name": "Google it", "action": "save"})
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Google it"


def test_a_sync_running_with_the_old_password_is_stopped_and_a_new_one_queued(
    tenant: Tenant, crm: Crm, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    Integration.objects.filter(pk=integration.pk).update(
        sync_state=SyncState.RUNNING, sync_run_token="old-run"
    )
    SyncRun.objects.create(
        tenant=tenant,
        integration=integration,
        started_at=integration.created_at,
        run_token="old-run",
        generation=9,
    )
    queued: list[int] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        result = integration_update(
            tenant=tenant,
            integration=integration,
            name=integration.name,
            settings_values={**integration.settings, "password": NEW_PASSWORD},
        )

    assert result.sync_queued
    assert queued == [integration.pk]
    old_run = SyncRun.objects.get(run_token="old-run")
    assert (old_run.status, old_run.error) == (SyncRunStatus.FAILED, SETTINGS_CHANGED_MESSAGE)
    integration.refresh_from_db()
    assert integration.sync_state == SyncState.QUEUED
    assert integration.sync_run_token == ""


# Test connection -------------------------------------------------------------------------------


def test_test_connection_uses_the_stored_password_when_the_field_is_left_empty(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    response = admin_client.post(_edit_url(integration), _form(integration, action="test"))
    assert response.status_code == 200
    assert "Connection OK" in response.text


def test_a_typed_wrong_password_fails_the_test_comes_back_in_the_field_and_is_not_saved(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    response = admin_client.post(
        _edit_url(integration), _form(integration, action="test", **{"settings-password": "typo"})
    )
    assert response.status_code == 200
    assert re.search(r'id="connection-result"[^>]*>\s*[^<]*401', response.text)
    assert re.search(r'<input[^>]*name="settings-password"[^>]*value="typo"', response.text)
    integration.refresh_from_db()
    assert integration.secrets == {"password": "secret"}


# Refusals and odd input ------------------------------------------------------------------------


def test_a_private_address_is_refused_with_the_one_message_and_nothing_changes(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    for url in ("http://10.0.0.1/dav/", "http://127.0.0.1:5232/alice/", "http://2130706433/x/"):
        for action in ("save", "test"):
            response = admin_client.post(
                _edit_url(integration), _form(integration, action=action, **{"settings-url": url})
            )
            assert response.status_code == 200
            assert response.text.count(PRIVATE_ADDRESS_MESSAGE) == 1, (url, action)
    integration.refresh_from_db()
    assert integration.settings["url"] == crm.by_host["dav.example.com"].settings()["url"]


def test_another_tenants_integration_is_404_and_unchanged(
    tenant: Tenant, other_tenant: Tenant, other_admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    assert other_admin_client.get(_edit_url(integration)).status_code == 404
    response = other_admin_client.post(_edit_url(integration), _form(integration, name="Stolen"))
    assert response.status_code == 404
    integration.refresh_from_db()
    assert integration.name == "Address book"
    with pytest.raises(Integration.DoesNotExist):
        integration_update(tenant=other_tenant, integration=integration, name="Stolen", settings_values={})


def test_a_member_without_the_privilege_is_refused(tenant: Tenant, client: Client, crm: Crm) -> None:
    integration = _synced(tenant, crm)
    client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(_edit_url(integration)).status_code == 403
    assert client.post(_edit_url(integration), _form(integration, name="Sneaky")).status_code == 403
    integration.refresh_from_db()
    assert integration.name == "Address book"


def test_a_name_another_integration_has_is_refused_on_the_field(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    integration_create(tenant=tenant, preset_slug="web_search", name="Web search", settings_values={})
    response = admin_client.post(_edit_url(integration), _form(integration, name="Web search"))
    assert response.status_code == 200
    assert "An integration named &quot;Web search&quot; already exists." in response.text


@pytest.mark.parametrize(
    "changes",
    [
        {"move": "sideways:Email"},
        {"move": "up:NoSuchField"},
        {"move": ""},
        {"action": "explode"},
        {"field_order": ["x"] * 50, "notification_fields": ["<script>", "Email", "Email"]},
        {"name": "x" * 5000},
        {"name": "nul\x00byte"},
        {"settings-url": "not a url"},
        {"settings-url": "https://[::1"},
        {"settings-url": "http://" + "a" * 300 + ".example/"},
        {"settings-nosuch": "value"},
    ],
)
def test_odd_input_never_gives_a_500(
    tenant: Tenant, admin_client: Client, crm: Crm, changes: dict[str, str]
) -> None:
    integration = _synced(tenant, crm)
    response = admin_client.post(_edit_url(integration), _form(integration, **changes))
    assert response.status_code in {200, 302}


def test_bytes_that_are_not_utf8_never_give_a_500(tenant: Tenant, admin_client: Client, crm: Crm) -> None:
    integration = _synced(tenant, crm)
    body = b"name=%ED%A0%80&settings-url=%FF%FE&settings-username=%C3&action=save"
    response = admin_client.post(
        _edit_url(integration), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in {200, 302, 400}


def test_odd_ids_are_404(admin_client: Client) -> None:
    assert admin_client.get("/integrations/999999/edit/").status_code == 404


# The 401 story ---------------------------------------------------------------------------------


def test_a_401_after_a_password_change_is_fixed_by_editing_the_password_and_the_cache_is_never_emptied(
    tenant: Tenant, admin_client: Client, crm: Crm, django_capture_on_commit_callbacks
) -> None:
    integration = _synced(tenant, crm)
    book = crm.by_host["dav.example.com"]
    book.password = NEW_PASSWORD  # the password was changed in the CRM

    failed = phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=httpx.MockTransport(crm.handle)),
    )
    assert failed.status == "failed"
    integration.refresh_from_db()
    assert "401" in integration.last_error
    assert _matches(tenant, "0201234567") == ["Jan Jansen"]
    overview = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert "401" in overview.text

    seen_during_sync: list[list[str]] = []
    book.before_report = lambda n: seen_during_sync.append(_matches(tenant, "0201234567"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            _edit_url(integration), _form(integration, **{"settings-password": NEW_PASSWORD})
        )
    assert response.status_code == 302

    integration.refresh_from_db()
    assert integration.last_error == ""
    assert integration.sync_state == SyncState.IDLE
    assert SyncRun.objects.filter(integration=integration).first().status == SyncRunStatus.OK  # type: ignore[union-attr]
    assert seen_during_sync
    assert all(seen == ["Jan Jansen"] for seen in seen_during_sync)
    assert _matches(tenant, "0201234567") == ["Jan Jansen"]
    assert _matches(tenant, "0612345678") == ["Piet Pieters"]
    page = admin_client.get(response["Location"])
    assert "a sync with the new credentials has started" in page.text


# The audit log ---------------------------------------------------------------------------------


def test_the_edit_is_audit_logged_with_the_secret_masked(
    tenant: Tenant, admin_client: Client, crm: Crm
) -> None:
    integration = _synced(tenant, crm)
    admin_client.post(
        _edit_url(integration),
        _form(
            integration, name="Office book", **{"settings-username": "bob", "settings-password": NEW_PASSWORD}
        ),
    )
    entry = LogEntry.objects.get_for_object(integration).order_by("-timestamp", "-pk").first()
    assert entry is not None
    assert entry.actor is not None
    assert entry.actor.username == "admin"
    assert entry.changes_dict["name"] == ["Address book", "Office book"]
    assert entry.changes_dict["secrets"] == ["(set)", "(set)"]
    everything = " ".join(str(e.changes) + str(e.additional_data) for e in LogEntry.objects.all())
    assert NEW_PASSWORD not in everything
    assert "secret" not in everything.replace("secrets", "")


# Pre-configured scripts, OAuth, held results, disabled integrations ------------------------------


def test_the_preconfigured_script_follows_a_new_setting_but_an_edited_script_is_left_alone(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = integration_create(
        tenant=tenant, preset_slug="web_search", name="Web search", settings_values={}
    )
    own = script_create(
        tenant=tenant, integration=integration, name="Mine", template="https://www.google.nl?q=#(Caller name)"
    )
    response = admin_client.post(
        _edit_url(integration),
        {"name": "Web search", "settings-search_url": "https://duckduckgo.com/?q=", "action": "save"},
    )
    assert response.status_code == 302
    templates = dict(Script.objects.filter(integration=integration).values_list("name", "template"))
    assert templates == {
        "Search the web": "https://duckduckgo.com/?q=#(Caller number)",
        "Mine": own.template,
    }


OAUTH_SETTINGS = {
    "base_url": "https://crm.example.com",
    "auth_kind": "oauth2_code",
    "oauth_authorize_url": "https://crm.example.com/authorize",
    "oauth_token_url": "https://crm.example.com/token",
    "oauth_client_id": "app-1",
    "oauth_client_secret": "client-secret-1",
    "oauth_scopes": "contacts.read",
    "list_path": "/api/contacts",
    "phone_paths": "phone",
}


def _oauth_integration(tenant: Tenant) -> Integration:
    integration = integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="OAuth CRM",
        settings_values=OAUTH_SETTINGS,
        start_sync=False,
    )
    integration.secrets = {**(integration.secrets or {}), TOKEN_SECRET: '{"access_token": "granted"}'}
    integration.save()
    return integration


def test_an_oauth_token_is_kept_by_an_edit_and_dropped_when_the_client_changes(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: None)
    integration = _oauth_integration(tenant)
    page = admin_client.get(_edit_url(integration))
    assert reverse("integration-oauth-connect", args=[integration.pk]) in page.text
    assert "Reconnect" in page.text
    assert "granted" not in page.text

    kept = {**OAUTH_SETTINGS, "oauth_client_secret": "", "phone_paths": "phone"}
    result = integration_update(tenant=tenant, integration=integration, name="Renamed", settings_values=kept)
    assert result.changed == ("name",)
    assert integration.secrets is not None
    assert TOKEN_SECRET in integration.secrets
    assert integration.secrets["oauth_client_secret"] == "client-secret-1"

    other_client = {**kept, "oauth_client_id": "app-2"}
    result = integration_update(
        tenant=tenant, integration=integration, name="Renamed", settings_values=other_client
    )
    assert set(result.changed) == {"settings", "secrets"}
    assert integration.secrets == {"oauth_client_secret": "client-secret-1"}


def test_a_held_result_of_the_old_address_book_is_dropped_with_the_change(
    tenant: Tenant, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = _synced(tenant, crm)
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: None)
    held = integration.cache_generation + 5
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration=integration,
        generation=held,
        e164="+31201111111",
        record_id="x",
        record_type="contact",
    )
    Integration.objects.filter(pk=integration.pk).update(
        held_generation=held, held_numbers=1, held_message="held"
    )
    integration_update(
        tenant=tenant,
        integration=integration,
        name=integration.name,
        settings_values={"url": OTHER_BOOK_URL, "username": "alice", "password": ""},
    )
    integration.refresh_from_db()
    assert integration.held_generation is None
    assert not PhoneCacheEntry.objects.filter(integration=integration, generation=held).exists()
    assert (
        PhoneCacheEntry.objects.filter(
            integration=integration, generation=integration.cache_generation
        ).count()
        == 2
    )


def test_a_disabled_integration_with_a_new_source_is_synced_when_the_dispatcher_may(
    tenant: Tenant, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = _synced(tenant, crm)
    integration_set_enabled(tenant=tenant, integration=integration, enabled=False)
    queued: list[int] = []
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", queued.append)
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        result = integration_update(
            tenant=tenant,
            integration=integration,
            name=integration.name,
            settings_values={"url": OTHER_BOOK_URL, "username": "alice", "password": ""},
        )
    assert result.source_changed
    assert not result.sync_queued
    assert queued == []
    integration.refresh_from_db()
    assert integration.next_sync_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 2  # kept until that sync


def test_live_answers_cached_with_the_old_settings_are_not_used_after_an_edit(
    allow_private_addresses: None, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.tasks.sync_integration.delay", lambda *args: None)
    jan = {"id": "c1", "name": "Jan Jansen", "phones": [{"number": "+31 20 123 4567"}]}
    kees = {"id": "k1", "name": "Kees de Vries", "phones": [{"number": "+31 20 123 4567"}]}
    values = {
        "auth_kind": "none",
        "list_path": "/contacts",
        "records_path": "results",
        "phone_paths": "phones[*].number",
        "lookup_path": "/search?phone={number}",
    }
    with (
        search_api_server(SearchApi(contacts=[jan])) as old_crm,
        search_api_server(SearchApi(contacts=[kees])) as new_crm,
    ):
        integration = integration_create(
            tenant=tenant,
            preset_slug="rest_json",
            name="Live CRM",
            settings_values={**values, "base_url": old_crm.base_url},
            start_sync=False,
        )
        integration_set_lookup_mode(tenant=tenant, integration=integration, mode=LookupMode.LIVE)
        assert _matches(tenant, "020 123 4567") == ["Jan Jansen"]
        assert _matches(tenant, "020 123 4567") == ["Jan Jansen"]
        assert old_crm.hits == 1  # the second answer came from the per-number cache

        integration_update(
            tenant=tenant,
            integration=integration,
            name=integration.name,
            settings_values={**values, "base_url": new_crm.base_url},
        )
        assert _matches(tenant, "020 123 4567") == ["Kees de Vries"]
        assert new_crm.hits == 1
