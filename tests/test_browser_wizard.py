"""The "Add New Integration" wizard in a real headless Chromium (see test_browser): with JavaScript
(search as you type, drag, live preview) and without it (every step a plain form post).

The CardDAV server is tests/carddav_double.py: the live server runs in this process, so the
connection test's and the sync's HTTP clients are swapped for the double's transport.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from integrations import services, sync
from integrations.models import Integration, Script
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.carddav_double import URL, CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 - the module-scoped fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.screenshots import keep_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def tenant(transactional_db, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    fake = CardDavDouble({"jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567", org="Acme")})
    monkeypatch.setattr(services, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(sync, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(services, "_url_host_refused", lambda value, **kwargs: False)
    created, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    return created


def signed_in(browser: Browser, base_url: str, *, javascript: bool) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=base_url, java_script_enabled=javascript)
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


@pytest.fixture
def page(browser: Browser, live_server, tenant: Tenant) -> Iterator[Page]:  # noqa: F811
    yield from signed_in(browser, live_server.url, javascript=True)


@pytest.fixture
def page_without_js(browser: Browser, live_server, tenant: Tenant) -> Iterator[Page]:  # noqa: F811
    yield from signed_in(browser, live_server.url, javascript=False)


def current_step(page: Page) -> Locator:
    return page.locator("[data-testid=wizard-ribbon] [aria-current=step]")


def ribbon_current(page: Page) -> str:
    return page.locator("[data-testid=wizard-ribbon] [aria-current=step]").inner_text()


def test_the_whole_wizard_for_carddav_with_javascript(page: Page, tenant: Tenant, tmp_path: Path) -> None:
    page.get_by_role("link", name="Add New Integration").first.click()
    expect(current_step(page)).to_have_text("1. Choose preset")

    # Step 1: the search filters as you type and says when nothing matches.
    page.fill("#preset-search", "xyzzy")
    expect(page.locator("[data-filter-empty]")).to_be_visible()
    page.fill("#preset-search", "carddav")
    expect(page.locator("[data-filter-empty]")).to_be_hidden()
    keep_screenshot(page, tmp_path, "1-preset.png", prefix="wizard")
    page.locator("button[data-preset=carddav]").click()

    # Step 2: a wrong password fails the test; the right one passes and is then kept.
    expect(current_step(page)).to_have_text("2. CRM configuration")
    page.fill("input[name=name]", "Contacts")
    page.fill("input[name=settings-url]", URL)
    page.fill("input[name=settings-username]", "alice")
    page.fill("input[name=settings-password]", "wrong")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result.alert-danger")).to_be_visible()
    page.fill("input[name=settings-password]", "secret")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result.alert-success")).to_contain_text("Connection OK")
    expect(page.locator("[data-kept=password]")).to_be_visible()
    expect(page.locator("input[name=settings-password]")).to_have_value("")
    expect(page.locator("input[name=settings-url]")).to_have_value(URL)
    keep_screenshot(page, tmp_path, "2-settings.png", prefix="wizard")
    page.get_by_role("button", name="Next").click()

    # Step 3: drag Job title to the top, tick it, and the order survives Next and Back.
    expect(current_step(page)).to_have_text("3. Call notification")
    page.locator("#check-Title").check()
    page.locator("#field-Title").drag_to(page.locator("#field-Company"), target_position={"x": 10, "y": 2})
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Title")
    keep_screenshot(page, tmp_path, "3-fields.png", prefix="wizard")
    page.get_by_role("button", name="Next").click()

    # The browser's Back and Forward, and a reload, keep every choice.
    expect(current_step(page)).to_have_text("4. Scripts")
    page.go_back()
    expect(current_step(page)).to_have_text("3. Call notification")
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Title")
    expect(page.locator("#check-Title")).to_be_checked()
    page.go_back()
    expect(current_step(page)).to_have_text("2. CRM configuration")
    expect(page.locator("input[name=settings-url]")).to_have_value(URL)
    expect(page.locator("input[name=name]")).to_have_value("Contacts")
    page.go_forward()
    page.reload()
    expect(page.locator("#check-Title")).to_be_checked()
    page.go_forward()

    # Step 4: the pop script as its link; add one with an error first, then fixed.
    expect(current_step(page)).to_have_text("4. Scripts")
    expect(page.locator("[data-script-link]").first).to_have_text(URL + "jan.vcf")  # the CRM's contact
    keep_screenshot(page, tmp_path, "4-scripts.png", prefix="wizard")
    page.get_by_role("link", name="Add a script").click()  # the script dialog
    dialog = page.locator("#script-dialog")
    expect(dialog.locator("#script-dialog-form")).to_be_visible()
    dialog.locator("input[name=name]").fill("Search Google")
    dialog.locator("textarea[name=template]").fill("https://www.google.nl?q=#(Caller number")
    expect(dialog.locator("#script-dialog-preview [data-preview=error]")).to_be_visible()
    dialog.locator("textarea[name=template]").fill("https://www.google.nl?q=#(Caller number)")
    expect(dialog.locator("#script-dialog-preview")).to_contain_text("https://www.google.nl?q=020")
    dialog.locator("select[name=applies]").select_option("always")
    keep_screenshot(page, tmp_path, "4-script-dialog.png", prefix="wizard")
    dialog.get_by_role("button", name="Add script").click()
    expect(page.locator("[data-script]")).to_have_count(2)
    page.get_by_role("button", name="Next").click()

    # Step 5: everything listed; a link back keeps the rest.
    expect(current_step(page)).to_have_text("5. Review")
    fields = page.locator("[data-review=fields] li")
    expect(fields.first).to_have_text("Job title")
    page.get_by_role("link", name="Change fields").click()
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Title")
    page.get_by_role("link", name="5. Review").click()
    keep_screenshot(page, tmp_path, "5-review.png", prefix="wizard")
    assert Integration.objects.filter(tenant=tenant).count() == 0
    page.get_by_role("button", name="Finish").click()

    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    integration = Integration.objects.get(tenant=tenant)
    assert integration.notification_fields == ["Title", "Company", "Email"]
    assert integration.secrets == {"password": "secret"}
    assert Script.objects.filter(integration=integration).count() == 2


def test_the_wizard_can_be_completed_without_javascript(
    page_without_js: Page, tenant: Tenant, tmp_path: Path
) -> None:
    page = page_without_js
    page.get_by_role("link", name="Add New Integration").first.click()
    page.fill("#preset-search", "web search")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("button[data-preset=web_search]").click()
    assert ribbon_current(page) == "2. CRM configuration"
    page.fill("input[name=name]", "Search")
    page.select_option("select[name=settings-search_url]", "https://duckduckgo.com/?q=")
    page.get_by_role("button", name="Next").click()
    assert ribbon_current(page) == "4. Scripts"
    expect(page.locator("[data-script-link]")).to_contain_text("https://duckduckgo.com/?q=0")
    page.fill("input[name=name]", "Bing")
    page.fill("textarea[name=template]", "https://www.bing.com/search?q=#(Caller number:e164)")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#script-preview")).to_contain_text("https://www.bing.com/search?q=%2B31201234567")
    page.get_by_role("button", name="Add script").click()
    expect(page.locator("[data-script]")).to_have_count(2)
    keep_screenshot(page, tmp_path, "nojs-scripts.png", prefix="wizard")
    page.get_by_role("button", name="Next").click()
    assert ribbon_current(page) == "5. Review"
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    integration = Integration.objects.get(tenant=tenant)
    assert sorted(Script.objects.filter(integration=integration).values_list("name", flat=True)) == [
        "Bing",
        "Search the web",
    ]


def test_up_and_down_order_the_fields_without_javascript(
    page_without_js: Page, tenant: Tenant, tmp_path: Path
) -> None:
    page = page_without_js
    page.goto("/integrations/new/")
    page.locator("button[data-preset=carddav]").click()
    page.fill("input[name=settings-url]", URL)
    page.fill("input[name=settings-username]", "alice")
    page.fill("input[name=settings-password]", "secret")
    page.get_by_role("button", name="Next").click()
    assert ribbon_current(page) == "3. Call notification"
    page.get_by_role("button", name="Move E-mail up").click()
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Email")
    page.reload()
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Email")
    keep_screenshot(page, tmp_path, "nojs-fields.png", prefix="wizard")
