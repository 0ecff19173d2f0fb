"""English and Dutch (issue 8, item 8): the catalog is complete, every template string goes through
gettext, every page renders in Dutch without an English sentence of the catalog, the browser's
Accept-Language chooses and the frame's switch overrides, dates follow the language and times the
tenant's time zone.

Texts written in Python are in the catalog too: preset data (descriptions, settings' labels and
help, record fields), the test lookup's reasons, connector and sync errors (stored with their
template, shown in the reader's language), the script engine's errors, the audit log's words and
the PBX pages; `tests/test_i18n_engine.py` checks every message marked in Python is translated and
that these reach a Dutch page in Dutch. Only CRM product names (a preset's name) stay as they are,
and the JSON APIs for PBXs (match, catalog, PBX events) answer in English whatever the
Accept-Language.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from integrations.ignore_list import ignored_number_add
from integrations.models import Integration
from integrations.pbx.services import pbx_sender_create
from integrations.registry import PRESETS
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.call_journal_helpers import journal_entry, synced_address_book
from tests.conftest import PASSWORD

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "nl" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


@dataclass
class Entry:
    """One message of a .po file."""

    msgid: str
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: str = ""


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header and obsolete `#~` entries left out)."""
    entries: list[Entry] = []
    current: Entry | None = None
    target = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip() or line.startswith("#~"):
            if current is not None and current.msgid:
                entries.append(current)
            current = None
            continue
        if current is None:
            current = Entry(msgid="")
        if line.startswith("#,"):
            current.flags += line
        elif match := re.match(r'(msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line):
            target = match.group(1)
            value = json.loads(match.group(2))
            if target == "msgid":
                current.msgid = value
            elif target == "msgid_plural":
                current.msgid_plural = value
            else:
                current.msgstr.append(value)
        elif line.startswith('"'):
            value = json.loads(line)
            if target == "msgid":
                current.msgid += value
            elif target == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + value
            elif target.startswith("msgstr"):
                current.msgstr[-1] += value
    return entries


CATALOG = read_po(PO)


def english_sentences() -> list[str]:
    """The catalog's English texts long enough to tell a leftover from chance: three words or more,
    cut at placeholders and markup, and different from their Dutch translation."""
    sentences: set[str] = set()
    for entry in CATALOG:
        translations = set(entry.msgstr)
        for source in filter(None, (entry.msgid, entry.msgid_plural)):
            for chunk in re.split(r"%\(\w+\)s|<[^>]+>|&\w+;", source):
                chunk = chunk.strip(" .,:;()“”")
                if len(chunk.split()) >= 3 and not any(chunk in t for t in translations):
                    sentences.add(chunk)
    return sorted(sentences)


# A preset's name is a product name, not translated: a sentence of the catalog that a name also
# uses ("Generic JSON REST API") is not counted as a leftover.
PRESET_TEXT = " ".join(p.name for p in PRESETS)
ENGLISH = [sentence for sentence in english_sentences() if sentence not in PRESET_TEXT]


def visible_text(page: str) -> str:
    """What a reader or a screen reader gets: text, plus titles, labels and placeholders."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    attributes = re.findall(
        r'\b(?:title|aria-label|placeholder|alt|data-confirm|data-[a-z-]*label)="([^"]*)"', page
    )
    text = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(text + " " + " ".join(attributes)))


# The catalog --------------------------------------------------------------------------------------


def test_every_message_of_the_dutch_catalog_is_translated() -> None:
    assert len(CATALOG) > 500
    untranslated = [e.msgid for e in CATALOG if not e.msgstr or not all(s.strip() for s in e.msgstr)]
    fuzzy = [e.msgid for e in CATALOG if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []
    plurals = [e for e in CATALOG if e.msgid_plural]
    assert plurals
    assert all(len(e.msgstr) == 2 for e in plurals)


def test_translations_keep_every_placeholder() -> None:
    for entry in CATALOG:
        wanted = set(re.findall(r"%\(\w+\)s", entry.msgid_plural or entry.msgid))
        assert set(re.findall(r"%\(\w+\)s", entry.msgstr[-1])) == wanted, entry.msgid


def test_the_compiled_catalog_is_not_older_than_the_po_file() -> None:
    assert MO.exists(), "locale/nl/LC_MESSAGES/django.mo is missing: run bin/setup (compilemessages)"
    assert MO.stat().st_mtime >= PO.stat().st_mtime, "django.mo is stale: run bin/setup (compilemessages)"


def test_no_template_has_text_outside_translate_tags() -> None:
    """Every word a template shows is in {% translate %} or {% blocktranslate %} (code, brand
    initials and placeholders of the script language aside)."""
    leftovers = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        if "drf_spectacular" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        source = re.sub(r"\{% comment %\}.*?\{% endcomment %\}|\{#.*?#\}", " ", source, flags=re.S)
        # Text handed to an include or a default filter must be translated before.
        leftovers += [
            f"{path.name}: {s}" for s in re.findall(r'(?:with \w+=|default:)"([A-Z][a-z]* [^"]*)"', source)
        ]
        source = re.sub(r"\{% blocktranslate.*?\{% endblocktranslate %\}", " ", source, flags=re.S)
        source = re.sub(r"<(script|style|pre|code|kbd)\b.*?</\1>", " ", source, flags=re.S)
        source = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", " ", source)
        for value in re.findall(
            r'\b(?:title|aria-label|placeholder|alt|data-confirm|data-[a-z-]*label)="([^"]*)"', source
        ):
            if re.search(r"[A-Za-z]{3}", value):
                leftovers.append(f"{path.name}: {value}")
        for text in re.split(r"<[^>]*>", re.sub(r"<[^>]*>", "<>", source)):
            # Ids (a block's skip target, "agent-page") are not prose.
            text = re.sub(r"\b[a-z0-9]+(?:[-_][a-z0-9]+)+\b", " ", text).strip()
            if re.search(r"[A-Za-z]{2}", text) and not re.fullmatch(r"[A-Z0-9 .,:/()_·-]{1,20}", text):
                leftovers.append(f"{path.name}: {text}")
    assert leftovers == []


# Every page in Dutch ------------------------------------------------------------------------------


@dataclass
class World:
    """One tenant with something on every page."""

    tenant: Tenant
    book: Integration
    pop: Integration
    script_id: int
    api_key_prefix: str


@pytest.fixture
def world(tenant: Tenant) -> World:
    book = synced_address_book(tenant, "Sales CRM")
    pop = integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Web search",
        settings_values={"search_url": "https://www.google.nl?q="},
    )
    script = script_create(
        tenant=tenant,
        integration=None,
        name="Search Google",
        template="https://www.google.nl?q=#(Caller number)",
    )
    api_key, _key = api_key_create(tenant=tenant, name="Main office PBX")
    ignored_number_add(tenant=tenant, number="+31201112222")
    journal_entry(tenant, dt.datetime.now(dt.UTC))
    journal_entry(tenant, dt.datetime.now(dt.UTC), matched=False, caller_e164="+31209999999")
    pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad")
    return World(tenant, book, pop, script.pk, api_key.prefix)


def wizard_step(client: Client, step: str) -> str:
    """The URL of `step` of a CardDAV wizard filled in up to it (no connection test: step 2 is
    reached with its settings unsaved, and the later steps need only the preset)."""
    response = client.post(reverse("integration-wizard"), {"preset": "carddav"})
    settings_url = str(response["Location"])
    return settings_url.rsplit("/", 2)[0] + f"/{step}/"


PAGES: dict[str, Callable[[Client, World], str]] = {
    "home": lambda c, w: reverse("home"),
    "wizard: choose preset": lambda c, w: reverse("integration-wizard"),
    "wizard: no preset matches": lambda c, w: reverse("integration-wizard") + "?q=xyzzy",
    "wizard: CRM configuration": lambda c, w: wizard_step(c, "settings"),
    "overview with phone data": lambda c, w: reverse("integration-overview", args=[w.book.pk]),
    "overview of a screen pop": lambda c, w: reverse("integration-overview", args=[w.pop.pk]),
    "edit": lambda c, w: reverse("integration-edit", args=[w.book.pk]),
    "delete": lambda c, w: reverse("integration-delete", args=[w.book.pk]),
    "add a tenant-wide script": lambda c, w: reverse("script-add"),
    "add an integration script": lambda c, w: reverse("integration-script-add", args=[w.book.pk]),
    "edit a script": lambda c, w: reverse("script-edit", args=[w.script_id]),
    "API keys": lambda c, w: reverse("api-keys"),
    "revoke an API key": lambda c, w: reverse("api-key-revoke-confirm", args=[w.api_key_prefix]),
    "audit log": lambda c, w: reverse("audit-log"),
    "test lookup": lambda c, w: reverse("test-lookup") + "?caller_number=%2B31201234567",
    "ignore list": lambda c, w: reverse("ignore-list"),
    "call log": lambda c, w: reverse("call-log"),
    "server requests": lambda c, w: reverse("server-requests"),
    "match quality": lambda c, w: reverse("match-quality"),
    "connect your PBX": lambda c, w: reverse("pbx-senders"),
    "agents": lambda c, w: reverse("agents"),
    "catalog": lambda c, w: reverse("catalog"),
    "old add form": lambda c, w: reverse("integration-add", args=["web_search"]),
}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_speaks_dutch_to_a_dutch_browser(name: str, world: World, admin_client: Client) -> None:
    url = PAGES[name](admin_client, world)
    response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9,en;q=0.5")

    assert response.status_code == 200, url
    assert '<html lang="nl"' in response.text
    text = visible_text(response.text)
    if name != "catalog":
        assert "Nieuwe koppeling toevoegen" in text  # the frame
    leftovers = [sentence for sentence in ENGLISH if sentence in text]
    assert leftovers == [], f"{url}: {leftovers}"


def test_the_wizard_steps_after_the_crm_configuration_speak_dutch(
    world: World, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_url = wizard_step(admin_client, "settings")
    response = admin_client.post(
        settings_url,
        {"name": "Webzoeker", "settings-search_url": "https://duckduckgo.com/?q=", "action": "next"},
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    assert response.status_code == 200  # CardDAV wants its address: the errors are Dutch too
    assert "dit veld is verplicht" in response.text
    response = admin_client.post(reverse("integration-wizard"), {"preset": "web_search"})
    settings_url = str(response["Location"])
    admin_client.post(
        settings_url,
        {"name": "Webzoeker", "settings-search_url": "https://duckduckgo.com/?q=", "action": "next"},
    )
    for step in ("scripts", "review"):
        page = admin_client.get(settings_url.rsplit("/", 2)[0] + f"/{step}/", HTTP_ACCEPT_LANGUAGE="nl")
        assert page.status_code == 200
        text = visible_text(page.text)
        assert [sentence for sentence in ENGLISH if sentence in text] == [], step
    assert "Voltooien" in text


def test_sign_in_refusal_and_404_pages_speak_dutch(tenant: Tenant, client: Client, world: World) -> None:
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl")
    assert "Inloggen" in page.text
    assert "Sign in" not in visible_text(page.text)
    missing = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="nl")
    assert missing.status_code == 404
    assert "Pagina niet gevonden" in missing.text
    assert [s for s in ENGLISH if s in visible_text(missing.text)] == []
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    refused = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="nl")
    assert refused.status_code == 403
    assert "Neem contact op met uw telefonieaanbieder" in refused.text
    assert "Ingelogd als member." in refused.text


# Choosing the language -------------------------------------------------------------------------


@pytest.mark.django_db
def test_english_is_the_default_and_the_browser_chooses(admin_client: Client) -> None:
    assert '<html lang="en"' in admin_client.get(reverse("home")).text
    assert "Add New Integration" in admin_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="de").text
    dutch = admin_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="nl-BE,nl;q=0.9")
    assert '<html lang="nl"' in dutch.text
    assert "Eerste stappen" in dutch.text


@pytest.mark.django_db
def test_the_switch_in_the_frame_overrides_the_browser_without_javascript(admin_client: Client) -> None:
    home = admin_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
    assert 'action="/i18n/setlang/"' in home.text
    assert 'name="language" value="nl"' in home.text

    response = admin_client.post(
        reverse("set_language"), {"language": "nl", "next": reverse("api-keys")}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("api-keys")
    page = admin_client.get(reverse("api-keys"), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="nl"' in page.text
    assert "Een sleutel maken" in page.text
    assert 'aria-pressed="true"' in page.text.split('value="nl"')[1][:200]

    admin_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Create a key" in admin_client.get(reverse("api-keys"), HTTP_ACCEPT_LANGUAGE="nl").text


def test_the_switch_refuses_a_next_that_leaves_the_site(admin_client: Client) -> None:
    response = admin_client.post(reverse("set_language"), {"language": "nl", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.django_db
def test_an_unknown_language_changes_nothing(admin_client: Client) -> None:
    admin_client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert '<html lang="en"' in admin_client.get(reverse("home")).text


# Dates and numbers ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_dates_follow_the_language_and_times_the_tenants_time_zone(
    tenant: Tenant, admin_client: Client
) -> None:
    tenant.time_zone = "Europe/Amsterdam"
    tenant.save()
    with time_machine.travel(dt.datetime(2026, 3, 9, 14, 5, tzinfo=dt.UTC), tick=False):
        api_key_create(tenant=tenant, name="Main office PBX")
    english = admin_client.get(reverse("api-keys"), HTTP_ACCEPT_LANGUAGE="en").text
    dutch = admin_client.get(reverse("api-keys"), HTTP_ACCEPT_LANGUAGE="nl").text
    assert "2026-03-09 15:05" in english  # 14:05 UTC is 15:05 in Amsterdam (CET)
    assert "9-3-2026 15:05" in dutch


@pytest.mark.django_db
def test_decimal_numbers_follow_the_language(tenant: Tenant, admin_client: Client) -> None:
    journal_entry(tenant, dt.datetime.now(dt.UTC), duration_ms=3.5)
    assert "3.5 ms" in admin_client.get(reverse("call-log"), HTTP_ACCEPT_LANGUAGE="en").text
    assert "3,5 ms" in admin_client.get(reverse("call-log"), HTTP_ACCEPT_LANGUAGE="nl").text


@pytest.mark.django_db
def test_the_call_chart_keeps_decimal_points_in_dutch(tenant: Tenant, admin_client: Client) -> None:
    for days in range(3):
        journal_entry(tenant, dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    page = admin_client.get(reverse("call-log"), HTTP_ACCEPT_LANGUAGE="nl").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    elements = re.findall(r"<(?:rect|text|line)\b([^>]*)>", svg)
    coordinates = [
        v for attrs in elements for v in re.findall(r'\b(?:x1?|y1?|x2|y2|width|height)="([^"]*)"', attrs)
    ]
    assert coordinates
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for value in coordinates), coordinates


@pytest.mark.django_db
def test_messages_after_an_action_are_dutch(tenant: Tenant, admin_client: Client) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Web search",
        settings_values={"search_url": "https://www.google.nl?q="},
    )
    response = admin_client.post(
        reverse("integration-disable", args=[integration.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="nl"
    )
    assert "Web search is uitgeschakeld; de matches worden onderdrukt." in response.text
