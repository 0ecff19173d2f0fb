"""The app frame (issue 8, item 5): the sidebar's status dots with their labels, the first-steps panel
of an empty tenant, the user and organization in the header, and the colour-mode script."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration, SyncState
from integrations.services import integration_create
from tenants.models import Tenant
from tenants.services import api_key_create, api_key_revoke
from tests.conftest import PASSWORD


def carddav(tenant: Tenant, name: str) -> Integration:
    """A CardDAV integration (phone data) created without reaching a server."""
    values = {"url": "https://dav.example.com/addressbooks/alice/contacts/", "username": "alice"}
    return integration_create(
        tenant=tenant, preset_slug="carddav", name=name, settings_values=values, start_sync=False
    )


def web_search(tenant: Tenant, name: str) -> Integration:
    """A screen pop integration (no phone data)."""
    return integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name=name,
        settings_values={"search_url": "https://www.google.nl?q="},
    )


def sidebar_rows(html: str) -> dict[str, tuple[str, str]]:
    """The sidebar's integrations: name -> (dot state, screen reader label)."""
    sidebar = html[html.index('id="sidebar-integrations"') : html.index("<main")]
    rows = re.findall(
        r'data-state="([a-z]+)"[^>]*></span>\s*<span class="fw-semibold text-truncate">([^<]+)</span>\s*'
        r'<span class="visually-hidden" data-testid="status-label">\(([^)]+)\)</span>',
        sidebar,
    )
    return {name: (state, label) for state, name, label in rows}


@pytest.mark.django_db
def test_each_state_gets_its_dot_and_a_label_for_screen_readers(tenant: Tenant, admin_client: Client) -> None:
    synced = carddav(tenant, "Synced book")
    Integration.objects.filter(pk=synced.pk).update(cached_numbers=3)
    queued = carddav(tenant, "Queued book")
    Integration.objects.filter(pk=queued.pk).update(sync_state=SyncState.QUEUED)
    errored = carddav(tenant, "Broken book")
    Integration.objects.filter(pk=errored.pk).update(last_error="The server is unreachable")
    held = carddav(tenant, "Held book")
    Integration.objects.filter(pk=held.pk).update(held_generation=7, held_message="Too few numbers")
    disabled = carddav(tenant, "Off book")
    # Disabled wins over everything else it may also be.
    Integration.objects.filter(pk=disabled.pk).update(enabled=False, last_error="old error")
    reconnect = carddav(tenant, "Reconnect book")
    Integration.objects.filter(pk=reconnect.pk).update(oauth_reconnect_required=True)
    web_search(tenant, "Screen pop")

    rows = sidebar_rows(admin_client.get(reverse("home")).content.decode())

    assert rows == {
        "Synced book": ("synced", "Synced"),
        "Queued book": ("syncing", "Syncing"),
        "Broken book": ("error", "Error"),
        "Held book": ("held", "Sync result held"),
        "Off book": ("disabled", "Disabled"),
        "Reconnect book": ("error", "Error"),
        "Screen pop": ("synced", "Synced"),
    }


@pytest.mark.django_db
def test_a_sync_that_went_silent_is_an_error_not_syncing(
    tenant: Tenant, admin_client: Client, settings
) -> None:
    integration = carddav(tenant, "Silent book")
    start = timezone.now()
    Integration.objects.filter(pk=integration.pk).update(
        sync_state=SyncState.RUNNING, sync_started_at=start, sync_heartbeat_at=start
    )
    assert sidebar_rows(admin_client.get(reverse("home")).content.decode())["Silent book"][0] == "syncing"
    later = start + dt.timedelta(minutes=settings.SYNC_HEARTBEAT_STALE_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        page = admin_client.get(reverse("home")).content.decode()
    assert sidebar_rows(page)["Silent book"] == ("error", "Error")


@pytest.mark.django_db
def test_the_sidebar_dots_are_on_every_framed_page(tenant: Tenant, admin_client: Client) -> None:
    integration = carddav(tenant, "Book")
    Integration.objects.filter(pk=integration.pk).update(held_generation=2)
    for url in (reverse("api-keys"), reverse("integration-overview", args=[integration.pk])):
        assert sidebar_rows(admin_client.get(url).content.decode()) == {"Book": ("held", "Sync result held")}


@pytest.mark.django_db
def test_other_tenants_integrations_are_never_listed(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client
) -> None:
    carddav(tenant, "Ours")
    theirs = carddav(other_tenant, "Theirs")
    page = admin_client.get(reverse("home")).content.decode()
    assert set(sidebar_rows(page)) == {"Ours"}
    assert "Theirs" not in page
    assert admin_client.get(reverse("integration-overview", args=[theirs.pk])).status_code == 404


@pytest.mark.django_db
def test_the_first_steps_panel_shows_only_while_the_tenant_has_no_integration(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client
) -> None:
    carddav(other_tenant, "Someone else's")  # another tenant's integration does not count
    page = admin_client.get(reverse("home")).content.decode()
    assert 'id="first-steps"' in page
    panel = page[page.index('id="first-steps"') : page.index("</section>", page.index('id="first-steps"'))]
    for url in (reverse("integration-wizard"), reverse("api-keys"), reverse("test-lookup")):
        assert f'href="{url}"' in panel
    assert "done" not in panel
    assert "No integrations yet." in page

    web_search(tenant, "First")
    page = admin_client.get(reverse("home")).content.decode()
    assert 'id="first-steps"' not in page
    assert "No integrations yet." not in page


@pytest.mark.django_db
def test_the_first_steps_panel_marks_an_api_key_done_and_a_revoked_one_not(
    tenant: Tenant, admin_client: Client
) -> None:
    api_key, _ = api_key_create(tenant=tenant, name="PBX")
    panel = admin_client.get(reverse("home")).content.decode()
    panel = panel[panel.index('id="first-steps"') :]
    assert "done</span>" in panel[: panel.index("</section>")]
    api_key_revoke(tenant=tenant, prefix=api_key.prefix)
    panel = admin_client.get(reverse("home")).content.decode()
    panel = panel[panel.index('id="first-steps"') :]
    assert "done</span>" not in panel[: panel.index("</section>")]


@pytest.mark.django_db
def test_the_header_names_the_user_and_the_organization(tenant: Tenant, admin_client: Client) -> None:
    page = admin_client.get(reverse("home")).content.decode()
    who = page[page.index('data-testid="who"') :]
    who = who[: who.index("</form>")]
    assert "admin" in who
    assert "Acme" in who


@pytest.mark.django_db
def test_the_menu_button_and_the_offcanvas_sidebar_are_wired(tenant: Tenant, admin_client: Client) -> None:
    page = admin_client.get(reverse("home")).content.decode()
    assert 'data-bs-target="#app-sidebar"' in page
    assert re.search(r'<aside [^>]*offcanvas-md[^>]*\n?[^>]*id="app-sidebar"', page)


def test_the_colour_mode_script_follows_the_system_setting() -> None:
    path = finders.find("app/theme.js")
    assert path
    text = Path(path).read_text(encoding="utf-8")
    assert "prefers-color-scheme: dark" in text
    assert "data-bs-theme" in text


@pytest.mark.django_db
def test_a_member_without_the_privilege_sees_no_frame(tenant: Tenant) -> None:
    carddav(tenant, "Secret book")
    client = Client()
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "Secret book" not in response.content.decode()
    assert 'id="first-steps"' not in response.content.decode()
