"""The whole "Add New Integration" wizard for CardDAV in a real headless Chromium against a real
Radicale (tests/radicale_server.py) holding one contact, from the preset tile to a match.

Nothing is swapped: the connection test, the sample record and the first sync (Celery runs
eagerly in tests) reach Radicale on 127.0.0.1 through the outbound guard, with private addresses
allowed. Screenshots of each step go to pytest's tmp (and `$CTI_SCREENSHOTS_DIR` when set).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.models import Integration, PhoneCacheEntry, Script, SyncState
from tenants.models import Tenant
from tenants.services import api_key_create, tenant_create
from tests.carddav_double import vcard
from tests.conftest import PASSWORD
from tests.radicale_server import USERS, RadicaleServer
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 - the module-scoped fixture
from tests.test_connection_test_cap import _Server

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("allow_private_addresses")]

MKCOL = """<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
  <d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set>
</d:mkcol>
"""


@pytest.fixture
def address_book(radicale_server: RadicaleServer) -> str:
    """A fresh address book of alice's (extended MKCOL, RFC 5689) with the contact Jan Jansen."""
    url = radicale_server.address_book_url("alice", f"wizard-{uuid.uuid4().hex[:8]}")
    auth = radicale_server.auth("alice")
    with httpx.Client(timeout=10, auth=auth) as client:
        client.request(
            "MKCOL", url, content=MKCOL, headers={"Content-Type": "application/xml"}
        ).raise_for_status()
        card = vcard(
            "jan-jansen", "Jan Jansen", "work:+31 20 123 4567", org="Acme BV", email="jan@acme.example"
        )
        client.put(
            url + "jan-jansen.vcf",
            content=card.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8"},
        ).raise_for_status()
    return url


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    created, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    return created


@pytest.fixture
def page(browser: Browser, live_server: Any, tenant: Tenant) -> Iterator[Page]:  # noqa: F811
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


def current_step(page: Page) -> Any:
    return page.locator("[data-testid=wizard-ribbon] [aria-current=step]")


