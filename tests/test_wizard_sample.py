"""The wizard's sample record (issue 8, item 1.3) and its preset tiles' marks (item 1.1).

After a successful connection test the wizard fetches one record from the CRM
(`integration_sample_records`); the call notification card (step 3), the script links and the
script preview (step 4) use it, and say where it came from. A CRM that lists nothing or fails
leaves the example record in its place with the reason; it never blocks the wizard.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext_noop

from integrations import services, wizard
from integrations.connectors.base import ConnectorError
from integrations.registry import PRESETS
from integrations.texts import Text
from integrations.wizard import PRESET_MARK_COLOURS, SESSION_KEY, preset_initials, preset_mark
from tenants.models import Tenant
from tests.carddav_double import URL, CardDavDouble, vcard
from tests.test_wizard import carddav_settings, start, step

EXAMPLE_POP = "https://crm.example.com/contacts/1001"  # integrations.views.SAMPLE_RECORD


def _crm(monkeypatch: pytest.MonkeyPatch, cards: dict[str, str]) -> CardDavDouble:
    fake = CardDavDouble(cards)
    monkeypatch.setattr(services, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(services, "_url_host_refused", lambda value, **kwargs: False)
    return fake


def _wizard_state(client: Client, settings_url: str) -> dict[str, object]:
    wizard_id = settings_url.rstrip("/").split("/")[-2]
    state: dict[str, object] = client.session[SESSION_KEY][wizard_id]
    return state


def test_the_card_and_the_scripts_use_the_record_the_crm_listed(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(
        monkeypatch,
        {
            "kees.vcf": vcard(
                "k", "Kees de Vries", "work:+31 30 765 4321", org="Vries BV", email="kees@vries.nl"
            )
        },
    )
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(settings_url, carddav_settings(action="test"))
    assert "Connection OK" in response.text

    # The session holds the record's values and nothing of the settings' secrets.
    state = _wizard_state(admin_client, settings_url)
    sample = state["sample"]
    assert isinstance(sample, dict)
    assert sample["source"] == "crm"
    assert sample["values"]["DisplayName"] == "Kees de Vries"
    assert sample["values"]["Company"] == "Vries BV"
    assert "secret" not in json.dumps(sample)

    admin_client.post(settings_url, carddav_settings())
    page = admin_client.get(step(settings_url, "fields"))
    assert 'data-sample-origin="crm">A record from your CRM: Kees de Vries<' in page.text
    assert '<p class="fw-semibold mb-1" data-testid="sample-name">Kees de Vries</p>' in page.text
    assert "<dd>Vries BV</dd>" in page.text
    assert "<dd>kees@vries.nl</dd>" in page.text
    assert "Acme BV" not in page.text

    scripts_url = step(settings_url, "scripts")
    page = admin_client.get(scripts_url)
    assert "A record from your CRM: Kees de Vries" in page.text
    assert f"data-script-link>{URL}kees.vcf</a>" in page.text
    assert EXAMPLE_POP not in page.text

    # The live preview in the script dialog renders for the same record.
    preview = admin_client.post(
        reverse("integration-wizard-preview", args=[settings_url.rstrip("/").split("/")[-2]]),
        {"template": "https://www.google.nl?q=$(DisplayName)", "applies": "on_match"},
    )
    assert "https://www.google.nl?q=Kees%20de%20Vries" in preview.text
    # So does the preview without JavaScript, on the page.
    page = admin_client.post(
        scripts_url,
        {"name": "Mail", "template": "mailto:$(Email)", "applies": "on_match", "action": "preview"},
    )
    assert "mailto:kees%40vries.nl" in page.text or "mailto:kees@vries.nl" in page.text


def test_a_crm_without_records_leaves_the_example_record_and_says_so(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {})
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(settings_url, carddav_settings())
    assert response["Location"] == step(settings_url, "fields")
    page = admin_client.get(step(settings_url, "fields"))
    assert (
        'data-sample-origin="example">An example record: your CRM returned no record with a phone number<'
        in page.text
    )
    assert "<dd>Acme BV</dd>" in page.text
    page = admin_client.get(step(settings_url, "scripts"))
    assert f"data-script-link>{EXAMPLE_POP}</a>" in page.text


def test_a_crm_that_fails_to_list_leaves_the_example_record_with_the_reason(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567")})

    def failing(**kwargs: object) -> list[object]:
        raise ConnectorError("The CardDAV server had a server error (HTTP 500).")

    monkeypatch.setattr(wizard, "integration_sample_records", failing)
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(settings_url, carddav_settings())
    assert response["Location"] == step(settings_url, "fields")  # it never blocks the wizard
    page = admin_client.get(step(settings_url, "fields"))
    assert (
        "An example record: the CRM could not be asked: The CardDAV server had a server error (HTTP 500)."
        in page.text
    )


def test_changed_settings_forget_the_record_fetched_with_the_old_ones(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567")})
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings(action="test"))
    assert isinstance(_wizard_state(admin_client, settings_url)["sample"], dict)
    admin_client.post(settings_url, carddav_settings(action="back", **{"settings-username": "bob"}))
    assert _wizard_state(admin_client, settings_url)["sample"] is None


def test_a_failed_connection_test_says_the_example_stands_in(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567")})
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings(action="test", **{"settings-password": "wrong"}))
    assert _wizard_state(admin_client, settings_url)["sample"] == {
        "source": "example",
        "why": "test_failed",
    }


def test_the_sample_origin_speaks_dutch(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {})
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings())
    page = admin_client.get(step(settings_url, "fields"), HTTP_ACCEPT_LANGUAGE="nl")
    assert "Een voorbeeldrecord: uw CRM gaf geen record met een telefoonnummer" in page.text


# Tiles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Microsoft Dynamics 365 (Dataverse)", "MD"),
        ("CardDAV address book", "CD"),
        ("SOGo Contacts", "SC"),
        ("iCloud Contacts", "IC"),
        ("HubSpot", "HS"),
        ("Pipedrive", "P"),
        ("mailbox.org Contacts", "MO"),
        ("SuiteCRM 8", "SC"),
        ("—", "?"),
    ],
)
def test_initials_are_one_or_two_letters_of_the_name(name: str, initials: str) -> None:
    assert preset_initials(name) == initials


def test_a_presets_mark_colour_follows_its_slug_and_the_colours_spread() -> None:
    assert preset_mark("carddav") == preset_mark("carddav") == 0  # SHA-256: the same on every run
    marks = {preset_mark(p.slug) for p in PRESETS}
    assert marks <= set(range(PRESET_MARK_COLOURS))
    assert len(marks) >= 8


def test_every_tile_has_a_decorative_mark_with_its_initials(tenant: Tenant, admin_client: Client) -> None:
    page = admin_client.get(reverse("integration-wizard"))
    marks = re.findall(
        r'<span class="preset-mark preset-mark-(\d+)" aria-hidden="true" data-preset-mark>([^<]+)</span>',
        page.text,
    )
    assert len(marks) == len(PRESETS)
    carddav = page.text.split('data-preset="carddav"')[1]
    assert re.search(r'preset-mark-0" aria-hidden="true" data-preset-mark>CD<', carddav)


def test_the_crms_error_in_the_reason_follows_the_readers_language(
    tenant: Tenant, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crm(monkeypatch, {"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567")})
    error = Text(
        gettext_noop("%(what)s had a server error (HTTP %(status)s%(suffix)s)."),
        what="CardDAV",
        status=500,
        suffix="",
    )

    def failing(**kwargs: object) -> list[object]:
        raise ConnectorError(error)

    monkeypatch.setattr(wizard, "integration_sample_records", failing)
    settings_url = start(admin_client, "carddav")
    admin_client.post(settings_url, carddav_settings())  # fetched in English
    page = admin_client.get(step(settings_url, "fields"), HTTP_ACCEPT_LANGUAGE="nl")
    assert (
        "Een voorbeeldrecord: het CRM kon niet worden bevraagd: CardDAV had een serverfout (HTTP 500)."
        in page.text
    )
