"""The call log, an entry, the chart and the match-quality report in a real Chromium.

The PBX's requests go to the live server over HTTP, so the entries are written the way a WSGI
server writes them: after the answer was sent. Screenshots are saved under tmp_path (and copied to
$CTI_SCREENSHOTS_DIR when it is set; tests/screenshots.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from integrations.models import CallJournalEntry, Integration
from integrations.presets import ScriptApplies
from integrations.services import integration_create, script_create
from tenants.models import Tenant
from tenants.services import api_key_create, tenant_create
from tests.call_journal_helpers import journal_entry
from tests.conftest import PASSWORD
from tests.test_browser import browser, watch_csp_violations  # noqa: F401 - the module's browser fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.screenshots import keep_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def world(live_server, transactional_db) -> tuple[Tenant, Integration]:
    """Acme with a web-search integration whose on-no-match script creates a contact, a PBX that
    called three times over HTTP, and older calls of the last days."""
    tenant, _ = tenant_create(name="Acme", admin_username="admin", admin_password=PASSWORD)
    integration = integration_create(
        tenant=tenant, preset_slug="web_search", name="Search", settings_values={}
    )
    script_create(
        tenant=tenant,
        integration=integration,
        name="Create contact",
        template="https://crm.example.com/contacts/new?phone=#(Caller number:e164)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    _, key = api_key_create(tenant=tenant, name="PBX")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Api-Key {key}"}) as pbx:
        first = pbx.get("/api/v1/match", params={"caller_number": "06 1111 2222", "call_id": "live-1"})
        assert first.status_code == 200
        assert pbx.get("/api/v1/match", params={"caller_number": "06 1111 2222"}).status_code == 200
        assert pbx.get("/api/v1/match", params={"caller_number": "abc"}).status_code == 400
    now = timezone.now()
    for days, matched in ((1, True), (1, True), (2, False), (3, True), (5, False)):
        journal_entry(
            tenant,
            now - dt.timedelta(days=days),
            matched=matched,
            caller_e164="+31205550000" if matched else "+31301111111",
            match_count=2 if days == 3 else int(matched),
            integration_ids=[integration.pk] if matched else [],
        )
    return tenant, integration


@pytest.fixture
def page(browser: Browser, live_server, world) -> Iterator[Page]:  # noqa: F811 - this module's page
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


def test_the_log_filters_and_opens_an_entry_with_its_exact_answer(page: Page, tmp_path: Path, world):
    # The PBX's three requests, written after each answer.
    assert CallJournalEntry.objects.filter(caller_number="06 1111 2222", status_code=200).count() == 2
    assert CallJournalEntry.objects.filter(caller_number="abc", status_code=400).count() == 1

    page.get_by_role("link", name="Call log").click()
    expect(page.get_by_role("heading", name="Call log")).to_be_visible()
    expect(page.get_by_test_id("call-log-row")).to_have_count(8)
    keep_screenshot(page, tmp_path, "call-log.png", prefix="jrn")

    page.fill("input[name=q]", "0611112222")
    page.select_option("select[name=matched]", "no")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("call-log-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("06 1111 2222")
    expect(rows.first).to_contain_text("no match")
    keep_screenshot(page, tmp_path, "call-log-filtered.png", prefix="jrn")

    rows.last.get_by_role("link", name="Details").click()
    expect(page.get_by_test_id("call-log-entry")).to_contain_text("HTTP 200")
    expect(page.get_by_test_id("entry-request")).to_contain_text('"call_id": "live-1"')
    answer = page.get_by_test_id("entry-answer")
    expect(answer).to_contain_text('"caller_number_e164": "+31611112222"')
    expect(answer).to_contain_text('"matches": []')
    keep_screenshot(page, tmp_path, "call-log-entry.png", prefix="jrn")


def test_the_chart_shows_matched_and_unmatched_calls_per_day(page: Page, tmp_path: Path, world):
    page.goto(reverse("call-log"))

    chart = page.get_by_test_id("call-chart")
    expect(chart).to_be_visible()
    days = page.locator("[data-testid=chart-day]")
    expect(days).to_have_count(14)
    today = days.last
    assert today.get_attribute("data-unmatched") == "2"  # the two live calls; the 400 is no call
    expect(page.get_by_test_id("chart-matched")).to_have_text("3")
    expect(page.get_by_test_id("chart-unmatched")).to_have_text("4")
    box = chart.locator("svg").bounding_box()
    assert box is not None
    assert box["width"] > 400
    assert today.locator("rect").count() == 1
    keep_screenshot(chart, tmp_path, "call-log-chart.png", prefix="jrn")


def test_the_quality_report_shows_shares_unmatched_callers_and_duplicates(page: Page, tmp_path: Path, world):
    _, integration = world
    page.get_by_role("link", name="Match quality").click()

    expect(page.get_by_test_id("share-7")).to_contain_text("42.9 %")
    expect(page.get_by_test_id("share-7")).to_contain_text("3 of 7 inbound calls matched")
    expect(page.locator(f"[data-integration='{integration.pk}']")).to_contain_text("42.9 %")
    callers = page.get_by_test_id("unmatched-caller")
    expect(callers).to_have_count(2)
    expect(callers.first).to_contain_text("+31301111111")
    expect(callers.first).not_to_contain_text("Search the web")  # an "always" script creates nothing
    link = callers.nth(1).get_by_test_id("create-link")
    expect(link).to_have_attribute("href", "https://crm.example.com/contacts/new?phone=%2B31611112222")
    expect(page.get_by_test_id("several-match")).to_contain_text("+31205550000")
    keep_screenshot(page, tmp_path, "match-quality.png", prefix="jrn")
