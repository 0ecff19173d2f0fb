"""Dutch beyond the templates (issue 8, item 8): what Python writes reaches a Dutch page in Dutch.

The test lookup's reasons, preset data (descriptions, settings, fields), connector and sync errors
(stored by a Celery sync with no language, shown later in the reader's), the script engine's
errors, the audit log's words; while the JSON APIs a PBX reads stay English whatever
Accept-Language it sends.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from integrations.connectors.base import ConnectorError, http_error
from integrations.ignore_list import ignored_number_add
from integrations.models import Integration, SyncRun
from integrations.services import integration_create, integration_set_enabled, script_create
from integrations.sync import STALE_MESSAGE, fail_stale_sync, phone_cache_sync
from integrations.texts import Text, stored_text
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.call_journal_helpers import synced_address_book
from tests.carddav_double import CardDavDouble, vcard
from tests.test_i18n import CATALOG, ENGLISH, visible_text

ROOT = Path(settings.BASE_DIR)
DUTCH = "nl-NL,nl;q=0.9,en;q=0.5"
# The functions whose first argument is a message of the catalog (Django's and the engine's marker).
MARKERS = {"gettext", "gettext_lazy", "gettext_noop", "_", "ngettext", "ngettext_lazy", "pgettext"}


def python_messages() -> dict[str, str]:
    """Every message marked in the product's Python code: msgid -> "path:line"."""
    found: dict[str, str] = {}
    for package in ("agents", "configurator", "integrations", "scripts_engine"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[1 if name == "pgettext" else 0] if name == "pgettext" else node.args[0]
                if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


# The catalog ---------------------------------------------------------------------------------


def test_every_message_marked_in_python_has_a_dutch_translation() -> None:
    messages = python_messages()
    assert len(messages) > 700
    translated = {
        e.msgid for e in CATALOG if e.msgstr and all(s.strip() for s in e.msgstr) and "fuzzy" not in e.flags
    }
    missing = sorted(
        f"{where}: {msgid}" for msgid, where in messages.items() if msgid and msgid not in translated
    )
    assert missing == []


def test_every_text_is_built_from_a_marked_template() -> None:
    """`Text("literal")` or `Text(f"...")` would never be in the catalog: the first argument is a
    gettext_noop call, a name bound to one, or a value passed through."""
    unmarked = []
    for package in ("configurator", "integrations"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "Text"
                    and node.args
                    and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
                ):
                    unmarked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unmarked == []


def test_the_dutch_of_the_engine_and_the_connectors_keeps_every_placeholder() -> None:
    messages = python_messages()
    for entry in CATALOG:
        if entry.msgid in messages:
            wanted = sorted(re.findall(r"%\(\w+\)s|%%", entry.msgid))
            assert sorted(re.findall(r"%\(\w+\)s|%%", entry.msgstr[-1])) == wanted, entry.msgid


# Text: English where it is stored, the reader's language where it is shown --------------------------


def test_a_text_is_its_english_sentence_and_shows_in_the_active_language() -> None:
    error = Text(
        gettext_noop_("%(what)s refused the credentials (HTTP 401)."), what=Text(gettext_noop_("The CRM"))
    )

    assert error == "The CRM refused the credentials (HTTP 401)."
    with translation.override("nl"):
        assert str(error) == "The CRM refused the credentials (HTTP 401)."
        assert error.translated() == "Het CRM weigerde de inloggegevens (HTTP 401)."
        assert error.__html__() == "Het CRM weigerde de inloggegevens (HTTP 401)."
    assert json.dumps({"error": error}) == '{"error": "The CRM refused the credentials (HTTP 401)."}'


def test_a_text_survives_json_and_copying_with_its_template() -> None:
    """Copying goes through `__reduce__`, as Celery's pickling of a ConnectorError does."""
    error = Text(
        gettext_noop_("%(what)s had a server error (HTTP %(status)s%(suffix)s)."),
        what="HubSpot",
        status=503,
        suffix="",
    )
    for again in (Text.from_json(json.loads(json.dumps(error.to_json()))), copy.deepcopy(error)):
        assert again == error
        with translation.override("nl"):
            assert again.translated() == "HubSpot had een serverfout (HTTP 503)."


def test_a_stored_message_without_its_template_falls_back_to_the_catalog_or_itself() -> None:
    with translation.override("nl"):
        # An old row: the English text only. A whole message of the catalog is still translated.
        assert stored_text(str(STALE_MESSAGE), None).startswith(
            "De synchronisatie stopte zonder af te ronden"
        )
        assert stored_text("Something the catalog never saw.", None) == "Something the catalog never saw."
        # A template that no longer builds the stored text (the text was edited): the text wins.
        assert stored_text("Edited by hand.", STALE_MESSAGE.to_json()) == "Edited by hand."
        assert stored_text("", STALE_MESSAGE.to_json()) == ""


def gettext_noop_(message: str) -> str:
    """`gettext_noop` under another name, so that these test sentences stay out of the catalog."""
    return message


# The test lookup --------------------------------------------------------------------------------


def _lookup(client: Client, number: str) -> str:
    response = client.get(reverse("test-lookup"), {"caller_number": number}, HTTP_ACCEPT_LANGUAGE=DUTCH)
    assert response.status_code == 200
    assert '<html lang="nl"' in response.text
    # The reasons; the answer below them is the API's, byte for byte (English).
    text = visible_text(response.text.split('id="answer"')[0])
    leftovers = [sentence for sentence in ENGLISH if sentence in text]
    assert leftovers == []
    return text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "dutch"),
    [
        ("+31201234567", "gelezen als +31201234567 (E.164), met NL als standaardland"),
        ("201", "een intern nummer (een toestel): interne nummers worden nooit gematcht"),
        ("anonymous", "een afgeschermd nummer: het matcht niets"),
    ],
)
def test_the_test_lookup_explains_the_number_in_dutch(
    tenant: Tenant, admin_client: Client, number: str, dutch: str
) -> None:
    synced_address_book(tenant, "Sales CRM")
    script_create(
        tenant=tenant,
        integration=None,
        name="Search Google",
        template="https://www.google.nl?q=#(Caller number)",
    )

    text = _lookup(admin_client, number)

    assert dutch in text
    assert "read as" not in text
    assert "internal numbers are never matched" not in text


