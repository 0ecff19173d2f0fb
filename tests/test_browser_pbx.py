"""The "Connect your PBX" page in headless Chromium: add a sender, copy its URL, rotate it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.pbx.models import PbxSender
from tenants.services import tenant_create
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.screenshots import keep_screenshot

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with tests/test_browser.py


@pytest.fixture
def page(browser: Browser, live_server, transactional_db) -> Iterator[Page]:
    tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    context = browser.new_context(base_url=live_server.url, permissions=["clipboard-read", "clipboard-write"])
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


def test_add_a_sender_and_copy_its_url_to_paste_into_the_pbx(page: Page, live_server, tmp_path):
    page.get_by_role("link", name="Connect your PBX").click()
    expect(page.get_by_text("No PBX senders yet.")).to_be_visible()

    page.select_option("select[name=format]", "placetel")
    page.fill("input[name=name]", "Placetel office")
    page.get_by_role("button", name="Add sender").click()

    sender = PbxSender.objects.get(name="Placetel office")
    expect(page.get_by_text("only time it is shown")).to_be_visible()
    expect(page.locator("#pbx-setting-2")).to_have_value(sender.secret)
    page.get_by_role("link", name="Done").click()

    url_box = page.locator(f"#pbx-url-{sender.pk}-1")
    expect(url_box).to_have_value(f"{live_server.url}/pbx/placetel/{sender.token}/")
    copy = page.locator(f"[data-copy='#pbx-url-{sender.pk}-1']")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert (
        page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/pbx/placetel/{sender.token}/"
    )
    keep_screenshot(page, tmp_path, "pbx-connect.png")


def test_rotate_asks_first_and_then_shows_the_new_url(page: Page, live_server, tmp_path):
    page.goto("/pbx/")
    page.select_option("select[name=format]", "zammad")
    page.fill("input[name=name]", "Zammad")
    page.get_by_role("button", name="Add sender").click()
    page.get_by_role("link", name="Done").click()
    old_token = PbxSender.objects.get(name="Zammad").token

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate").click()

    expect(page.get_by_text("The old URL is refused from now on")).to_be_visible()
    new_token = PbxSender.objects.get(name="Zammad").token
    assert new_token != old_token
    expect(page.locator("#pbx-setting-1")).to_have_value(f"{live_server.url}/pbx/zammad/{new_token}/")
    keep_screenshot(page, tmp_path, "pbx-rotated.png")
