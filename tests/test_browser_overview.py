"""The integration overview in Chromium (issue 8, item 4): Sync now fills the history and its chart;
while a sync runs the status block, the sidebar and the history refresh themselves without a reload
and stop polling when it ends; Disable, Enable and Delete.

The CardDAV server is tests/carddav_double.py (the live server runs in this process); a running sync
is simulated by writing its progress to the database, as the worker does.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from integrations import services, sync
from integrations.models import Integration, SyncMode, SyncRun, SyncRunStatus, SyncState
from integrations.services import integration_create
from tenants.services import tenant_create
from tests.carddav_double import CardDavDouble, vcard
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 (the fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser


@pytest.fixture
def book(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Integration:
    fake = CardDavDouble(
        {
            "jan.vcf": vcard("1", "Jan Jansen", "+31 20 123 4567", org="Acme"),
            "anna.vcf": vcard("2", "Anna de Vries", "+31 20 555 0000"),
        }
    )
    monkeypatch.setattr(services, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(sync, "connector_client", lambda: httpx.Client(transport=fake.transport()))
    monkeypatch.setattr(services, "_url_host_refused", lambda value, **kwargs: False)
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=fake.settings(),
        start_sync=False,
    )


@pytest.fixture
def page(browser: Browser, live_server, book: Integration) -> Page:  # noqa: F811
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return page


def past_run(book: Integration, days_ago: int, seconds: float, numbers: int) -> None:
    started = timezone.now() - dt.timedelta(days=days_ago)
    SyncRun.objects.create(
        tenant=book.tenant,
        integration=book,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=seconds),
        status=SyncRunStatus.OK,
        mode=SyncMode.FULL,
        records=numbers,
        numbers=numbers,
        run_token=f"past-{days_ago}",
        generation=100 - days_ago,
    )


def test_sync_now_draws_the_history_chart(page: Page, book: Integration, tmp_path: Path) -> None:
    violations = watch_csp_violations(page)
    for days_ago, seconds, numbers in ((4, 3.5, 1980), (3, 4.0, 2010), (2, 9.5, 2004), (1, 3.0, 2031)):
        past_run(book, days_ago, seconds, numbers)
    page.goto(f"/integrations/{book.pk}/")
    expect(page.locator("[data-testid=sync-chart-run]")).to_have_count(4)

    page.get_by_role("button", name="Sync now").click()  # the worker runs eagerly in the tests

    expect(page.get_by_role("alert").first).to_contain_text("Sync started")
    expect(page.locator("[data-testid=sync-chart-run]")).to_have_count(5)
    expect(page.locator("[data-testid=sync-chart-run]").last).to_have_attribute("data-numbers", "2")
    expect(page.locator("#cached-numbers")).to_have_text("2")
    keep_screenshot(page.locator("#sync-history"), tmp_path, "overview-history-chart.png", prefix="overview")
    keep_screenshot(page, tmp_path, "overview.png", prefix="overview")
    assert violations == []
    page.context.close()


def test_progress_sidebar_and_history_refresh_while_a_sync_runs_and_the_poll_stops(
    page: Page, book: Integration, tmp_path: Path
) -> None:
    Integration.objects.filter(pk=book.pk).update(
        sync_state=SyncState.RUNNING,
        sync_progress=10,
        sync_started_at=timezone.now(),
        sync_heartbeat_at=timezone.now(),
    )
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/status/" in request.url else None)
    page.goto(f"/integrations/{book.pk}/")
    page.evaluate("window.notReloaded = true")
    status = page.locator("#integration-status")
    expect(status).to_contain_text("10 records read")
    sidebar = page.locator("#sidebar-integrations")
    expect(sidebar.locator("[data-state]")).to_have_attribute("data-state", "syncing")

    Integration.objects.filter(pk=book.pk).update(sync_progress=250, sync_heartbeat_at=timezone.now())
    expect(status).to_contain_text("250 records read", timeout=6000)
    keep_screenshot(page, tmp_path, "overview-progress.png", prefix="overview")

    past_run(book, 0, 12.0, 1234)
    Integration.objects.filter(pk=book.pk).update(
        sync_state=SyncState.IDLE, sync_progress=0, cached_numbers=1234, last_sync_at=timezone.now()
    )
    expect(page.locator("#cached-numbers")).to_have_text("1234", timeout=6000)
    expect(status).not_to_contain_text("records read")
    expect(sidebar.locator("[data-state]")).to_have_attribute("data-state", "synced")
    expect(sidebar).to_contain_text("1234 numbers")
    expect(page.locator("[data-testid=sync-chart-run]")).to_have_count(1)
    assert page.evaluate("window.notReloaded === true")  # all of it without a reload

    seen = len(polls)
    page.wait_for_timeout(4500)
    assert len(polls) == seen, "the poll stops when the sync has ended"
    page.context.close()


def test_disable_enable_and_delete(page: Page, book: Integration) -> None:
    page.goto(f"/integrations/{book.pk}/")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("alert").first).to_contain_text("Address book is disabled")
    expect(page.locator("#sidebar-integrations [data-state]")).to_have_attribute("data-state", "disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("alert").first).to_contain_text("Address book is enabled")

    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete “Address book”?")).to_be_visible()
    page.get_by_label("Type the integration's name to confirm").fill("Address book")
    page.get_by_role("button", name="Delete permanently").click()
    expect(page.get_by_role("alert").first).to_contain_text("Address book is deleted")
    assert not Integration.objects.filter(pk=book.pk).exists()
    page.context.close()
