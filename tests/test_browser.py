"""The pages in a real headless Chromium (Debian's, driven by Playwright): what needs JavaScript.

`make test` installs Debian's chromium when it is missing; CHROMIUM_PATH overrides where it is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from integrations.services import integration_create
from tenants.services import tenant_create
from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM refuses that unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def watch_csp_violations(page: Page) -> list[str]:
    """Collect the console messages Chromium logs when the Content-Security-Policy blocks something."""
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    return violations


@pytest.fixture
def page(browser: Browser, live_server, transactional_db) -> Iterator[Page]:
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    integration_create(tenant=tenant, preset_slug="web_search", name="Search", settings_values={})
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("Add New Integration").first).to_be_visible()
    yield page
    context.close()
    assert violations == [], "the pages broke the Content-Security-Policy"


def test_the_preset_search_filters_tiles_as_you_type(page: Page):
    page.get_by_text("Add New Integration").first.click()
    tiles = page.locator("[data-filter-item]")
    expect(tiles.first).to_be_visible()
    total = tiles.count()
    assert total >= 4

    # "radicale" is a keyword of the generic CardDAV preset only ("nextcloud" also finds its brand preset).
    page.fill("#preset-search", "radicale")

    visible = page.locator("[data-filter-item]:not(.d-none)")
    expect(visible).to_have_count(1)
    expect(visible.first).to_contain_text("CardDAV")
    page.fill("#preset-search", "nextcloud")
    expect(page.locator("[data-filter-item]:not(.d-none)")).to_have_count(2)
    page.fill("#preset-search", "no such crm at all")
    expect(page.locator("[data-filter-item]:not(.d-none)")).to_have_count(0)
    expect(page.locator("[data-filter-empty]")).to_be_visible()
    page.fill("#preset-search", "")
    expect(page.locator("[data-filter-item]:not(.d-none)")).to_have_count(total)


def test_the_script_dialog_previews_and_validates_as_you_type(page: Page):
    page.get_by_text("Add New Script").first.click()  # the script dialog
    expect(page.locator("#script-dialog-form")).to_be_visible()
    template = page.locator("textarea[name=template], input[name=template]").first

    template.fill("https://www.google.nl?q=")
    page.get_by_role("button", name="#(Caller number)").click()

    preview = page.locator("#script-dialog-preview")
    expect(preview).to_contain_text("https://www.google.nl?q=0201234567")
    assert template.input_value() == "https://www.google.nl?q=#(Caller number)"

    template.fill("https://www.google.nl?q=#(Caler number)")
    expect(preview).to_contain_text("Unknown call property")
    expect(preview).to_contain_text("character 25")


def test_the_overview_offers_disable_and_asks_before_deleting(page: Page, tmp_path):
    page.get_by_role("link", name="Search").first.click()
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_swagger_ui_shows_the_operations_under_the_content_security_policy(
    browser: Browser, live_server, transactional_db
):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)

    response = page.goto("/api/docs/")

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/match").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/catalog")).to_be_visible()
    context.close()
    assert violations == []


def test_an_inline_script_is_blocked_and_the_watch_sees_it(browser: Browser, live_server, transactional_db):
    # The sign-in page with an inline script added: Chromium must refuse it and log the violation.
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/login/")

    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.appendChild(s); }"
    )

    expect(page.locator("input[name=username]")).to_be_visible()
    assert page.evaluate("() => window.ran === undefined")
    context.close()
    assert violations
    assert "script-src" in violations[0]


def test_the_django_admin_runs_under_the_content_security_policy(
    browser: Browser, live_server, transactional_db
):
    get_user_model().objects.create_superuser("root", "", "s3cure-root-pass-2026")
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto(reverse("admin:login"))
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "s3cure-root-pass-2026")
    page.click("input[type=submit]")
    expect(page.get_by_role("link", name="Tenants")).to_be_visible()

    page.goto(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    expect(page.locator("input[name=name]")).to_have_value("Acme")
    context.close()
    assert violations == []
