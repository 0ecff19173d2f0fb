"""The Dutch UI in Chromium (issue 8, item 8): a browser that prefers Dutch gets Dutch pages, the
switch in the frame turns English and back without JavaScript, and live fragments (the script
preview) follow the language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 (the fixture)
from tests.test_browser_frame import sign_in, signed_in  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def test_a_dutch_browser_gets_the_dutch_ui_and_the_switch_turns_it_english(
    signed_in: tuple[Browser, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, locale="nl-NL")
    page = context.new_page()
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.get_by_role("button", name="Inloggen").click()
    violations = watch_csp_violations(page)

    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("link", name="Nieuwe koppeling toevoegen")).to_be_visible()
    expect(page.get_by_role("heading", name="Scripts voor de hele organisatie")).to_be_visible()
    keep_screenshot(page, tmp_path, "home-nl.png", prefix="i18n")

    page.get_by_role("link", name="Nieuwe koppeling toevoegen").click()
    expect(page.get_by_text("1. Voorinstelling kiezen")).to_be_visible()
    page.fill("#preset-search", "xyzzy")
    expect(page.locator("#preset-none")).to_contain_text("Geen voorinstelling past bij")
    keep_screenshot(page, tmp_path, "wizard-nl.png", prefix="i18n")

    page.locator("#sidebar-integrations a").first.click()  # the overview, in Dutch
    expect(page.get_by_role("heading", name="Uitschakelen of verwijderen")).to_be_visible()
    page.locator("main").get_by_role("link", name="Script toevoegen").click()  # the script dialog
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Script toevoegen aan Search the web")).to_be_visible()
    dialog.locator("textarea[name=template]").fill("https://www.google.nl?q=#(Caller number)")
    expect(dialog.locator("#script-dialog-preview")).to_contain_text("Geldig.")
    keep_screenshot(page, tmp_path, "script-dialog-nl.png", prefix="i18n")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(".modal-backdrop")).to_have_count(0)
    expect(page.locator("main table")).to_contain_text("Altijd")  # when the script applies
    keep_screenshot(page, tmp_path, "overview-nl.png", prefix="i18n")

    page.goto("/scripts/add/")
    page.fill("#id_template", "https://www.google.nl?q=#(Caller number")
    expect(page.locator("#script-preview")).to_contain_text("bij teken")
    page.fill("#id_template", "https://www.google.nl?q=#(Caller number)")
    expect(page.locator("#script-preview")).to_contain_text("Geldig. Voor het voorbeeldgesprek opent het:")

    page.goto("/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Add New Integration")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Nederlands").click()
    expect(page.get_by_role("link", name="Nieuwe koppeling toevoegen")).to_be_visible()
    assert violations == []
    context.close()


def test_the_language_switch_works_without_javascript(
    signed_in: tuple[Browser, str],  # noqa: F811
) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, java_script_enabled=False, locale="en-GB")
    page: Page = sign_in(context)
    expect(page.get_by_role("link", name="Add New Integration")).to_be_visible()
    page.get_by_role("button", name="Nederlands").click()
    expect(page.get_by_role("link", name="Nieuwe koppeling toevoegen")).to_be_visible()
    assert page.url.rstrip("/") == url.rstrip("/")
    context.close()