@pytest.mark.django_db
def test_the_test_lookup_explains_a_match_and_a_miss_per_integration_in_dutch(
    tenant: Tenant, admin_client: Client
) -> None:
    synced_address_book(tenant, "Sales CRM")
    popup = integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Web search",
        settings_values={"search_url": "https://www.google.nl?q="},
    )
    assert popup.pk

    text = _lookup(admin_client, "+31209999999")

    assert "geen record: het nummer staat niet in de cache van" in text
    assert "een screen-pop-koppeling: ze heeft geen nummers om te doorzoeken" in text
    assert "doorzocht" in text
    assert "not in its cache" not in text


@pytest.mark.django_db
def test_the_test_lookup_explains_an_ignored_caller_in_dutch(tenant: Tenant, admin_client: Client) -> None:
    synced_address_book(tenant, "Sales CRM")
    script_create(
        tenant=tenant,
        integration=None,
        name="Search Google",
        template="https://www.google.nl?q=#(Caller number)",
    )
    ignored_number_add(tenant=tenant, number="+31201112222")

    text = _lookup(admin_client, "+31201112222")

    assert "niet doorzocht: de beller staat op de negeerlijst" in text
    assert "de beller staat op de negeerlijst: geen acties" in text
    assert "the caller is on the ignore list" not in text


@pytest.mark.django_db
def test_the_test_lookup_explains_a_disabled_integration_in_dutch(
    tenant: Tenant, admin_client: Client
) -> None:
    book = synced_address_book(tenant, "Sales CRM")
    integration_set_enabled(tenant=tenant, integration=book, enabled=False)

    text = _lookup(admin_client, "+31201234567")

    assert "uitgeschakeld: ze matcht niets tot ze wordt ingeschakeld" in text
    assert "disabled: it matches nothing" not in text


