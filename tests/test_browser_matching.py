"""Match order (keyboard and drag), the test-lookup panel and the ignore list in headless Chromium.

Each test saves a screenshot under pytest's tmp_path (copied to $CTI_SCREENSHOTS_DIR/ign-<name> when
that is set, so that a reviewer can look at the screens; tests/screenshots.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.models import IgnoredNumber, Integration, PhoneCacheEntry
from integrations.presets import ScriptApplies
from integrations.services import script_create
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.screenshots import keep_screenshot

pytestmark = pytest.mark.browser

__all__ = ["browser"]  # the Chromium fixture, shared with tests/test_browser.py


def _crm(tenant: Tenant, name: str, position: int, **extra: object) -> Integration:
    return Integration.objects.create(
        tenant=tenant, preset="carddav", name=name, position=position, cached_numbers=1, **extra
    )


@pytest.fixture
def world(transactional_db: None) -> Tenant:
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    first = _crm(tenant, "Sales CRM", 0)
    _crm(tenant, "Support CRM", 1)
    _crm(tenant, "Archive CRM", 2, enabled=False)
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration=first,
        generation=0,
        e164="+31201234567",
        number_as_written="+31 (0)20 123 4567",
        record_id="jan-1",
        record_type="contact",
        display_name="Jan Jansen",
        record_url="https://crm.example.com/jan-1",
    )
    script_create(
        tenant=tenant,
        integration=first,
        name="Open contact",
        template="$(PopUpUri)",
        applies=ScriptApplies.ON_MATCH,
    )
    script_create(
        tenant=tenant,
        integration=None,
        name="Create lead",
        template="https://crm.example.com/new?phone=#(Caller number)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    return tenant


@pytest.fixture
def page(browser: Browser, live_server, world: Tenant) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
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


def order(tenant: Tenant) -> list[str]:
    return list(
        Integration.objects.filter(tenant=tenant).order_by("position", "id").values_list("name", flat=True)
    )


def shown_order(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#match-order-list [data-order-name]").all_inner_texts()]


def test_the_admin_reorders_integrations_with_the_keyboard(page: Page, world: Tenant, tmp_path: Path):
    page.goto("/")
    assert shown_order(page) == ["Sales CRM", "Support CRM", "Archive CRM"]

    page.get_by_role("button", name="Move Support CRM up").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#match-order-list [data-order-name]").first).to_have_text("Support CRM")
    assert order(world) == ["Support CRM", "Sales CRM", "Archive CRM"]
    page.get_by_role("button", name="Move Sales CRM down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#match-order-list [data-order-name]").last).to_have_text("Sales CRM")
    assert order(world) == ["Support CRM", "Archive CRM", "Sales CRM"]
    # The sidebar follows the match order.
    expect(page.locator("#sidebar-integrations .fw-semibold").first).to_have_text("Support CRM")
    keep_screenshot(page, tmp_path, "match-order-keyboard.png", prefix="ign")


def test_the_admin_reorders_integrations_by_drag(page: Page, world: Tenant, tmp_path: Path):
    page.goto("/")
    rows = page.locator("#match-order-list [data-order-id]")
    archive = rows.nth(2)
    target = rows.nth(0)
    archive.drag_to(target, target_position={"x": 40, "y": 5})

    expect(page.locator("[data-order-status]")).to_have_text("Order saved.")
    assert shown_order(page) == ["Archive CRM", "Sales CRM", "Support CRM"]
    assert order(world) == ["Archive CRM", "Sales CRM", "Support CRM"]
    # The buttons follow the new order: the first row cannot move up any more.
    expect(page.get_by_role("button", name="Move Archive CRM up")).to_be_disabled()
    expect(page.locator("#sidebar-integrations .fw-semibold").first).to_have_text("Archive CRM")
    keep_screenshot(page, tmp_path, "match-order-drag.png", prefix="ign")
    page.reload()
    assert shown_order(page) == ["Archive CRM", "Sales CRM", "Support CRM"]


def test_the_test_lookup_panel_shows_the_answer_and_the_reasons(page: Page, tmp_path: Path):
    page.get_by_role("link", name="Test lookup").click()
    page.fill("input[name=caller_number]", "020-123 4567")
    page.get_by_role("button", name="Look up").click()

    reasons = page.locator("#integration-reasons")
    expect(reasons).to_contain_text("1 record matched")
    expect(reasons).to_contain_text("the number is not in its cache of 1 number")
    expect(reasons).to_contain_text("disabled: it matches nothing")
    expect(page.locator("[data-testid=number-reason]")).to_contain_text("read as +31201234567 (E.164)")
    scripts = page.locator("#script-reasons")
    expect(scripts).to_contain_text("Open contact")
    expect(scripts).to_contain_text("it applies when nothing matched, and the caller matched")
    expect(page.locator("[data-testid=answer-json]")).to_contain_text(
        '"url": "https://crm.example.com/jan-1"'
    )
    keep_screenshot(page, tmp_path, "test-lookup.png", prefix="ign")

    page.fill("input[name=caller_number]", "call me")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator(".invalid-feedback")).to_contain_text(
        "characters that do not belong in a phone number"
    )


def test_the_ignore_list_adds_refuses_and_removes(page: Page, world: Tenant, tmp_path: Path):
    page.get_by_role("link", name="Ignore list").click()
    page.fill("input[name=number]", "0900 123 4567")
    page.select_option("select[name=kind]", "number")
    page.select_option("select[name=action]", "reject")
    page.fill("input[name=note]", "Calls every day at noon")
    page.get_by_role("button", name="Add to the ignore list").click()
    expect(page.locator("#ignore-list")).to_contain_text("+319001234567")
    expect(page.locator("#ignore-list")).to_contain_text("Calls every day at noon")

    page.fill("input[name=number]", "+31 90")
    page.select_option("select[name=kind]", "prefix")
    page.get_by_role("button", name="Add to the ignore list").click()
    expect(page.locator("#ignore-list")).to_contain_text("+3190")

    page.fill("input[name=number]", "hello")
    page.select_option("select[name=kind]", "number")
    page.get_by_role("button", name="Add to the ignore list").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("Not a phone number")
    keep_screenshot(page, tmp_path, "ignore-list.png", prefix="ign")

    page.get_by_role("link", name="Test lookup").click()
    page.fill("input[name=caller_number]", "0900 123 4567")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("[data-testid=ignored-reason]")).to_contain_text("action reject")
    expect(page.locator("[data-testid=answer-json]")).to_contain_text('"ignore_action": "reject"')

    page.get_by_role("link", name="Ignore list").click()
    page.get_by_role("button", name="Remove +3190", exact=True).click()
    expect(page.locator("#ignore-list")).not_to_contain_text("+3190\u2026")
    assert list(IgnoredNumber.objects.filter(tenant=world).values_list("number", flat=True)) == [
        "+319001234567"
    ]
