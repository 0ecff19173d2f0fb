"""The API documentation (Swagger UI at /api/docs/) in headless Chromium: Authorize with an API key
and "Try it out" on GET /api/v1/match answer 200 with the call read back."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tenants.models import TenantAPIKey
from tenants.services import api_key_create, tenant_create
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser

__all__ = ["browser"]


@pytest.fixture
def docs(browser: Browser, live_server, transactional_db) -> Iterator[tuple[Page, str, TenantAPIKey]]:
    """The Swagger UI page, a tenant's API key and its row."""
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    api_key, key = api_key_create(tenant=tenant, name="Swagger")
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    violations = watch_csp_violations(page)
    page.goto("/api/docs/")
    yield page, key, api_key
    context.close()
    assert violations == [], "the API docs broke the Content-Security-Policy"


def test_authorize_with_an_api_key_and_try_out_the_match(docs: tuple[Page, str, TenantAPIKey]) -> None:
    page, key, api_key = docs
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    expect(dialog).to_contain_text("Api-Key")
    dialog.locator("input").first.fill(f"Api-Key {key}")
    dialog.locator("button.modal-btn.authorize").click()
    expect(dialog.locator("button.modal-btn:has-text('Logout')").first).to_be_visible()
    dialog.locator("button.btn-done, button:has-text('Close')").first.click()

    operation = page.locator(".opblock-get", has_text="/api/v1/match").first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("input[placeholder^='caller_number']").fill("+31201234567")
    operation.get_by_role("button", name="Execute").click()

    responses = operation.locator(".responses-table.live-responses-table")
    expect(responses.locator("tr.response .response-col_status").first).to_contain_text("200", timeout=15_000)
    expect(responses).to_contain_text("+31201234567")
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None  # the call really went through with that key


def test_without_authorize_try_it_out_is_refused(docs: tuple[Page, str, TenantAPIKey]) -> None:
    page, _, _ = docs
    operation = page.locator(".opblock-get", has_text="/api/v1/match").first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("input[placeholder^='caller_number']").fill("+31201234567")
    operation.get_by_role("button", name="Execute").click()
    responses = operation.locator(".responses-table.live-responses-table")
    expect(responses.locator("tr.response .response-col_status").first).to_contain_text("401", timeout=15_000)