# Presets ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_preset_tiles_speak_dutch(tenant: Tenant, admin_client: Client) -> None:
    page = admin_client.get(reverse("integration-wizard"), HTTP_ACCEPT_LANGUAGE=DUTCH).text
    text = visible_text(page)

    assert "Elke CardDAV-server: Nextcloud, iCloud, Radicale, SOGo, veel telefoonboeken (RFC 6352)." in text
    assert "Zoekt op het web naar het nummer van de beller" in text
    assert "Any CardDAV server" not in text
    assert "Searches the web for the caller's number" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("preset", "dutch", "english"),
    [
        (
            "carddav",
            ["Adresboek-URL", "Wachtwoord of app-wachtwoord"],
            ["Address book URL", "Password or app password"],
        ),
        (
            "ldap",
            ["Bind-wachtwoord", "Zoekfilter", "StartTLS gebruiken (alleen ldap://)"],
            ["Bind password", "Search filter"],
        ),
        (
            "hubspot",
            ["Toegangstoken van de private app", "Meer OAuth-scopes"],
            ["Private app access token", "More OAuth scopes"],
        ),
        (
            "web_search",
            ["Zoekmachine", "Google (google.nl)"],
            ["Search engine"],
        ),
    ],
)
def test_the_crm_configuration_step_speaks_dutch(
    tenant: Tenant, admin_client: Client, preset: str, dutch: list[str], english: list[str]
) -> None:
    response = admin_client.post(
        reverse("integration-wizard"), {"preset": preset}, HTTP_ACCEPT_LANGUAGE=DUTCH
    )
    page = admin_client.get(str(response["Location"]), HTTP_ACCEPT_LANGUAGE=DUTCH)

    assert page.status_code == 200
    text = visible_text(page.text)
    assert all(label in text for label in dutch), text
    assert [label for label in english if label in text] == []


@pytest.mark.django_db
def test_the_catalog_api_stays_english_for_a_dutch_client(client: Client) -> None:
    answer = client.get(reverse("api-catalog"), {"q": "carddav"}, HTTP_ACCEPT_LANGUAGE="nl").json()

    carddav = next(p for p in answer["presets"] if p["slug"] == "carddav")
    assert carddav["description"].startswith("Any CardDAV server")
    assert (
        any(s["label"] == "Address book URL" for s in carddav.get("settings", []))
        or "settings" not in carddav
    )


# Connector errors stored by a sync ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_sync_that_met_bad_credentials_shows_its_error_in_the_readers_language(
    tenant: Tenant, admin_client: Client
) -> None:
    double = CardDavDouble({"jan.vcf": vcard("jan", "Jan Jansen", "work:+31 20 123 4567")})
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    double.password = "changed-on-the-server"
    with translation.override(None):  # a Celery worker: no request, no language
        result = phone_cache_sync(
            integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
        )
    assert result.status == "failed"

    integration.refresh_from_db()
    english = "The CardDAV server refused the credentials (HTTP 401)."
    dutch = "De CardDAV-server weigerde de inloggegevens (HTTP 401)."
    assert integration.last_error == english  # what the API and the CSV read
    assert SyncRun.objects.get(integration=integration).error == english
    overview = reverse("integration-overview", args=[integration.pk])

    nl = admin_client.get(overview, HTTP_ACCEPT_LANGUAGE=DUTCH).text
    en = admin_client.get(overview, HTTP_ACCEPT_LANGUAGE="en").text

    assert dutch in nl  # the status, the sync history and the sidebar

    assert english not in nl
    assert nl.count(dutch) >= 3
    assert english in en
    assert dutch not in en


@pytest.mark.django_db
def test_a_sync_whose_worker_died_says_so_in_dutch(tenant: Tenant, admin_client: Client) -> None:
    book = synced_address_book(tenant, "Sales CRM")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    Integration.objects.filter(pk=book.pk).update(
        sync_state="running", sync_run_token="dead", sync_started_at=started, sync_heartbeat_at=started
    )
    assert fail_stale_sync(integration_id=book.pk)

    page = admin_client.get(reverse("integration-overview", args=[book.pk]), HTTP_ACCEPT_LANGUAGE=DUTCH).text

    assert "De synchronisatie stopte zonder af te ronden (de worker is gestopt)" in page
    assert str(STALE_MESSAGE) not in page


