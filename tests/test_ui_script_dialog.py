"""The script dialog (issue 8, item 3): htmx loads the script form into the frame's modal on the main
screen, the integration's overview and wizard step 4; errors and the live preview stay in the dialog;
a saved script refreshes the page under it. Without htmx the same URLs are the script pages."""

from __future__ import annotations

import re

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration, Script
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tests.conftest import PASSWORD

HTMX = {"HX-Request": "true"}


@pytest.fixture
def address_book(tenant: Tenant) -> Integration:
    """A CardDAV integration (record fields allowed), created without a server."""
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": "https://dav.example.com/addressbooks/alice/contacts/"},
        start_sync=False,
    )


def test_the_frame_has_the_dialog_and_the_links_that_open_it(
    tenant: Tenant, admin_client: Client, address_book: Integration
) -> None:
    script_create(
        tenant=tenant, integration=None, name="Search", template="https://x.example/?q=#(Caller number)"
    )
    home = admin_client.get(reverse("home")).text
    assert 'id="script-dialog"' in home
    assert 'aria-labelledby="script-dialog-title"' in home
    # The sidebar's and the card's "Add New Script", and the table's Edit: links to the pages too.
    assert len(re.findall(r'href="/scripts/add/" data-script-dialog', home)) == 2
    assert re.search(r'href="/scripts/\d+/edit/" data-script-dialog', home)
    overview = admin_client.get(reverse("integration-overview", args=[address_book.pk])).text
    assert f'href="/integrations/{address_book.pk}/scripts/add/" data-script-dialog' in overview


def test_htmx_gets_the_dialog_not_the_page(admin_client: Client) -> None:
    response = admin_client.get(reverse("script-add"), headers=HTMX)

    assert response.status_code == 200
    text = response.text
    assert "<html" not in text
    assert 'id="script-dialog-title">Add New Script<' in text
    assert 'hx-post="/scripts/add/"' in text
    assert 'hx-target="#script-dialog-content"' in text
    # Its own ids: the page under it may have a script form too.
    assert 'id="dialog_template"' in text
    assert 'data-insert-into="#dialog_template"' in text
    assert 'hx-target="#script-dialog-preview"' in text
    assert 'id="id_template"' not in text
    # Without htmx the same URL is the page.
    assert "<html" in admin_client.get(reverse("script-add")).text


def test_an_error_stays_in_the_dialog_with_what_was_typed(tenant: Tenant, admin_client: Client) -> None:
    data = {"name": "Search", "template": "https://www.google.nl?q=#(Caller number", "applies": "always"}
    data |= {"kind": "link", "http_method": "POST", "body_encoding": "json"}

    response = admin_client.post(reverse("script-add"), data, headers=HTMX)

    assert response.status_code == 200
    assert "HX-Refresh" not in response.headers
    assert "<html" not in response.text
    assert 'id="template-error"' in response.text
    assert 'value="Search"' in response.text
    assert "https://www.google.nl?q=#(Caller number</textarea>" in response.text
    assert not Script.objects.filter(tenant=tenant).exists()


def test_the_dialogs_preview_button_renders_the_link_in_the_dialog(admin_client: Client) -> None:
    data = {"name": "Search", "template": "https://www.google.nl?q=#(Caller number)", "applies": "always"}
    response = admin_client.post(reverse("script-add"), {**data, "preview": "1"}, headers=HTMX)
    assert 'id="script-dialog-preview"' in response.text
    assert 'id="preview-link"' in response.text
    assert "https://www.google.nl?q=020" in response.text


def test_a_saved_script_refreshes_the_page_under_the_dialog(tenant: Tenant, admin_client: Client) -> None:
    data = {"name": "Search", "template": "https://www.google.nl?q=#(Caller number)", "applies": "always"}
    data |= {"kind": "link", "http_method": "POST", "body_encoding": "json"}

    response = admin_client.post(reverse("script-add"), data, headers=HTMX)

    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"
    assert Script.objects.get(tenant=tenant).name == "Search"
    home = admin_client.get(reverse("home")).text
    assert "Script “Search” added." in home


