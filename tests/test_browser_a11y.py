"""Accessibility (issue 8, item 9): axe-core, installed from npm (package.json), runs in Chromium on
every page of the admin UI and finds no serious or critical violation; the skip link is the first
stop of the keyboard and moves focus to the content; a focused control shows a visible ring.

axe is evaluated through the DevTools protocol (page.evaluate), which the pages' Content-Security-
Policy does not govern: nothing is changed on the pages for the test.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect

from integrations import services, sync
from integrations.ignore_list import ignored_number_add
from integrations.models import Integration
from integrations.pbx.services import pbx_sender_create
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tenants.services import api_key_create, tenant_create
from tests.call_journal_helpers import journal_entry, synced_address_book
from tests.carddav_double import URL, CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 (the fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser

AXE = Path(settings.NODE_MODULES_DIR) / "axe-core" / "axe.min.js"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page as it is now (WCAG 2.x A/AA
    and best practices), each as {id, impact, help, targets}."""
    assert AXE.exists(), "axe-core is missing from node_modules: run bin/setup (npm install)"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in results if v["impact"] in ("serious", "critical")]


@dataclass
class World:
    """A tenant with something on every page, and its admin's page."""

    tenant: Tenant
    book: Integration
    pop: Integration
    script_id: int
    api_key_prefix: str
    entry_id: int


@pytest.fixture
def world(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> World:
    fake = CardDavDouble({"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567", org="Acme")})
    monkeypatch.setattr(services, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(sync, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(services, "_url_host_refused", lambda value, **kwargs: False)
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
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
    entry = journal_entry(tenant, dt.datetime.now(dt.UTC), integration_ids=[book.pk])
    journal_entry(tenant, dt.datetime.now(dt.UTC), matched=False, caller_e164="+31209999999")
    pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad")
    return World(tenant, book, pop, script.pk, api_key.prefix, entry.pk)


@pytest.fixture
def page(browser: Browser, live_server, world: World) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    yield page
    context.close()
    assert violations == [], "the pages broke the Content-Security-Policy"


def wizard_at(page: Page, step: str) -> None:
    """Walk a CardDAV wizard up to `step` (settings, fields, scripts or review)."""
    page.goto("/integrations/new/")
    page.locator("button[name=preset][value=carddav]").click()
    if step == "settings":
        return
    page.fill("input[name=name]", "Contacts")
    page.fill("input[name='settings-url']", URL)
    page.fill("input[name='settings-username']", "alice")
    page.fill("input[name='settings-password']", "secret")
    page.locator("button[name=action][value=next]").click()
    expect(page.locator("[data-testid=wizard-ribbon] [aria-current=step]")).to_contain_text("3.")
    if step == "fields":
        return
    page.locator("button[name=action][value=next]").click()
    expect(page.locator("[data-testid=wizard-ribbon] [aria-current=step]")).to_contain_text("4.")
    if step == "scripts":
        return
    page.locator("button[name=action][value=next]").click()
    expect(page.locator("[data-testid=wizard-ribbon] [aria-current=step]")).to_contain_text("5.")


def script_dialog(page: Page, world: World) -> None:
    """The main screen with the script dialog open and its preview showing a link."""
    page.goto("/")
    page.locator("main").get_by_role("link", name="Add New Script").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("textarea[name=template]").fill("https://www.google.nl?q=#(Caller number)")
    expect(dialog.locator("#preview-link")).to_be_visible()


def visit(url: str) -> Callable[[Page, World], object]:
    return lambda page, world: page.goto(url)


PAGES: dict[str, Callable[[Page, World], Any]] = {
    "home": visit("/"),
    "wizard 1: choose preset": visit("/integrations/new/"),
    "wizard 2: CRM configuration": lambda page, world: wizard_at(page, "settings"),
    "wizard 3: call notification": lambda page, world: wizard_at(page, "fields"),
    "wizard 4: scripts": lambda page, world: wizard_at(page, "scripts"),
    "wizard 5: review": lambda page, world: wizard_at(page, "review"),
    "overview": lambda page, world: page.goto(f"/integrations/{world.book.pk}/"),
    "overview of a screen pop": lambda page, world: page.goto(f"/integrations/{world.pop.pk}/"),
    "edit": lambda page, world: page.goto(f"/integrations/{world.book.pk}/edit/"),
    "delete": lambda page, world: page.goto(f"/integrations/{world.book.pk}/delete/"),
    "add a script": visit("/scripts/add/"),
    "the script dialog": script_dialog,
    "add an integration script": lambda page, world: page.goto(f"/integrations/{world.book.pk}/scripts/add/"),
    "edit a script": lambda page, world: page.goto(f"/scripts/{world.script_id}/edit/"),
    "call log": visit("/call-log/"),
    "call log entry": lambda page, world: page.goto(f"/call-log/{world.entry_id}/"),
    "server requests": visit("/call-log/server-requests/"),
    "match quality": visit("/match-quality/"),
    "ignore list": visit("/ignore-list/"),
    "test lookup": visit("/test-lookup/?caller_number=%2B31201234567"),
    "connect your PBX": visit("/pbx/"),
    "agents": visit("/agents/"),
    "API keys": visit("/api-keys/"),
    "revoke an API key": lambda page, world: page.goto(f"/api-keys/{world.api_key_prefix}/revoke/confirm/"),
    "audit log": visit("/audit-log/"),
    "catalog": visit("/catalog/"),
    "404": visit("/no/such/page/"),
}


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_violation(name: str, page: Page, world: World) -> None:
    PAGES[name](page, world)
    expect(page.locator("h1").first).to_be_visible()

    assert axe_violations(page) == [], name


def test_axe_finds_no_serious_violation_on_the_sign_in_page(
    browser: Browser,  # noqa: F811
    live_server,
    world: World,
) -> None:
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/login/")
    assert axe_violations(page) == []
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == []  # with the form's error
    context.close()


def test_axe_finds_no_serious_violation_in_dark_mode_and_on_a_phone(
    browser: Browser,  # noqa: F811
    live_server,
    world: World,
) -> None:
    context = browser.new_context(
        base_url=live_server.url, color_scheme="dark", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    for url in ("/", f"/integrations/{world.book.pk}/", "/call-log/"):
        page.goto(url)
        assert axe_violations(page) == [], url
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#app-sidebar")).to_be_visible()
    assert axe_violations(page) == [], "the open menu"
    context.close()


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(page: Page, tmp_path: Path) -> None:
    page.goto("/api-keys/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # visually hidden until focused
    keep_screenshot(page, tmp_path, "skip-link.png", prefix="a11y")
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused, "the next Tab stays in the content, past the top bar and the sidebar"


def test_a_focused_control_shows_a_visible_ring(page: Page) -> None:
    page.goto("/")
    link = page.get_by_role("link", name="API keys").first
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus: :focus-visible applies
    expect(link).to_be_focused()
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline[0] == "solid"
    assert outline[1] >= 2