def test_connector_errors_are_built_without_a_request_and_read_in_either_language() -> None:
    request = httpx.Request("GET", "https://crm.example.com/contacts")
    error = http_error(httpx.Response(403, request=request), what="HubSpot")

    assert isinstance(error, ConnectorError)
    assert error.message == "HubSpot denied access: no permission (HTTP 403)."
    with translation.override("nl"):
        assert error.message.translated() == "HubSpot weigerde de toegang: geen rechten (HTTP 403)."  # type: ignore[attr-defined]


# The script engine -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_script_with_a_syntax_error_shows_the_engines_error_in_dutch(
    tenant: Tenant, admin_client: Client
) -> None:
    response = admin_client.post(
        reverse("script-add"),
        {"name": "Kapot", "template": "https://x.example/?q=#(Caller number", "applies": "always"},
        HTTP_ACCEPT_LANGUAGE=DUTCH,
    )
    text = visible_text(response.text)
    assert re.search(r"Deze .#\(. heeft geen sluithaakje .\). \(bij teken 22\)", text), text
    assert "has no closing bracket" not in text

    preview = admin_client.post(
        reverse("script-preview"),
        {"template": "https://x.example/?q=#(Caller nummer)", "applies": "always"},
        HTTP_ACCEPT_LANGUAGE=DUTCH,
    )
    text = visible_text(preview.text)
    assert re.search(r"Onbekend gespreksgegeven .Caller nummer.; gebruik een van:", text), text
    assert "Unknown call property" not in text


# The audit log ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_logs_words_are_dutch(tenant: Tenant, admin_client: Client) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Zoeker",
        settings_values={"search_url": "https://www.google.nl?q="},
    )
    admin_client.post(reverse("integration-disable", args=[integration.pk]), HTTP_ACCEPT_LANGUAGE=DUTCH)

    text = visible_text(admin_client.get(reverse("audit-log"), HTTP_ACCEPT_LANGUAGE=DUTCH).text)

    assert "Koppeling “Zoeker”" in text
    assert "aangemaakt" in text
    assert "uitgeschakeld" in text
    assert "voorinstelling" in text
    assert not re.search(r"\b(created|disabled|Integration “)", text), re.findall(
        r".{80}\b(?:created|disabled)\b.{40}", text
    )


# The APIs a PBX reads -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_match_api_answers_a_dutch_pbx_in_english(tenant: Tenant, client: Client) -> None:
    synced_address_book(tenant, "Sales CRM")
    _api_key, key = api_key_create(tenant=tenant, name="Main office PBX")

    refused = client.get(reverse("api-match"), {"caller_number": "+31201234567"}, HTTP_ACCEPT_LANGUAGE="nl")
    bad = client.get(reverse("api-match"), {}, HTTP_ACCEPT_LANGUAGE="nl", HTTP_AUTHORIZATION=f"Api-Key {key}")
    good = client.get(
        reverse("api-match"),
        {"caller_number": "+31201234567"},
        HTTP_ACCEPT_LANGUAGE="nl",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )

    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("Send the tenant's API key")
    # Django REST framework's own texts have a Dutch catalog: the API does not use it.
    put = client.put(reverse("api-match"), HTTP_ACCEPT_LANGUAGE="nl", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert put.status_code == 405
    assert put.json()["detail"] == 'Method "PUT" not allowed.'
    assert bad.status_code == 400
    assert "is required" in bad.json()["errors"]["caller_number"]
    assert good.status_code == 200
    assert good.json()["matches"]


@pytest.mark.django_db
def test_the_pbx_event_endpoint_answers_a_dutch_pbx_in_english(client: Client) -> None:
    response = client.get("/pbx/zammad/no-such-token/", HTTP_ACCEPT_LANGUAGE="nl")

    assert response.status_code == 405
    assert "PBX events are sent with POST." in response.text
