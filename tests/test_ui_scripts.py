"""The script screens: add, edit, delete, the placeholder picker and the live preview."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration, Script
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tests.conftest import PASSWORD


@pytest.fixture
def address_book(tenant: Tenant) -> Integration:
    """A CardDAV integration (phone data: record fields allowed), created without a server."""
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": "https://dav.example.com/addressbooks/alice/contacts/"},
        start_sync=False,
    )


@pytest.fixture
def efecte(tenant: Tenant) -> Integration:
    """A screen-pop-only integration: no record fields."""
    return integration_create(
        tenant=tenant,
        preset_slug="efecte_esm",
        name="Efecte",
        settings_values={"base_url": "https://efecte.example.com"},
    )


def preview(
    client: Client, template: str, *, integration: Integration | None = None, applies: str = "always"
) -> str:
    if integration is None:
        url = reverse("script-preview")
    else:
        url = reverse("integration-script-preview", args=[integration.pk])
    response = client.post(url, {"template": template, "applies": applies}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    return response.text


# Adding, editing, deleting ------------------------------------------------------------------


def test_adding_a_tenant_wide_script_shows_it_on_the_main_screen(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("script-add"),
        {
            "name": "Search Google",
            "template": "https://www.google.nl?q=#(Caller number)",
            "applies": "always",
            "auto_open": "on",
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("home")
    script = Script.objects.get(tenant=tenant)
    assert script.integration is None
    assert script.auto_open
    assert script.applies == "always"
    assert "Search Google" in response.text
    assert "Script “Search Google” added." in response.text


def test_a_bad_template_shows_the_error_with_its_character_position_on_the_url_field(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("script-add"),
        {"name": "Broken", "template": "https://x.example/?q=#(Caller nummer)", "applies": "always"},
    )

    assert response.status_code == 200
    assert 'id="template-error"' in response.text
    assert "Unknown call property" in response.text
    assert "(at character 22)" in response.text
    assert not Script.objects.exists()


def test_an_unclosed_placeholder_is_refused_with_its_position(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(
        reverse("script-add"),
        {"name": "Broken", "template": "https://x.example/?q=#(Caller number", "applies": "always"},
    )
    assert "has no closing bracket" in response.text
    assert "character" in response.text
    assert not Script.objects.exists()


def test_a_tenant_wide_script_may_not_use_record_fields(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(
        reverse("script-add"), {"name": "Pop", "template": "$(PopUpUri)", "applies": "on_match"}
    )
    assert "Only scripts of an integration with phone data can use CRM fields" in response.text
    assert not Script.objects.exists()


def test_a_javascript_link_is_refused(tenant: Tenant, admin_client: Client) -> None:
    response = admin_client.post(
        reverse("script-add"), {"name": "XSS", "template": "javascript:alert(1)", "applies": "always"}
    )
    assert "are not allowed" in response.text
    assert not Script.objects.exists()


def test_adding_an_integration_script_with_record_fields_returns_to_the_overview(
    address_book: Integration, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("integration-script-add", args=[address_book.pk]),
        {
            "name": "Mail them",
            "template": "mailto:$(Email)?subject=Call%20from%20$(DisplayName)",
            "applies": "on_match",
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("integration-overview", args=[address_book.pk])
    script = Script.objects.get(integration=address_book, name="Mail them")
    assert script.template == "mailto:$(Email)?subject=Call%20from%20$(DisplayName)"
    assert "Mail them" in response.text


def test_editing_a_script_changes_it(tenant: Tenant, admin_client: Client) -> None:
    script = script_create(
        tenant=tenant, integration=None, name="Search", template="https://www.bing.com/search?q=x"
    )
    url = reverse("script-edit", args=[script.pk])

    page = admin_client.get(url)
    assert 'value="Search"' in page.text
    assert "https://www.bing.com/search?q=x" in page.text

    admin_client.post(
        url,
        {
            "name": "Search Google",
            "template": "https://www.google.nl?q=#(Caller number)",
            "applies": "on_no_match",
        },
    )

    script.refresh_from_db()
    assert script.name == "Search Google"
    assert script.template == "https://www.google.nl?q=#(Caller number)"
    assert script.applies == "on_no_match"
    assert not script.auto_open


def test_an_invalid_edit_keeps_the_script_as_it_was(tenant: Tenant, admin_client: Client) -> None:
    script = script_create(
        tenant=tenant, integration=None, name="Search", template="https://www.bing.com/search?q=x"
    )
    response = admin_client.post(
        reverse("script-edit", args=[script.pk]),
        {"name": "Search", "template": "#(Nope)", "applies": "always"},
    )
    assert "Unknown call property" in response.text
    script.refresh_from_db()
    assert script.template == "https://www.bing.com/search?q=x"


def test_deleting_a_script_removes_it(address_book: Integration, admin_client: Client) -> None:
    script = Script.objects.get(integration=address_book)
    response = admin_client.post(reverse("script-delete", args=[script.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("integration-overview", args=[address_book.pk])
    assert not Script.objects.filter(pk=script.pk).exists()


def test_deleting_a_script_refuses_a_get(tenant: Tenant, admin_client: Client) -> None:
    script = script_create(
        tenant=tenant, integration=None, name="Search", template="https://www.bing.com/search?q=x"
    )
    assert admin_client.get(reverse("script-delete", args=[script.pk])).status_code == 405
    assert Script.objects.filter(pk=script.pk).exists()


# Placeholder picker -------------------------------------------------------------------------


def test_the_picker_of_a_tenant_wide_script_lists_the_call_properties_only(admin_client: Client) -> None:
    page = admin_client.get(reverse("script-add")).text
    for name in (
        "Caller name",
        "Caller number",
        "Device name",
        "Device number",
        "Ddi name",
        "Ddi number",
        "Start time",
    ):
        assert f'data-insert="#({name})"' in page
    assert 'data-insert="$(' not in page


def test_the_picker_of_an_integration_with_phone_data_also_lists_its_record_fields(
    address_book: Integration, admin_client: Client
) -> None:
    page = admin_client.get(reverse("integration-script-add", args=[address_book.pk])).text
    assert 'data-insert="#(Caller number)"' in page
    for name in ("DisplayName", "Identifier", "PopUpUri", "Email", "Company", "Title"):
        assert f'data-insert="$({name})"' in page


def test_the_picker_of_a_pop_only_integration_has_no_record_fields(
    efecte: Integration, admin_client: Client
) -> None:
    page = admin_client.get(reverse("integration-script-add", args=[efecte.pk])).text
    assert 'data-insert="#(Caller number)"' in page
    assert 'data-insert="$(' not in page


def test_the_url_field_previews_itself_as_you_type(address_book: Integration, admin_client: Client) -> None:
    page = admin_client.get(reverse("integration-script-add", args=[address_book.pk])).text
    assert f'hx-post="{reverse("integration-script-preview", args=[address_book.pk])}"' in page
    assert 'hx-trigger="input changed delay:300ms, load"' in page
    assert 'hx-target="#script-preview"' in page


# Live preview -------------------------------------------------------------------------------


def test_the_preview_renders_the_manuals_google_example_for_a_dutch_tenant(
    tenant: Tenant, admin_client: Client
) -> None:
    text = preview(admin_client, "https://www.google.nl?q=#(Caller number)")
    assert "https://www.google.nl?q=0201234567" in text
    assert 'data-preview="ok"' in text
    assert "Jan Jansen" in text


def test_the_preview_renders_call_properties_for_a_belgian_tenant_in_its_national_format(
    other_tenant: Tenant, other_admin_client: Client
) -> None:
    text = preview(other_admin_client, "https://x.example/?n=#(Caller number)&d=#(Device number)")
    assert "https://x.example/?n=0" in text  # national format with trunk prefix, not +32
    assert "&amp;d=201" in text


def test_the_preview_shows_the_error_and_where_it_is(tenant: Tenant, admin_client: Client) -> None:
    text = preview(admin_client, "https://x.example/?q=#(Caller nummer)")
    assert 'data-preview="error"' in text
    assert "Unknown call property" in text
    assert "(at character 22)" in text
    assert "<mark" in text


def test_the_preview_of_an_empty_template_invites_typing(tenant: Tenant, admin_client: Client) -> None:
    assert "Type a URL" in preview(admin_client, "")


def test_the_preview_says_when_the_rendered_links_scheme_is_not_allowed(
    tenant: Tenant, admin_client: Client
) -> None:
    # Valid (it begins with a placeholder), but the caller's name is no URL with an allowed scheme.
    text = preview(admin_client, "#(Caller name)")
    assert 'data-preview="refused"' in text
    assert "scheme is not allowed" in text


def test_the_preview_of_an_integration_script_renders_the_sample_record(
    address_book: Integration, admin_client: Client
) -> None:
    assert "https://crm.example.com/contacts/1001" in preview(
        admin_client, "$(PopUpUri)", integration=address_book, applies="on_match"
    )
    text = preview(
        admin_client,
        "mailto:$(Email)?subject=$(Company)%20$(Identifier)%20$(Title)",
        integration=address_book,
    )
    assert "mailto:jan%40example.com?subject=Acme%20BV%20ACC-1001%20Sample%20Title" in text


def test_the_preview_refuses_record_fields_in_a_script_for_calls_without_a_match(
    address_book: Integration, admin_client: Client
) -> None:
    text = preview(admin_client, "$(PopUpUri)", integration=address_book, applies="on_no_match")
    assert 'data-preview="error"' in text


def test_the_preview_needs_a_tenant_admin(tenant: Tenant, client: Client) -> None:
    response = client.post(reverse("script-preview"), {"template": "https://x.example", "applies": "always"})
    assert response.status_code == 302


def test_the_preview_refuses_a_get(admin_client: Client) -> None:
    assert admin_client.get(reverse("script-preview")).status_code == 405


def test_the_preview_shows_the_sample_calls_start_time_in_the_tenants_time_zone(
    tenant: Tenant, admin_client: Client
) -> None:
    text = preview(admin_client, "https://x.example/?t=#(Start time)")
    assert "%2B01%3A00" in text or "%2B02%3A00" in text  # Europe/Amsterdam offset in the link
    assert " CET<" in text or " CEST<" in text


@pytest.mark.parametrize(
    ("instant", "shown", "offset"),
    [
        # 2026-10-25: Amsterdam goes from CEST back to CET at 03:00 local; 02:30 happens twice.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25 02:30:00 CEST", "%2B02%3A00"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25 02:30:00 CET", "%2B01%3A00"),
        (datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "2027-03-28 03:30:00 CEST", "%2B02%3A00"),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "2026-11-23 00:30:00 CET", "%2B01%3A00"),
    ],
)
def test_the_preview_names_the_zone_even_in_the_hour_the_clocks_go_back(
    tenant: Tenant, instant: datetime, shown: str, offset: str
) -> None:
    with time_machine.travel(instant, tick=False):
        client = Client()  # signed in at the frozen instant, so the session has not expired there
        assert client.login(request=HttpRequest(), username="admin", password=PASSWORD)
        text = preview(client, "https://x.example/?t=#(Start time)")
    assert f">{shown}<" in text
    assert offset in text
