"""The script dialog in Chromium (issue 8, item 3): "Add New Script" and Edit open the script form in
a modal; an error is marked in place and stays in the dialog; the preview shows the link; saving
closes it and the page shows the script. Without JavaScript the same links open the script page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.services import integration_create
from tenants.services import tenant_create
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def site(browser: Browser, live_server, transactional_db) -> tuple[Browser, str, int]:  # noqa: F811
    """A tenant with a CardDAV integration (record fields) whose admin can sign in."""
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": "https://dav.example.com/addressbooks/alice/contacts/"},
        start_sync=False,
    )
    return browser, live_server.url, book.pk


def signed_in(browser_: Browser, url: str, *, javascript: bool = True) -> Page:
    context = browser_.new_context(base_url=url, java_script_enabled=javascript)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return page


def test_add_new_script_opens_the_dialog_with_errors_and_preview_and_saves(
    site: tuple[Browser, str, int], tmp_path: Path
) -> None:
    browser_, url, _book = site
    page = signed_in(browser_, url)
    violations = watch_csp_violations(page)
    page.locator("main").get_by_role("link", name="Add New Script").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Add New Script")).to_be_visible()
    assert page.url.rstrip("/") == url.rstrip("/")  # still the main screen under the dialog
    name = dialog.get_by_label("Name")
    expect(name).to_be_focused()
    name.fill("Search Google")
    template = dialog.locator("textarea[name=template]")
    template.fill("https://www.google.nl?q=#(Caller numbr)")
    preview = dialog.locator("#script-dialog-preview")
    expect(preview.locator("[data-preview=error]")).to_contain_text("character 25")
    expect(preview.locator("mark")).to_be_visible()  # the error's position marked
    dialog.get_by_role("button", name="Add script").click()
    expect(dialog.locator("#template-error")).to_be_visible()  # refused, still in the dialog
    expect(dialog.get_by_label("Name")).to_have_value("Search Google")
    keep_screenshot(page, tmp_path, "script-dialog-error.png", prefix="dialog")

    dialog.locator("textarea[name=template]").fill("https://www.google.nl?q=")
    dialog.get_by_role("button", name="#(Caller number)").click()
    expect(preview.locator("#preview-link")).to_have_text("https://www.google.nl?q=0201234567")
    expect(preview.locator("#preview-link")).to_have_attribute("target", "_blank")
    keep_screenshot(page, tmp_path, "script-dialog.png", prefix="dialog")
    dialog.get_by_role("button", name="Add script").click()

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("alert")).to_contain_text("Script “Search Google” added.")
    expect(page.locator("main table")).to_contain_text("Search Google")

    # Edit from the table: the dialog holds the script; Save replaces it.
    page.locator("main table").get_by_role("link", name="Edit Search Google").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Name")).to_have_value("Search Google")
    dialog.get_by_label("Name").fill("Search the web")
    dialog.get_by_role("button", name="Save script").click()
    expect(page.locator("main table")).to_contain_text("Search the web")
    assert violations == []
    page.context.close()


def test_escape_closes_the_dialog_and_focus_returns_to_the_opener(site: tuple[Browser, str, int]) -> None:
    browser_, url, book = site
    page = signed_in(browser_, url)
    page.goto(f"/integrations/{book}/")
    opener = page.locator("main").get_by_role("link", name="Add Script")
    opener.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Script to Address book")).to_be_visible()
    # An integration script's picker offers the preset's record fields.
    dialog.get_by_role("button", name="$(DisplayName)").click()
    expect(dialog.locator("textarea[name=template]")).to_have_value("$(DisplayName)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    page.context.close()


def test_without_javascript_the_links_open_the_script_page(site: tuple[Browser, str, int]) -> None:
    browser_, url, _book = site
    page = signed_in(browser_, url, javascript=False)
    page.locator("main").get_by_role("link", name="Add New Script").click()
    assert page.url.endswith("/scripts/add/")
    expect(page.get_by_role("heading", name="Add New Script", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("Search")
    page.locator("textarea[name=template]").fill("https://www.google.nl?q=#(Caller number)")
    page.get_by_role("button", name="Add script").click()
    expect(page.locator("main table")).to_contain_text("Search")
    page.context.close()
