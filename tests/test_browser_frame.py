"""The app frame in Chromium (issue 8, item 5): on a 390 px phone the sidebar is behind a Menu button,
nothing scrolls sideways and the heading is on the first screen; without JavaScript the sidebar is
shown above the content; a dark system setting gives Bootstrap's dark colour mode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from integrations.services import integration_create
from tenants.services import tenant_create
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def signed_in(browser: Browser, live_server, transactional_db) -> tuple[Browser, str]:  # noqa: F811
    """A tenant with one integration whose admin can sign in; yields the browser and the server's URL."""
    tenant, _ = tenant_create(name="Acme Corporation", admin_username="admin", admin_password=PASSWORD)
    integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Search the web",
        settings_values={"search_url": "https://www.google.nl?q="},
    )
    return browser, live_server.url


def sign_in(context: BrowserContext) -> Page:
    """A page of `context`, signed in as the admin, on the home page."""
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return page


def test_on_a_phone_the_menu_button_opens_the_sidebar_and_nothing_scrolls_sideways(
    signed_in: tuple[Browser, str], tmp_path: Path
) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, viewport=PHONE)
    page = sign_in(context)
    violations = watch_csp_violations(page)
    page.reload()

    heading = page.locator("h1")
    box = heading.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"] / 2  # the content starts near the top
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sidebar = page.locator("#app-sidebar")
    expect(sidebar.get_by_text("Search the web")).not_to_be_visible()
    keep_screenshot(page, tmp_path, "frame-phone.png", prefix="frame")

    page.get_by_role("button", name="Menu").click()
    expect(sidebar.get_by_text("Search the web")).to_be_visible()
    # Offcanvas slides in ("showing" while it moves): wait until it sits fully on the screen.
    expect(sidebar).to_have_class(re.compile(r"\bshow\b"))
    expect(sidebar).not_to_have_class(re.compile(r"\bshowing\b"))
    assert (sidebar.bounding_box() or {"x": -1})["x"] >= 0
    assert (sidebar.bounding_box() or {"width": 0})["width"] <= PHONE["width"]
    expect(sidebar.get_by_role("link", name="API keys")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    keep_screenshot(page, tmp_path, "frame-phone-menu.png", prefix="frame")

    sidebar.get_by_role("link", name="API keys").click()
    expect(page.locator("h1")).to_have_text("API keys")
    expect(sidebar.get_by_text("Search the web")).not_to_be_visible()
    context.close()
    assert violations == [], "the pages broke the Content-Security-Policy"


def test_without_javascript_the_sidebar_is_shown_above_the_content(
    signed_in: tuple[Browser, str], tmp_path: Path
) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, viewport=PHONE, java_script_enabled=False)
    page = sign_in(context)
    sidebar = page.locator("#app-sidebar")
    expect(sidebar.get_by_text("Search the web")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).not_to_be_visible()
    side_box = sidebar.bounding_box()
    heading_box = page.locator("h1").bounding_box()
    assert side_box is not None
    assert heading_box is not None
    assert side_box["y"] < heading_box["y"]
    keep_screenshot(page, tmp_path, "frame-phone-nojs.png", prefix="frame")
    context.close()


@pytest.mark.parametrize(("scheme", "theme"), [("dark", "dark"), ("light", "light")])
def test_the_colour_mode_follows_the_system(
    signed_in: tuple[Browser, str], scheme: str, theme: str, tmp_path: Path
) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, color_scheme=scheme)  # type: ignore[arg-type]
    page = sign_in(context)
    assert page.locator("html").get_attribute("data-bs-theme") == theme
    keep_screenshot(page, tmp_path, f"frame-{scheme}.png", prefix="frame")
    context.close()


def test_the_sidebar_stays_beside_the_content_on_a_wide_screen(signed_in: tuple[Browser, str]) -> None:
    browser_, url = signed_in
    context = browser_.new_context(base_url=url, viewport={"width": 1280, "height": 800})
    page = sign_in(context)
    expect(page.get_by_role("button", name="Menu")).not_to_be_visible()
    expect(page.locator("#app-sidebar").get_by_text("Search the web")).to_be_visible()
    side_box = page.locator("#app-sidebar").bounding_box()
    heading_box = page.locator("h1").bounding_box()
    assert side_box is not None
    assert heading_box is not None
    assert side_box["x"] + side_box["width"] <= heading_box["x"]
    context.close()
