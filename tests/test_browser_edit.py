"""Editing an integration in a real headless Chromium (see test_browser): the 401 after a password
change in the CRM, recovered by editing the password, without losing the cached numbers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from integrations.models import Integration, PhoneCacheEntry
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.carddav_double import CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 - the module-scoped fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser

NEW_PASSWORD = "rotated-in-the-crm-2026"


@pytest.fixture
def setup(
    browser: Browser,  # noqa: F811
    live_server,
    transactional_db,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Page, Tenant, Integration, CardDavDouble]]:
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    double = CardDavDouble(
        {
            "jan.vcf": vcard("jan", "Jan Jansen", "work:020 123 4567", org="Acme BV"),
            "piet.vcf": vcard("piet", "Piet Pieters", "cell:06 12345678"),
        }
    )
    # The live server runs in this process: its syncs (Celery eager) and tests reach the double.
    factory = lambda **kwargs: httpx.Client(transport=double.transport())  # noqa: E731
    monkeypatch.setattr("integrations.sync.connector_client", factory)
    monkeypatch.setattr("integrations.services.connector_client", factory)
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    assert phone_cache_sync(integration_id=integration.pk).status == "ok"
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("Add New Integration").first).to_be_visible()
    yield page, tenant, integration, double
    context.close()
    assert violations == [], "the pages broke the Content-Security-Policy"


def test_editing_the_password_after_a_401_recovers_without_losing_the_cache(
    setup: tuple[Page, Tenant, Integration, CardDavDouble], tmp_path: Path
) -> None:
    page, _tenant, integration, double = setup
    double.password = NEW_PASSWORD  # changed in the CRM; the nightly sync then meets a 401
    assert phone_cache_sync(integration_id=integration.pk).status == "failed"
    cached = PhoneCacheEntry.objects.filter(integration=integration).count()
    assert cached == 2

    page.goto(f"/integrations/{integration.pk}/")
    status = page.locator("#integration-status")
    expect(status).to_contain_text("Last error")
    expect(status).to_contain_text("401")
    expect(page.locator("#cached-numbers")).to_have_text("2")
    page.get_by_role("link", name="Edit integration").click()
    expect(page.get_by_role("heading", name="Edit Address book")).to_be_visible()
    password = page.get_by_label("Password or app password")
    expect(password).to_have_value("")
    expect(password).to_have_attribute("placeholder", "Leave empty to keep the current value")

    # The stored (old) password is tested when the field is left empty: the CRM refuses it.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("401")

    # The new one passes the test and stays in the field for Save.
    page.get_by_label("Password or app password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("Connection OK")
    expect(page.get_by_label("Password or app password")).to_have_value(NEW_PASSWORD)
    # Order the notification fields by keyboard-reachable buttons; the password survives that too.
    page.get_by_role("button", name="Move E-mail up").click()
    expect(page.locator("#notification-fields li").first).to_have_attribute("data-field", "Email")
    expect(page.get_by_label("Password or app password")).to_have_value(NEW_PASSWORD)
    keep_screenshot(page, tmp_path, "edit-integration.png", prefix="edit")

    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("body")).to_contain_text("a sync with the new credentials has started")
    expect(status).not_to_contain_text("Last error")
    expect(page.locator("#cached-numbers")).to_have_text("2")
    keep_screenshot(page, tmp_path, "edit-integration-recovered.png", prefix="edit")

    integration.refresh_from_db()
    assert integration.secrets == {"password": NEW_PASSWORD}
    assert integration.last_error == ""
    assert integration.notification_fields == ["Email", "Company"]
    assert (
        PhoneCacheEntry.objects.filter(
            integration=integration, generation=integration.cache_generation
        ).count()
        == 2
    )


def test_the_edit_page_works_without_javascript(
    setup: tuple[Page, Tenant, Integration, CardDavDouble],
    browser: Browser,  # noqa: F811
    live_server,
    tmp_path: Path,
) -> None:
    signed_in, _tenant, integration, _double = setup
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, storage_state=signed_in.context.storage_state()
    )
    page = context.new_page()
    page.goto(f"/integrations/{integration.pk}/edit/")
    page.get_by_role("checkbox", name="Job title").check()
    page.get_by_role("button", name="Move Job title up").click()
    expect(page.locator("#notification-fields li").nth(4)).to_have_attribute("data-field", "Title")
    expect(page.get_by_role("checkbox", name="Job title")).to_be_checked()
    page.get_by_label("Integration name").fill("Office book")
    page.get_by_label("Integration name").press("Enter")  # the default button saves, it does not move
    expect(page.get_by_role("heading", name="Office book", exact=True)).to_be_visible()
    keep_screenshot(page, tmp_path, "edit-no-javascript-saved.png", prefix="edit")
    context.close()
    integration.refresh_from_db()
    assert integration.name == "Office book"
    assert integration.notification_fields == ["Company", "Email", "Title"]
