"""The "Add New Integration" wizard, through the Django client: five steps kept in the session.

CardDAV runs against tests/carddav_double.py (the connection test's HTTP client is swapped for
the double's transport); Web search has no API and skips the call notification step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from django.http import HttpRequest, QueryDict
from django.test import Client
from django.urls import reverse

from integrations import services
from integrations.models import Integration, Script, SyncState
from integrations.oauth import TOKEN_SECRET
from integrations.wizard import SESSION_KEY
from tenants.models import Tenant
from tests.carddav_double import URL, CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> CardDavDouble:
    """A CardDAV server with one card; the connection test talks to it and resolves no names."""
    fake = CardDavDouble({"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567", org="Acme")})
    monkeypatch.setattr(services, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(services, "_url_host_refused", lambda value, **kwargs: False)
    return fake


def start(client: Client, slug: str) -> str:
    """Choose `slug` on step 1; returns the URL of step 2 (with the new wizard's id)."""
    response = client.post(reverse("integration-wizard"), {"preset": slug})
    assert response.status_code == 302
    location = str(response["Location"])
    assert re.fullmatch(r"/integrations/new/[\w-]+/settings/", location)
    return location


def step(url: str, name: str) -> str:
    return url.rsplit("/", 2)[0] + f"/{name}/"


def carddav_settings(**overrides: str) -> dict[str, str]:
    values = {
        "name": "Contacts",
        "settings-url": URL,
        "settings-username": "alice",
        "settings-password": "secret",
        "action": "next",
    }
    return {**values, **overrides}


# Step 1 --------------------------------------------------------------------------------------


def test_step_one_shows_a_tile_per_preset_with_a_ribbon(admin_client: Client) -> None:
    response = admin_client.get(reverse("integration-wizard"))
    assert response.status_code == 200
    for slug in ("carddav", "web_search"):
        assert f'value="{slug}"' in response.text
    assert 'aria-current="step">1. Choose preset' in response.text
    assert "5. Review" in response.text


def test_a_search_that_matches_nothing_says_so_and_points_at_the_generic_presets(
    admin_client: Client,
) -> None:
    response = admin_client.get(reverse("integration-wizard"), {"q": "xyzzy"})
    assert "No preset matches “xyzzy”" in response.text
    assert "Generic JSON REST API" in response.text
    assert 'name="preset" value=' not in response.text


def test_an_unknown_preset_starts_nothing(admin_client: Client) -> None:
    response = admin_client.post(reverse("integration-wizard"), {"preset": "nope"}, follow=True)
    assert response.status_code == 200
    assert "Choose one of the presets" in response.text
    assert not admin_client.session.get(SESSION_KEY)


# The whole flow ------------------------------------------------------------------------------


def test_the_whole_wizard_for_carddav_creates_the_integration_and_queues_its_first_sync(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    page = admin_client.get(settings_url)
    assert 'aria-current="step">2. CRM configuration' in page.text
    assert 'name="settings-url"' in page.text

    response = admin_client.post(settings_url, carddav_settings())
    assert response.status_code == 302
    assert response["Location"] == step(settings_url, "fields")

    # Step 3: the defaults are ticked; move E-mail above Company and tick Job title.
    fields_url = step(settings_url, "fields")
    page = admin_client.get(fields_url)
    # The card previews the contact the CRM listed after the connection test, not the example.
    assert 'data-sample-origin="crm">A record from your CRM: Jan Jansen<' in page.text
    assert "<dd>Acme</dd>" in page.text
    assert re.search(r'value="Company" id="check-Company" checked', page.text)
    assert re.search(r'value="Email" id="check-Email" checked', page.text)
    assert not re.search(r'value="Title" id="check-Title" checked', page.text)
    order = re.findall(r'name="order" value="(\w+)"', page.text)
    assert order[:2] == ["Company", "Email"]
    admin_client.post(
        fields_url, {"order": order, "fields": ["Company", "Email", "Title"], "move": "up:Email"}
    )
    page = admin_client.get(fields_url)
    assert re.findall(r'name="order" value="(\w+)"', page.text)[:2] == ["Email", "Company"]
    response = admin_client.post(
        fields_url,
        {
            "order": re.findall(r'name="order" value="(\w+)"', page.text),
            "fields": ["Company", "Email", "Title"],
            "action": "next",
        },
    )
    assert response["Location"] == step(settings_url, "scripts")

    # Step 4: the preset's pop script shown as the link it renders for the CRM's record.
    scripts_url = step(settings_url, "scripts")
    page = admin_client.get(scripts_url)
    assert "Open contact" in page.text
    assert f"data-script-link>{URL}jan.vcf</a>" in page.text
    assert "https://crm.example.com/contacts/1001" not in page.text
    response = admin_client.post(
        scripts_url,
        {
            "name": "Search Google",
            "template": "https://www.google.nl?q=#(Caller number)",
            "applies": "always",
            "action": "add",
        },
    )
    assert response.status_code == 302
    page = admin_client.get(scripts_url)
    assert "https://www.google.nl?q=020" in page.text
    admin_client.post(scripts_url, {"action": "next"})

    # Step 5: every choice, secrets masked; nothing exists yet.
    review = admin_client.get(step(settings_url, "review"))
    assert "Contacts" in review.text
    assert URL in review.text
    assert "••••••" in review.text
    assert ">secret<" not in review.text
    assert review.text.index("E-mail") < review.text.index("Job title")
    assert not Integration.objects.filter(tenant=tenant).exists()

    response = admin_client.post(step(settings_url, "review"), {"action": "finish"})
    integration = Integration.objects.get(tenant=tenant)
    assert response["Location"] == reverse("integration-overview", args=[integration.pk])
    assert integration.name == "Contacts"
    assert integration.preset == "carddav"
    assert integration.settings == {"url": URL, "username": "alice"}
    assert integration.secrets == {"password": "secret"}
    assert integration.notification_fields == ["Email", "Company", "Title"]
    assert integration.sync_state == SyncState.QUEUED
    assert sorted(s.name for s in Script.objects.filter(integration=integration)) == [
        "Open contact",
        "Search Google",
    ]
    # The wizard is closed: its steps send back to step 1.
    assert admin_client.get(review.request["PATH_INFO"])["Location"] == reverse("integration-wizard")


def test_the_whole_wizard_for_web_search_skips_the_call_notification(
    tenant: Tenant, admin_client: Client
) -> None:
    settings_url = start(admin_client, "web_search")
    page = admin_client.get(settings_url)
    assert "Test connection" not in page.text
    assert "3. Call notification" in page.text  # shown struck through, not a link
    assert step(settings_url, "fields") not in page.text
    response = admin_client.post(
        settings_url,
        {"name": "Search", "settings-search_url": "https://duckduckgo.com/?q=", "action": "next"},
    )
    assert response["Location"] == step(settings_url, "scripts")
    assert admin_client.get(step(settings_url, "fields"))["Location"] == step(settings_url, "scripts")
    page = admin_client.get(step(settings_url, "scripts"))
    assert "https://duckduckgo.com/?q=020" in page.text
    response = admin_client.post(step(settings_url, "scripts"), {"action": "back"})
    assert response["Location"] == settings_url
    admin_client.post(step(settings_url, "review"), {"action": "finish"})
    integration = Integration.objects.get(tenant=tenant)
    assert integration.name == "Search"
    assert integration.settings == {"search_url": "https://duckduckgo.com/?q="}
    script = Script.objects.get(integration=integration)
    assert script.template == "https://duckduckgo.com/?q=#(Caller number)"


# Keeping input -------------------------------------------------------------------------------


def test_a_validation_error_keeps_the_input_and_a_reload_shows_it_again(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(
        settings_url,
        carddav_settings(
            **{
                "settings-url": "ftp://dav.example.com/x",
                "name": "My book",
                "settings-password": "pw-not-echoed",
            }
        ),
    )
    assert response.status_code == 200
    assert "enter a full http:// or https:// address" in response.text
    assert 'value="ftp://dav.example.com/x"' in response.text
    assert 'value="My book"' in response.text
    assert 'value="alice"' in response.text
    assert "pw-not-echoed" not in response.text
    reloaded = admin_client.get(settings_url)
    assert 'value="ftp://dav.example.com/x"' in reloaded.text
    assert 'value="My book"' in reloaded.text
    assert "•••• kept" in reloaded.text
    # The later steps stay closed until the settings are valid.
    assert admin_client.get(step(settings_url, "review"))["Location"] == settings_url
    assert not Integration.objects.filter(tenant=tenant).exists()


def test_back_keeps_every_choice(tenant: Tenant, admin_client: Client, double: CardDavDouble) -> None:
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings(name="Kept name"))
    fields_url = step(settings_url, "fields")
    order = re.findall(r'name="order" value="(\w+)"', admin_client.get(fields_url).text)
    admin_client.post(fields_url, {"order": order, "fields": ["Title"], "action": "back"})
    page = admin_client.get(settings_url)
    assert 'value="Kept name"' in page.text
    assert "•••• kept" in page.text
    # Back to step 1, the same preset again: every choice is still there.
    back = carddav_settings(name="Kept name", action="back", **{"settings-password": ""})
    assert admin_client.post(settings_url, back)["Location"] == step(settings_url, "preset")
    assert admin_client.post(step(settings_url, "preset"), {"preset": "carddav"})["Location"] == settings_url
    page = admin_client.get(fields_url)
    assert re.search(r'value="Title" id="check-Title" checked', page.text)
    assert not re.search(r'value="Email" id="check-Email" checked', page.text)
    # Changing a setting on the way back closes the later steps until Next tests them again.
    admin_client.post(settings_url, {**back, "settings-username": "bob"})
    assert admin_client.get(fields_url)["Location"] == settings_url
    # The password was kept: Next passes the double's check without typing it again.
    response = admin_client.post(settings_url, carddav_settings(**{"settings-password": ""}))
    assert response.status_code == 302, response.text


def test_another_preset_on_step_one_starts_its_steps_afresh(
    admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings(name="Old"))
    admin_client.post(step(settings_url, "preset"), {"preset": "web_search"})
    page = admin_client.get(settings_url)
    assert "settings-search_url" in page.text
    assert 'value="Old"' not in page.text


def test_a_tested_password_is_kept_and_never_echoed(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(
        settings_url, carddav_settings(**{"settings-password": "s3cret-app-password"}, action="test")
    )
    assert response.status_code == 200
    assert "alert-danger" in response.text  # the double wants "secret"
    assert "s3cret-app-password" not in response.text
    assert "s3cret-app-password" not in str(dict(admin_client.session))  # encrypted in the session
    response = admin_client.post(settings_url, carddav_settings(action="test"))
    assert "Connection OK" in response.text
    assert "•••• kept" in response.text
    assert 'name="settings-password"' in response.text
    assert 'value="secret"' not in response.text
    # Next with the password field empty: the tested one is used.
    response = admin_client.post(settings_url, carddav_settings(**{"settings-password": ""}))
    assert response["Location"] == step(settings_url, "fields")
    admin_client.post(step(settings_url, "review"), {"action": "finish"})
    assert Integration.objects.get(tenant=tenant).secrets == {"password": "secret"}


def test_a_failed_connection_test_keeps_the_wizard_on_step_two(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(settings_url, carddav_settings(**{"settings-password": "wrong"}))
    assert response.status_code == 200
    assert "Not yet:" in response.text
    assert admin_client.get(step(settings_url, "scripts"))["Location"] == settings_url


def test_a_bad_script_is_refused_with_its_position_and_keeps_the_input(
    admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings())
    scripts_url = step(settings_url, "scripts")
    response = admin_client.post(
        scripts_url,
        {
            "name": "Broken",
            "template": "https://x.example/?q=#(Caller number",
            "applies": "always",
            "action": "add",
        },
    )
    assert response.status_code == 200
    assert "character" in response.text
    assert 'value="Broken"' in response.text
    assert "https://x.example/?q=#(Caller number</textarea>" in response.text
    response = admin_client.post(
        scripts_url,
        {"name": "", "template": "https://x.example/", "applies": "always", "action": "add"},
    )
    assert response.status_code == 200
    assert "https://x.example/</textarea>" in response.text


def test_removing_the_preset_script_creates_the_integration_without_it(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings())
    admin_client.post(step(settings_url, "scripts"), {"remove": "0"})
    assert "Open contact" not in admin_client.get(step(settings_url, "scripts")).text
    admin_client.post(step(settings_url, "review"), {"action": "finish"})
    assert not Script.objects.filter(tenant=tenant).exists()


def test_the_live_preview_renders_for_the_presets_sample_record(admin_client: Client) -> None:
    settings_url = start(admin_client, "web_search")
    wizard_id = settings_url.split("/")[3]
    response = admin_client.post(
        reverse("integration-wizard-preview", args=[wizard_id]),
        {"template": "https://example.com/?q=#(Caller number)", "applies": "always"},
    )
    assert response.status_code == 200
    assert "https://example.com/?q=020" in response.text


# Isolation and refusal -----------------------------------------------------------------------


def test_two_wizards_in_one_session_do_not_mix(tenant: Tenant, admin_client: Client) -> None:
    first = start(admin_client, "web_search")
    second = start(admin_client, "web_search")
    assert first != second
    admin_client.post(first, {"name": "First", "settings-search_url": "https://www.bing.com/search?q="})
    admin_client.post(second, {"name": "Second", "settings-search_url": "https://duckduckgo.com/?q="})
    assert 'value="First"' in admin_client.get(first).text
    assert 'value="Second"' in admin_client.get(second).text
    admin_client.post(step(second, "review"), {"action": "finish"})
    admin_client.post(step(first, "review"), {"action": "finish"})
    names = dict(Integration.objects.filter(tenant=tenant).values_list("name", "settings"))
    assert names == {
        "First": {"search_url": "https://www.bing.com/search?q="},
        "Second": {"search_url": "https://duckduckgo.com/?q="},
    }


def test_leaving_half_way_creates_nothing(
    tenant: Tenant, admin_client: Client, double: CardDavDouble
) -> None:
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings())
    admin_client.post(step(settings_url, "scripts"), {"action": "next"})
    admin_client.get(reverse("home"))
    assert not Integration.objects.filter(tenant=tenant).exists()
    assert not Script.objects.filter(tenant=tenant).exists()


def test_a_wizard_of_another_session_is_not_found(tenant: Tenant, admin_client: Client) -> None:
    settings_url = start(admin_client, "web_search")
    other = Client()
    assert other.login(request=HttpRequest(), username="admin", password=PASSWORD)
    response = other.get(settings_url)
    assert response["Location"] == reverse("integration-wizard")
    response = other.post(step(settings_url, "review"), {"action": "finish"})
    assert response["Location"] == reverse("integration-wizard")
    assert not Integration.objects.filter(tenant=tenant).exists()


def test_a_wizard_is_not_carried_over_to_another_tenants_admin(
    tenant: Tenant, other_admin_client: Client, admin_client: Client
) -> None:
    settings_url = start(admin_client, "web_search")
    assert other_admin_client.get(settings_url)["Location"] == reverse("integration-wizard")


@pytest.mark.parametrize(
    "path",
    [
        "/integrations/new/nope/settings/",
        "/integrations/new/nope/preview/",
        "/integrations/new/%00/review/",
        "/integrations/new/x/y/",
    ],
)
def test_odd_wizard_ids_and_step_names_never_give_a_500(admin_client: Client, path: str) -> None:
    assert admin_client.get(path).status_code in (302, 404, 405)
    assert admin_client.post(path, {"action": "finish", "preset": "\x00"}).status_code in (302, 404)


def test_an_unknown_step_of_an_open_wizard_is_not_found(admin_client: Client) -> None:
    settings_url = start(admin_client, "web_search")
    assert admin_client.get(step(settings_url, "bogus")).status_code == 404


def test_odd_data_on_every_step_never_gives_a_500(admin_client: Client, double: CardDavDouble) -> None:
    settings_url = start(admin_client, "carddav")
    odd = {
        "name": "x" * 500,
        "settings-url": "\x00",
        "order": ["Nope", "Email"],
        "fields": ["Nope"],
        "move": "sideways:Email",
        "remove": "99",
        "template": "#(",
        "applies": "sometimes",
        "action": "finish",
    }
    for name in ("preset", "settings", "fields", "scripts", "review"):
        assert admin_client.post(step(settings_url, name), odd).status_code in (200, 302)
    admin_client.post(settings_url, carddav_settings())
    for name in ("fields", "scripts", "review"):
        assert admin_client.post(step(settings_url, name), odd).status_code in (200, 302)


def test_a_member_without_the_privilege_is_refused(tenant: Tenant) -> None:
    client = Client()
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(reverse("integration-wizard")).status_code == 403
    assert client.post(reverse("integration-wizard"), {"preset": "web_search"}).status_code == 403
    assert not client.session.get(SESSION_KEY)


def test_the_add_new_integration_link_starts_the_wizard(admin_client: Client) -> None:
    assert f'href="{reverse("integration-wizard")}"' in admin_client.get(reverse("home")).text


# OAuth presets -------------------------------------------------------------------------------


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    running = OAuthServer().start()
    yield running
    running.stop()


@pytest.mark.usefixtures("allow_private_addresses")  # the authorization server is on 127.0.0.1
def test_an_oauth_preset_is_created_at_step_two_connect_returns_to_the_wizard_and_finish_completes_it(
    tenant: Tenant,
    admin_client: Client,
    oauth_server: OAuthServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings_url = start(admin_client, "rest_json")
    values = {
        "base_url": oauth_server.url,
        "auth_kind": "oauth2_code",
        "oauth_authorize_url": f"{oauth_server.url}/authorize",
        "oauth_token_url": f"{oauth_server.url}/token",
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": CLIENT_SECRET,
        "oauth_scopes": "contacts.read",
        "list_path": "/api/contacts",
        "phone_paths": "phone",
    }
    response = admin_client.post(
        settings_url,
        {"name": "OAuth CRM", **{f"settings-{k}": v for k, v in values.items()}, "action": "next"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = Integration.objects.get(tenant=tenant, name="OAuth CRM")
    connect = reverse("integration-oauth-connect", args=[integration.pk])
    assert response["Location"].startswith(f"{connect}?next=")
    assert not Script.objects.filter(integration=integration).exists()

    started = admin_client.get(response["Location"])
    consent = httpx.get(started["Location"])
    back = urlsplit(consent.headers["Location"])
    with django_capture_on_commit_callbacks(execute=True):
        returned = admin_client.get(f"{back.path}?{back.query}")
    assert returned["Location"] == step(settings_url, "fields")
    integration.refresh_from_db()
    assert TOKEN_SECRET in (integration.secrets or {})

    # Step 2 again: Next does not create a second integration.
    response = admin_client.post(
        settings_url,
        {"name": "OAuth CRM", **{f"settings-{k}": v for k, v in values.items()}, "action": "next"},
    )
    assert Integration.objects.filter(tenant=tenant).count() == 1

    # Another preset would orphan the created integration: refused.
    refused = admin_client.post(step(settings_url, "preset"), {"preset": "web_search"}, follow=True)
    assert "already created" in refused.text

    fields_url = step(settings_url, "fields")
    order = re.findall(r'name="order" value="(\w+)"', admin_client.get(fields_url).text)
    admin_client.post(fields_url, {"order": order, "fields": ["Identifier"], "action": "next"})
    review = admin_client.get(step(settings_url, "review"))
    assert "is connected to the CRM" in review.text
    response = admin_client.post(step(settings_url, "review"), {"action": "finish"})
    assert response["Location"] == reverse("integration-overview", args=[integration.pk])
    integration.refresh_from_db()
    assert integration.notification_fields == ["Identifier"]
    assert Integration.objects.filter(tenant=tenant).count() == 1


def test_connect_ignores_a_next_that_leaves_the_site(tenant: Tenant, admin_client: Client) -> None:
    from integrations.oauth_views import _return_to

    request = HttpRequest()
    request.META["HTTP_HOST"] = "testserver"
    for target, expected in (
        ("https://evil.example/", ""),
        ("//evil.example/x", ""),
        ("/integrations/new/abc/fields/", "/integrations/new/abc/fields/"),
    ):
        request.GET = QueryDict(urlencode({"next": target}))
        assert _return_to(request) == expected


def test_a_kept_preset_script_follows_a_setting_changed_afterwards(
    tenant: Tenant, admin_client: Client
) -> None:
    settings_url = start(admin_client, "web_search")
    admin_client.post(
        settings_url, {"name": "Search", "settings-search_url": "https://www.bing.com/search?q="}
    )
    scripts_url = step(settings_url, "scripts")
    admin_client.post(
        scripts_url,
        {"name": "Other", "template": "https://example.com/", "applies": "always", "action": "add"},
    )
    admin_client.post(settings_url, {"name": "Search", "settings-search_url": "https://duckduckgo.com/?q="})
    page = admin_client.get(scripts_url)
    assert "https://duckduckgo.com/?q=0" in page.text
    assert "bing.com" not in page.text
    admin_client.post(step(settings_url, "review"), {"action": "finish"})
    templates = set(Script.objects.filter(tenant=tenant).values_list("template", flat=True))
    assert templates == {"https://duckduckgo.com/?q=#(Caller number)", "https://example.com/"}


def test_edit_loads_a_script_into_the_form_and_save_replaces_it(tenant: Tenant, admin_client: Client) -> None:
    settings_url = start(admin_client, "web_search")
    admin_client.post(
        settings_url, {"name": "Search", "settings-search_url": "https://www.bing.com/search?q="}
    )
    scripts_url = step(settings_url, "scripts")
    page = admin_client.post(scripts_url, {"edit": "0"})
    assert page.status_code == 200
    assert 'name="index" value="0"' in page.text
    assert 'value="Search the web"' in page.text
    assert "https://www.bing.com/search?q=#(Caller number)</textarea>" in page.text
    # A bad template keeps the edit open; a good one replaces the script in place.
    bad = {"index": "0", "name": "Bing", "template": "https://x/?q=#(", "applies": "always", "action": "add"}
    page = admin_client.post(scripts_url, bad)
    assert 'name="index" value="0"' in page.text
    admin_client.post(scripts_url, {**bad, "template": "https://www.bing.com/search?q=#(Caller number:e164)"})
    admin_client.post(step(settings_url, "review"), {"action": "finish"})
    [script] = Script.objects.filter(tenant=tenant)
    assert (script.name, script.template) == ("Bing", "https://www.bing.com/search?q=#(Caller number:e164)")