def test_edit_loads_the_script_and_saves_it(
    tenant: Tenant, admin_client: Client, address_book: Integration
) -> None:
    script = script_create(
        tenant=tenant, integration=address_book, name="Open", template="https://crm.example/$(Identifier)"
    )
    page = admin_client.get(reverse("script-edit", args=[script.pk]), headers=HTMX).text
    assert "Edit script “Open”" in page
    assert 'value="Open"' in page
    assert 'data-insert="$(DisplayName)"' in page  # the preset's record fields

    data = {"name": "Open card", "template": "https://crm.example/$(Identifier)", "applies": "on_match"}
    data |= {"kind": "link", "http_method": "POST", "body_encoding": "json"}
    response = admin_client.post(reverse("script-edit", args=[script.pk]), data, headers=HTMX)
    assert response.headers["HX-Refresh"] == "true"
    script.refresh_from_db()
    assert script.name == "Open card"


def test_another_tenants_script_is_not_found_in_the_dialog(
    other_tenant: Tenant, admin_client: Client
) -> None:
    theirs = script_create(
        tenant=other_tenant, integration=None, name="Theirs", template="https://x.example/"
    )
    assert admin_client.get(reverse("script-edit", args=[theirs.pk]), headers=HTMX).status_code == 404
    data = {"name": "Mine now", "template": "https://x.example/", "applies": "always", "kind": "link"}
    assert admin_client.post(reverse("script-edit", args=[theirs.pk]), data, headers=HTMX).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_a_member_without_the_privilege_gets_no_dialog(tenant: Tenant, client: Client) -> None:
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    response = client.get(reverse("script-add"), headers=HTMX)
    assert response.status_code == 403
    assert "dialog_template" not in response.text


def test_odd_input_to_the_dialog_never_gives_a_500(admin_client: Client) -> None:
    for data in ({}, {"name": "x" * 5000, "template": "\x00"}, {"kind": "nope", "applies": ["a", "b"]}):
        response = admin_client.post(reverse("script-add"), data, headers=HTMX)
        assert response.status_code == 200


# Wizard step 4 --------------------------------------------------------------------------------


def wizard_scripts_url(client: Client) -> str:
    """Step 4 of a Web search wizard (a screen pop preset: no connection test)."""
    response = client.post(reverse("integration-wizard"), {"preset": "web_search"})
    settings_url = str(response["Location"])
    client.post(
        settings_url,
        {"name": "Search", "settings-search_url": "https://duckduckgo.com/?q=", "action": "next"},
    )
    return settings_url.rsplit("/", 2)[0] + "/scripts/"


def test_wizard_step_four_opens_add_and_edit_in_the_dialog(admin_client: Client) -> None:
    url = wizard_scripts_url(admin_client)
    page = admin_client.get(url).text
    assert f'data-script-dialog="{url}"' in page
    assert f'data-script-dialog="{url}?edit=0"' in page
    assert 'class="row g-4 no-js-only"' in page  # the page's own form, for browsers without JavaScript

    dialog = admin_client.get(url, {"edit": "0"}, headers=HTMX).text
    assert "<html" not in dialog
    assert 'name="index" value="0"' in dialog
    assert "https://duckduckgo.com/?q=#(Caller number)</textarea>" in dialog
    assert f'hx-post="{url}"' in dialog
    assert 'hx-target="#script-dialog-preview"' in dialog


def test_wizard_dialog_shows_errors_and_adds_the_script(tenant: Tenant, admin_client: Client) -> None:
    url = wizard_scripts_url(admin_client)
    bad = {"name": "Bing", "template": "https://www.bing.com/search?q=#(Caller number", "applies": "always"}
    response = admin_client.post(url, {**bad, "action": "add"}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="template-error"' in response.text
    assert 'value="Bing"' in response.text

    good = {**bad, "template": "https://www.bing.com/search?q=#(Caller number)"}
    preview = admin_client.post(url, {**good, "action": "preview"}, headers=HTMX).text
    assert "https://www.bing.com/search?q=020" in preview
    response = admin_client.post(url, {**good, "action": "add"}, headers=HTMX)
    assert response.headers["HX-Refresh"] == "true"
    page = admin_client.get(url).text
    assert len(re.findall(r"data-script>", page)) == 2
    assert not Integration.objects.filter(tenant=tenant).exists()  # still nothing before Finish


def test_wizard_dialog_edit_replaces_the_script(admin_client: Client) -> None:
    url = wizard_scripts_url(admin_client)
    data = {
        "name": "DuckDuckGo",
        "template": "https://duckduckgo.com/?q=#(Caller number:e164)",
        "applies": "always",
    }
    response = admin_client.post(url, {**data, "action": "add", "index": "0"}, headers=HTMX)
    assert response.headers["HX-Refresh"] == "true"
    page = admin_client.get(url).text
    assert len(re.findall(r"data-script>", page)) == 1
    assert "DuckDuckGo" in page
    assert "%2B31201234567" in page