def test_the_whole_wizard_for_carddav_against_a_real_radicale(
    page: Page, tenant: Tenant, live_server: Any, address_book: str, tmp_path: Path
) -> None:
    # Step 1: tiles with their initials; the search finds the generic CardDAV preset.
    page.get_by_role("link", name="Add New Integration").first.click()
    expect(current_step(page)).to_have_text("1. Choose preset")
    expect(page.locator("button[data-preset=carddav] [data-preset-mark]")).to_have_text("CD")
    page.fill("#preset-search", "radicale")
    expect(page.locator("button[data-preset=carddav]")).to_be_visible()
    keep_screenshot(page, tmp_path, "1-preset.png", prefix="wizard-radicale")
    page.locator("button[data-preset=carddav]").click()

    # Step 2: URL, user and password; Test connection answers and keeps the password.
    expect(current_step(page)).to_have_text("2. CRM configuration")
    page.fill("input[name=name]", "Radicale contacts")
    page.fill("input[name=settings-url]", address_book)
    page.fill("input[name=settings-username]", "alice")
    page.fill("input[name=settings-password]", USERS["alice"])
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result.alert-success")).to_contain_text("Connection OK")
    expect(page.locator("[data-kept=password]")).to_be_visible()
    expect(page.locator("input[name=settings-password]")).to_have_value("")
    keep_screenshot(page, tmp_path, "2-settings.png", prefix="wizard-radicale")
    page.get_by_role("button", name="Next").click()

    # Step 3: the card previews Radicale's contact; E-mail moves above Company by keyboard.
    expect(current_step(page)).to_have_text("3. Call notification")
    expect(page.locator("#sample-origin")).to_have_text("A record from your CRM: Jan Jansen")
    expect(page.locator("[data-testid=sample-name]")).to_have_text("Jan Jansen")
    preview = page.locator("#notification-preview")
    expect(preview.locator("dd").first).to_have_text("Acme BV")
    page.get_by_role("button", name="Move E-mail up").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-field]").first).to_have_attribute("data-field", "Email")
    expect(preview.locator("dd").first).to_have_text("jan@acme.example")
    # Ticking a field redraws the card at once; a field the contact lacks says it is not shown.
    page.locator("#check-Title").check()
    expect(preview.locator("dt")).to_have_text(["E-mail", "Company", "Job title"])
    expect(preview.locator("dd").last).to_have_text("(empty in this record: not shown)")
    page.locator("#check-Title").uncheck()
    expect(preview.locator("dt")).to_have_text(["E-mail", "Company"])
    keep_screenshot(page, tmp_path, "3-fields.png", prefix="wizard-radicale")
    page.get_by_role("button", name="Next").click()

    # Step 4: the pop script as the URL it renders for that contact.
    expect(current_step(page)).to_have_text("4. Scripts")
    expect(page.locator("#sample-origin")).to_have_text("A record from your CRM: Jan Jansen")
    expect(page.locator("[data-script-link]").first).to_have_text(address_book + "jan-jansen.vcf")
    keep_screenshot(page, tmp_path, "4-scripts.png", prefix="wizard-radicale")
    page.get_by_role("button", name="Next").click()

    # Step 5: review, then Finish lands on the overview after the first sync.
    expect(current_step(page)).to_have_text("5. Review")
    expect(page.locator("[data-review=fields] li").first).to_have_text("E-mail")
    keep_screenshot(page, tmp_path, "5-review.png", prefix="wizard-radicale")
    assert not Integration.objects.filter(tenant=tenant).exists()
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("heading", name="Radicale contacts")).to_be_visible()
    keep_screenshot(page, tmp_path, "6-overview.png", prefix="wizard-radicale")

    integration = Integration.objects.get(tenant=tenant)
    assert integration.settings == {"url": address_book, "username": "alice"}
    assert integration.secrets == {"password": USERS["alice"]}
    assert integration.notification_fields == ["Email", "Company"]
    assert Script.objects.filter(integration=integration).count() == 1
    assert integration.sync_state == SyncState.IDLE, integration.last_error
    assert list(PhoneCacheEntry.objects.filter(integration=integration).values_list("e164", flat=True)) == [
        "+31201234567"
    ]

    # A PBX asking for that number gets the contact, with its pop link.
    _, key = api_key_create(tenant=tenant, name="PBX")
    answer = httpx.get(
        f"{live_server.url}/api/v1/match",
        params={"caller_number": "+31201234567"},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    matches = answer.json()["matches"]
    assert [m["notification"]["title"] for m in matches] == ["Jan Jansen"]
    assert [a["url"] for a in matches[0]["actions"]] == [address_book + "jan-jansen.vcf"]


def test_test_connection_shows_it_is_busy_and_answers_at_the_cap(
    page: Page, tenant: Tenant, settings: Any, tmp_path: Path
) -> None:
    settings.CONNECTION_TEST_TIMEOUT_SECONDS = 3
    server = _Server(trickle=False)  # accepts and never answers
    try:
        page.goto("/integrations/new/")
        page.locator("button[data-preset=carddav]").click()
        page.fill("input[name=settings-url]", server.url)
        # What the button shows while the post is under way: a listener added after
        # static/app/wizard.js's holds the form back, so the busy state stays to be looked at.
        page.evaluate(
            "document.querySelector('form[data-busy-form]')"
            ".addEventListener('submit', (event) => event.preventDefault())"
        )
        page.get_by_role("button", name="Test connection").click()
        busy = page.locator("button[name=action][value=test]")
        expect(busy).to_have_attribute("aria-busy", "true")
        expect(busy).to_have_text("Testing…")
        expect(page.locator("form[data-busy-form]")).to_have_attribute("aria-busy", "true")
        keep_screenshot(page, tmp_path, "2-testing.png", prefix="wizard-radicale")

        # The post itself: the answer names the host and the cap.
        page.reload()
        page.fill("input[name=settings-url]", server.url)
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#connection-result.alert-danger")).to_have_text(
            "The CRM did not answer within 3 seconds at 127.0.0.1. Check the address, and that the "
            "server is running and can be reached from here."
        )
        expect(page.get_by_role("button", name="Test connection")).not_to_have_attribute("aria-busy", "true")
    finally:
        server.close()
