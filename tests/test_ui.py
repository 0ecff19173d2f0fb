"""The admin UI: sign-in gate, main screen, adding integrations, the overview, API keys.

Every test runs in the two-tenant world of conftest: `admin_client` (Acme, NL) must never see or
change anything of Globex (BE), and the other way round.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from configurator.frame import NO_PRIVILEGE_MESSAGE
from integrations.models import Integration, PhoneCacheEntry, Script, SyncState
from integrations.services import integration_create, script_create
from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create
from tests.conftest import PASSWORD

CLOSED_PORT_URL = "http://127.0.0.1:9/x/"


def carddav(tenant: Tenant, name: str = "Address book", **settings: str) -> Integration:
    """A CardDAV integration created without reaching a server (no connection test, no sync)."""
    values = {"url": "https://dav.example.com/addressbooks/alice/contacts/", "username": "alice", **settings}
    return integration_create(
        tenant=tenant, preset_slug="carddav", name=name, settings_values=values, start_sync=False
    )


def web_search(tenant: Tenant, name: str = "Web search") -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name=name,
        settings_values={"search_url": "https://www.google.nl?q="},
    )


# Signing in ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/", "/integrations/add/", "/integrations/1/", "/integrations/1/status/", "/scripts/add/", "/api-keys/"],
)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.django_db
def test_an_anonymous_htmx_poll_is_told_to_redirect_instead_of_swapping_the_sign_in_page(
    client: Client,
) -> None:
    response = client.get("/integrations/1/status/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


@pytest.mark.django_db
def test_the_sign_in_page_asks_for_user_name_and_password(client: Client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


def test_an_admin_signs_in_and_lands_on_the_main_screen(tenant: Tenant, client: Client) -> None:
    response = client.post(reverse("login"), {"username": "admin", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "To get started, click 'Add New Integration' or 'Add New Script' on the left." in response.text


def test_a_wrong_password_is_refused_on_the_sign_in_page(tenant: Tenant, client: Client) -> None:
    response = client.post(reverse("login"), {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.text


def test_a_member_without_the_privilege_signs_in_and_is_refused_with_the_manuals_message(
    tenant: Tenant, client: Client
) -> None:
    response = client.post(reverse("login"), {"username": "member", "password": PASSWORD}, follow=True)
    assert response.status_code == 403
    assert str(NO_PRIVILEGE_MESSAGE) in response.text
    assert "Please inquire with your telephony provider." in response.text
    assert f'action="{reverse("logout")}"' in response.text
    assert "Acme" not in response.text


def test_a_member_is_refused_on_every_screen_and_changes_nothing(tenant: Tenant, client: Client) -> None:
    integration = web_search(tenant)
    client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(reverse("integration-overview", args=[integration.pk])).status_code == 403
    assert client.post(reverse("integration-disable", args=[integration.pk])).status_code == 403
    assert client.post(reverse("api-keys"), {"name": "Sneaky"}).status_code == 403
    integration.refresh_from_db()
    assert integration.enabled
    assert not TenantAPIKey.objects.exists()


@pytest.mark.django_db
def test_a_user_without_any_tenant_is_refused(client: Client) -> None:
    get_user_model().objects.create_user(username="loner", password=PASSWORD)
    client.login(request=HttpRequest(), username="loner", password=PASSWORD)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert str(NO_PRIVILEGE_MESSAGE) in response.text


def test_signing_out_ends_the_session(admin_client: Client) -> None:
    response = admin_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert admin_client.get(reverse("home")).status_code == 302


# Main screen --------------------------------------------------------------------------------


def test_an_admin_sees_their_name_organization_and_integrations_in_the_sidebar(
    tenant: Tenant, admin_client: Client
) -> None:
    user = get_user_model().objects.get(username="admin")
    user.first_name, user.last_name = "Ada", "Admin"
    user.save()
    book = carddav(tenant)
    Integration.objects.filter(pk=book.pk).update(
        cached_numbers=42, last_error="The CardDAV server is unreachable"
    )
    search = web_search(tenant)
    disabled = web_search(tenant, name="Disabled search")
    Integration.objects.filter(pk=disabled.pk).update(enabled=False)

    response = admin_client.get(reverse("home"))

    assert response.status_code == 200
    assert "Ada Admin" in response.text
    assert "Acme" in response.text
    for integration in (book, search):
        assert reverse("integration-overview", args=[integration.pk]) in response.text
        assert integration.name in response.text
    assert "42 numbers" in response.text
    assert ">error</span>" in response.text
    assert ">disabled</span>" in response.text
    assert "Add New Integration" in response.text
    assert "Add New Script" in response.text
    assert reverse("api-keys") in response.text


def test_the_main_screen_lists_the_tenant_wide_scripts_but_not_the_other_tenants(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client
) -> None:
    script_create(
        tenant=tenant, integration=None, name="Google it", template="https://www.google.nl?q=#(Caller number)"
    )
    script_create(tenant=other_tenant, integration=None, name="Globex search", template="https://example.com")
    web_search(other_tenant, name="Globex web search")

    response = admin_client.get(reverse("home"))

    assert "Google it" in response.text
    assert "Globex search" not in response.text
    assert "Globex web search" not in response.text


# Adding an integration ----------------------------------------------------------------------


def test_the_preset_list_shows_every_preset_with_what_it_can_do(admin_client: Client) -> None:
    response = admin_client.get(reverse("integration-presets"))
    assert response.status_code == 200
    for slug in ("carddav", "efecte_esm", "oracle_crmod", "web_search"):
        assert reverse("integration-add", args=[slug]) in response.text
    assert "phone data" in response.text
    assert "screen pop only" in response.text
    assert 'id="preset-search"' in response.text


def test_the_preset_search_filters_on_the_server_by_name_description_and_keywords(
    admin_client: Client,
) -> None:
    by_keyword = admin_client.get(reverse("integration-presets"), {"q": "nextcloud"})
    assert reverse("integration-add", args=["carddav"]) in by_keyword.text
    assert reverse("integration-add", args=["web_search"]) not in by_keyword.text

    by_name = admin_client.get(reverse("integration-presets"), {"q": "WEB search"})
    assert reverse("integration-add", args=["web_search"]) in by_name.text
    assert reverse("integration-add", args=["carddav"]) not in by_name.text

    nothing = admin_client.get(reverse("integration-presets"), {"q": "no such crm"})
    assert "No preset matches" in nothing.text
    assert reverse("integration-add", args=["carddav"]) not in nothing.text


def test_an_unknown_preset_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(reverse("integration-add", args=["no_such_crm"])).status_code == 404


def test_the_add_form_is_built_from_the_presets_settings(admin_client: Client) -> None:
    response = admin_client.get(reverse("integration-add", args=["carddav"]))
    assert response.status_code == 200
    assert 'type="url" name="settings-url"' in response.text
    assert 'type="password" name="settings-password"' in response.text
    assert re.search(r'<input[^>]*value="Company"[^>]*checked', response.text)
    assert re.search(r'<input[^>]*value="Email"[^>]*checked', response.text)
    assert not re.search(r'<input[^>]*value="Title"[^>]*checked', response.text)
    assert 'value="CardDAV address book"' in response.text
    assert 'value="test"' in response.text
    assert 'value="create"' in response.text


def test_the_add_form_of_a_pop_only_preset_has_choices_and_no_notification_fields(
    admin_client: Client,
) -> None:
    response = admin_client.get(reverse("integration-add", args=["web_search"]))
    assert '<select name="settings-search_url"' in response.text
    assert "notification_fields" not in response.text
    assert "Search the web" in response.text


def test_adding_a_web_search_integration_lands_on_its_overview_with_the_script_preconfigured(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("integration-add", args=["web_search"]),
        {"name": "Google", "settings-search_url": "https://www.google.nl?q=", "action": "create"},
        follow=True,
    )

    integration = Integration.objects.get(tenant=tenant)
    assert response.redirect_chain[-1][0] == reverse("integration-overview", args=[integration.pk])
    assert integration.name == "Google"
    assert integration.preset == "web_search"
    assert "Integration created" in response.text
    script = Script.objects.get(integration=integration)
    assert script.template == "https://www.google.nl?q=#(Caller number)"
    assert "Search the web" in response.text
    assert "https://www.google.nl?q=#(Caller number)" in response.text
    assert "Sync now" not in response.text


def test_the_default_name_avoids_one_the_tenant_already_uses(tenant: Tenant, admin_client: Client) -> None:
    web_search(tenant)
    response = admin_client.get(reverse("integration-add", args=["web_search"]))
    assert 'value="Web search 2"' in response.text


def test_a_duplicate_integration_name_is_shown_on_the_name_field(
    tenant: Tenant, admin_client: Client
) -> None:
    web_search(tenant, name="Google")
    response = admin_client.post(
        reverse("integration-add", args=["web_search"]),
        {"name": "Google", "settings-search_url": "https://www.google.nl?q=", "action": "create"},
    )
    assert response.status_code == 200
    assert "An integration named &quot;Google&quot; already exists." in response.text
    assert Integration.objects.filter(tenant=tenant).count() == 1


def test_a_missing_address_book_url_is_shown_on_its_field_and_nothing_is_created(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("integration-add", args=["carddav"]),
        {"name": "Contacts", "settings-url": "", "settings-username": "alice", "action": "create"},
    )
    assert response.status_code == 200
    assert "Address book URL: this field is required." in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="alice"' in response.text
    assert not Integration.objects.filter(tenant=tenant).exists()


def test_a_url_that_is_not_http_is_shown_on_its_field(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("integration-add", args=["carddav"]),
        {"name": "Contacts", "settings-url": "ftp://dav.example.com/", "action": "test"},
    )
    assert "Address book URL: enter a full http:// or https:// address." in response.text


@pytest.mark.usefixtures("allow_private_addresses")  # its CRM is on 127.0.0.1
def test_test_connection_shows_why_an_unreachable_carddav_server_failed_and_keeps_the_values_but_not_secrets(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("integration-add", args=["carddav"]),
        {
            "name": "Contacts",
            "settings-url": CLOSED_PORT_URL,
            "settings-username": "alice",
            "settings-password": "s3cret-app-password",
            "notification_fields": ["Email"],
            "action": "test",
        },
    )
    assert response.status_code == 200
    assert "The CardDAV server is unreachable" in response.text
    assert "alert-danger" in response.text
    assert f'value="{CLOSED_PORT_URL}"' in response.text
    assert 'value="alice"' in response.text
    assert "s3cret-app-password" not in response.text
    assert not Integration.objects.filter(tenant=tenant).exists()


@pytest.mark.usefixtures("allow_private_addresses")  # its CRM is on 127.0.0.1
def test_creating_a_carddav_integration_is_refused_when_the_connection_test_fails(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("integration-add", args=["carddav"]),
        {"name": "Contacts", "settings-url": CLOSED_PORT_URL, "action": "create"},
    )
    assert response.status_code == 200
    assert "Not created: The CardDAV server is unreachable" in response.text
    assert not Integration.objects.filter(tenant=tenant).exists()


# Integration overview -----------------------------------------------------------------------


def test_the_overview_shows_settings_but_never_a_secret(tenant: Tenant, admin_client: Client) -> None:
    integration = carddav(tenant, password="s3cret-app-password")
    response = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert response.status_code == 200
    assert "https://dav.example.com/addressbooks/alice/contacts/" in response.text
    assert "alice" in response.text
    assert "••••••" in response.text
    assert "s3cret-app-password" not in response.text
    assert "Company, E-mail" in response.text
    assert "Open contact" in response.text
    assert "Sync now" in response.text


def test_the_overview_shows_the_sync_status_in_the_tenants_time_zone(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = carddav(tenant)
    last_sync = dt.datetime(2026, 1, 15, 1, 30, tzinfo=dt.UTC)
    Integration.objects.filter(pk=integration.pk).update(
        cached_numbers=1234,
        last_sync_at=last_sync,
        next_sync_at=last_sync + dt.timedelta(days=1),
        last_sync_skipped=3,
        last_error="The CardDAV server refused the credentials (HTTP 401).",
        last_error_at=last_sync,
    )
    response = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert "1234" in response.text
    assert "2026-01-15 02:30 CET" in response.text  # Europe/Amsterdam
    assert "2026-01-16 02:30 CET" in response.text
    assert "The CardDAV server refused the credentials (HTTP 401)." in response.text
    assert "Skipped (last sync)" in response.text
    assert "records and numbers the sync could not read were left out" in response.text


def test_the_status_block_polls_every_two_seconds_only_while_a_sync_runs(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = carddav(tenant)
    status_url = reverse("integration-status", args=[integration.pk])

    idle = admin_client.get(status_url)
    assert idle.status_code == 200
    assert 'id="integration-status"' in idle.text
    assert "hx-trigger" not in idle.text

    Integration.objects.filter(pk=integration.pk).update(sync_state=SyncState.RUNNING, sync_progress=250)
    running = admin_client.get(status_url)
    assert f'hx-get="{status_url}"' in running.text
    assert 'hx-trigger="every 2s"' in running.text
    assert "250 records read" in running.text
    assert "<html" not in running.text

    overview = admin_client.get(reverse("integration-overview", args=[integration.pk]))
    assert 'hx-trigger="every 2s"' in overview.text


def test_sync_now_queues_a_sync_once(tenant: Tenant, admin_client: Client) -> None:
    integration = carddav(tenant)
    url = reverse("integration-sync", args=[integration.pk])

    first = admin_client.post(url, follow=True)
    integration.refresh_from_db()
    assert integration.sync_state == SyncState.QUEUED
    assert "Sync started" in first.text

    second = admin_client.post(url, follow=True)
    assert "already queued or running" in second.text


def test_sync_now_is_not_offered_for_a_preset_without_phone_data(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = web_search(tenant)
    response = admin_client.post(reverse("integration-sync", args=[integration.pk]), follow=True)
    assert "no phone data to sync" in response.text
    integration.refresh_from_db()
    assert integration.sync_state == SyncState.IDLE


def test_disable_and_enable_toggle_the_integration(tenant: Tenant, admin_client: Client) -> None:
    integration = web_search(tenant)

    response = admin_client.post(reverse("integration-disable", args=[integration.pk]), follow=True)
    integration.refresh_from_db()
    assert not integration.enabled
    assert "is disabled" in response.text
    assert reverse("integration-enable", args=[integration.pk]) in response.text

    response = admin_client.post(reverse("integration-enable", args=[integration.pk]), follow=True)
    integration.refresh_from_db()
    assert integration.enabled
    assert reverse("integration-disable", args=[integration.pk]) in response.text


def test_deleting_asks_for_the_name_and_says_it_cannot_be_undone(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = web_search(tenant, name="Google")
    url = reverse("integration-delete", args=[integration.pk])

    page = admin_client.get(url)
    assert "cannot be undone" in page.text
    assert "settings" in page.text
    assert "cached phone numbers" in page.text

    wrong = admin_client.post(url, {"confirm_name": "google"})
    assert wrong.status_code == 200
    assert "That is not the name" in wrong.text
    assert Integration.objects.filter(pk=integration.pk).exists()


def test_deleting_with_the_typed_name_removes_the_integration_its_scripts_and_cache(
    tenant: Tenant, admin_client: Client
) -> None:
    integration = carddav(tenant, name="Contacts")
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration=integration,
        generation=0,
        e164="+31201234567",
        number_as_written="020 1234567",
        record_id="1",
        record_type="contact",
        display_name="Jan Jansen",
    )

    response = admin_client.post(
        reverse("integration-delete", args=[integration.pk]), {"confirm_name": "Contacts"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Contacts is deleted" in response.text
    assert not Integration.objects.filter(pk=integration.pk).exists()
    assert not Script.objects.filter(tenant=tenant).exists()
    assert not PhoneCacheEntry.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("name", ["integration-sync", "integration-enable", "integration-disable"])
def test_state_changes_refuse_a_get(tenant: Tenant, admin_client: Client, name: str) -> None:
    integration = web_search(tenant)
    assert admin_client.get(reverse(name, args=[integration.pk])).status_code == 405


def test_posts_without_a_csrf_token_are_refused(tenant: Tenant) -> None:
    integration = web_search(tenant)
    client = Client(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username="admin", password=PASSWORD)
    assert client.post(reverse("integration-disable", args=[integration.pk])).status_code == 403
    integration.refresh_from_db()
    assert integration.enabled


# Tenant isolation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "integration-overview", {}),
        ("get", "integration-status", {}),
        ("post", "integration-sync", {}),
        ("post", "integration-disable", {}),
        ("post", "integration-enable", {}),
        ("get", "integration-delete", {}),
        ("post", "integration-delete", {"confirm_name": "Globex book"}),
        ("get", "integration-script-add", {}),
        (
            "post",
            "integration-script-add",
            {"name": "x", "template": "https://example.com", "applies": "always"},
        ),
        ("post", "integration-script-preview", {"template": "$(PopUpUri)", "applies": "on_match"}),
    ],
)
def test_another_tenants_integration_is_not_found_and_not_changed(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client, method: str, name: str, data: dict[str, str]
) -> None:
    theirs = carddav(other_tenant, name="Globex book")
    Integration.objects.filter(pk=theirs.pk).update(enabled=False)

    response = getattr(admin_client, method)(reverse(name, args=[theirs.pk]), data)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.enabled
    assert theirs.sync_state == SyncState.IDLE
    assert Script.objects.filter(integration=theirs).count() == 1
    assert not Script.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "script-edit", {}),
        (
            "post",
            "script-edit",
            {"name": "Hijacked", "template": "https://evil.example", "applies": "always"},
        ),
        ("post", "script-delete", {}),
    ],
)
def test_another_tenants_script_is_not_found_and_not_changed(
    other_tenant: Tenant, admin_client: Client, method: str, name: str, data: dict[str, str]
) -> None:
    theirs = script_create(
        tenant=other_tenant,
        integration=None,
        name="Globex search",
        template="https://www.google.be?q=#(Caller number)",
    )

    response = getattr(admin_client, method)(reverse(name, args=[theirs.pk]), data)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Globex search"


def test_another_tenants_api_key_cannot_be_revoked(other_tenant: Tenant, admin_client: Client) -> None:
    theirs, _ = api_key_create(tenant=other_tenant, name="Globex PBX")
    response = admin_client.post(reverse("api-key-revoke", args=[theirs.prefix]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.revoked


def test_the_other_admin_sees_only_their_own_tenant(tenant: Tenant, other_admin_client: Client) -> None:
    web_search(tenant, name="Acme search")
    response = other_admin_client.get(reverse("home"))
    assert "Globex" in response.text
    assert "Acme search" not in response.text


# API keys -----------------------------------------------------------------------------------


def form_token(client: Client) -> str:
    """The once-only token of the "Create a key" form, as the page issues it."""
    found = re.search(r'name="form_token" value="([^"]+)"', client.get(reverse("api-keys")).text)
    assert found is not None
    return found.group(1)


def test_creating_an_api_key_shows_it_once_with_a_curl_example(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(
        reverse("api-keys"), {"name": "Main office PBX", "form_token": form_token(admin_client)}
    )

    assert response.status_code == 200
    api_key = TenantAPIKey.objects.get(tenant=tenant)
    key = response.context["key"]
    assert key.startswith(api_key.prefix)
    assert TenantAPIKey.objects.get_from_key(key) == api_key
    assert key in response.text
    assert (
        f'curl -H "Authorization: Api-Key {key}" "http://testserver/api/v1/match?caller_number=0201234567"'
    ) in response.content.decode().replace("&quot;", '"')

    listing = admin_client.get(reverse("api-keys"))
    assert "Main office PBX" in listing.text
    assert api_key.prefix in listing.text
    assert key not in listing.text


def test_reloading_the_created_page_does_not_create_a_second_key(
    tenant: Tenant, admin_client: Client
) -> None:
    data = {"name": "Main office PBX", "form_token": form_token(admin_client)}
    first = admin_client.post(reverse("api-keys"), data)
    key = first.context["key"]

    reload = admin_client.post(reverse("api-keys"), data, follow=True)

    assert TenantAPIKey.objects.filter(tenant=tenant).count() == 1
    assert "That form was already used" in reload.text
    assert key not in reload.text
    forged = admin_client.post(reverse("api-keys"), {"name": "No token"}, follow=True)
    assert "That form was already used" in forged.text
    assert TenantAPIKey.objects.filter(tenant=tenant).count() == 1


def test_an_api_key_needs_a_name(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(reverse("api-keys"), {"name": "", "form_token": form_token(admin_client)})
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not TenantAPIKey.objects.exists()


def test_revoking_an_api_key_marks_it_revoked(tenant: Tenant, admin_client: Client) -> None:
    api_key, _ = api_key_create(tenant=tenant, name="Old PBX")
    page = admin_client.get(reverse("api-keys"))
    # The list links to a page that asks first (tests/test_ui_api_keys.py); that page posts here.
    assert reverse("api-key-revoke-confirm", args=[api_key.prefix]) in page.text

    response = admin_client.post(reverse("api-key-revoke", args=[api_key.prefix]), follow=True)

    api_key.refresh_from_db()
    assert api_key.revoked
    assert "is revoked" in response.text
    assert ">revoked</span>" in response.text
    assert reverse("api-key-revoke", args=[api_key.prefix]) not in response.text


def test_revoking_refuses_a_get(tenant: Tenant, admin_client: Client) -> None:
    api_key, _ = api_key_create(tenant=tenant, name="PBX")
    assert admin_client.get(reverse("api-key-revoke", args=[api_key.prefix])).status_code == 405


# Assets -------------------------------------------------------------------------------------


def test_every_page_asset_is_served_locally(admin_client: Client) -> None:
    response = admin_client.get(reverse("home"))
    for asset in (
        "vendor/bootstrap/css/bootstrap.min.css",
        "vendor/bootstrap/js/bootstrap.bundle.min.js",
        "vendor/htmx/htmx.min.js",
        "app/ui.js",
        "app/app.css",
    ):
        assert f"/static/{asset}" in response.text
        assert finders.find(asset), asset
        assert admin_client.get(f"/static/{asset}").status_code == 200
    assert "cdn" not in response.text.lower()
