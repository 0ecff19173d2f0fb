"""The number-reading forms and the unreadable numbers in a real headless Chromium (see test_browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.models import Integration
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.carddav_double import CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 - the module-scoped fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.screenshots import keep_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def setup(browser: Browser, live_server, transactional_db) -> Iterator[tuple[Page, Tenant, Integration]]:  # noqa: F811
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    double = CardDavDouble(
        {
            "jan.vcf": vcard("jan", "Jan Jansen", "work:020 123 4567 / 06 12345678", "cell:n.v.t."),
            "piet.vcf": vcard("piet", "Piet Pieters", "work:12"),
        }
    )
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("Add New Integration").first).to_be_visible()
    yield page, tenant, integration
    context.close()
    assert violations == [], "the pages broke the Content-Security-Policy"


def test_the_admin_sets_the_region_and_fallback_and_sees_the_unreadable_numbers(
    setup: tuple[Page, Tenant, Integration], tmp_path: Path
) -> None:
    page, _tenant, integration = setup
    page.get_by_role("link", name="Address book").first.click()

    unreadable = page.locator("#unreadable-numbers")
    expect(unreadable).to_contain_text("2 numbers could not be read")
    expect(unreadable.get_by_role("link", name="Jan Jansen")).to_be_visible()
    page.select_option("#number-region", "BE")
    page.get_by_label("Fall back to the main number").check()
    page.get_by_role("button", name="Save number reading").click()

    expect(page.get_by_text("Number reading saved")).to_be_visible()
    expect(page.locator("#number-region")).to_have_value("BE")
    expect(page.get_by_label("Fall back to the main number")).to_be_checked()
    integration.refresh_from_db()
    assert (integration.region, integration.fallback_to_main_number) == ("BE", True)
    keep_screenshot(page, tmp_path, "numbers-overview.png", prefix="num")


def test_the_admin_sets_the_internal_number_length_on_the_home_page(
    setup: tuple[Page, Tenant, Integration], tmp_path: Path
) -> None:
    page, tenant, _integration = setup

    page.fill("#internal-number-length", "4")
    page.locator("#internal-numbers").get_by_role("button", name="Save").click()

    expect(page.get_by_text("up to 4 digits")).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.internal_number_length == 4
    keep_screenshot(page, tmp_path, "numbers-home.png", prefix="num")
