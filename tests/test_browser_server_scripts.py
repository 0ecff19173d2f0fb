"""The script form for a request the server sends, in a real headless Chromium: the request fields
appear with the kind, and the preview shows the request as you type."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from integrations.models import Script
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_the_request_fields_follow_the_kind_and_the_preview_shows_the_request(
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    page.get_by_text("Add New Script").first.click()  # the script dialog
    expect(page.locator("#script-dialog-form")).to_be_visible()
    fields = page.locator("#dialog-server-request-fields")
    expect(fields).to_be_hidden()  # a link: no request fields
    page.get_by_label("Request the server sends").check()
    expect(fields).to_be_visible()
    expect(page.get_by_label("Open automatically")).to_be_hidden()

    page.fill("input[name=name], textarea[name=name]", "CRM call log")
    page.fill("textarea[name=template]", "https://crm.example.com/api/calls")
    page.fill("textarea[name=request_headers]", "X-Agent: #(Device name)")
    page.fill("textarea[name=body_template]", '{"from": #(Caller number:e164), "name": #(Caller name)}')
    preview = page.locator("[data-testid=preview-request]")
    expect(preview).to_contain_text("POST https://crm.example.com/api/calls")
    expect(preview).to_contain_text("X-Agent: Reception")
    expect(preview).to_contain_text('{"from": "+31201234567", "name": "Jan Jansen"}')

    body = page.locator("textarea[name=body_template]")
    body.fill('{"n": ')
    page.get_by_role("button", name="#(Caller name)").click()  # into the body, the field last in
    assert body.input_value() == '{"n": #(Caller name)'
    assert page.locator("textarea[name=template]").input_value() == "https://crm.example.com/api/calls"

    page.fill("textarea[name=body_template]", '{"from": #(Caller number),}')
    expect(page.locator("#script-dialog-preview")).to_contain_text("The body is not valid JSON")
    keep_screenshot(page, tmp_path, "server-script-form.png", prefix="i9-srv")

    page.fill("textarea[name=body_template]", '{"from": #(Caller number)}')
    page.get_by_role("button", name="Add script").click()
    expect(page.get_by_text("POST by the server")).to_be_visible()
    assert Script.objects.get(name="CRM call log").kind == "server_request"
