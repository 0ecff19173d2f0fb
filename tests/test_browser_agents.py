"""The agent's live page in headless Chromium (issue 11), served by uvicorn over ASGI as `make run`
serves it: a Zammad newCall for the agent's extension shows the card with the CRM record and its
screen pop within a second; answer and hangup update it; nobody else sees it; a background tab
gets a browser notification."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.agents_world import AgentsWorld, agents_world, zammad_body, zammad_url
from tests.asgi_server import AsgiServer, asgi_server
from tests.conftest import PASSWORD
from tests.screenshots import keep_screenshot
from tests.test_browser import browser, watch_csp_violations

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]

# Records each Notification the page creates (the real one is still shown).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push(this);
    }
  }
  window.Notification = Recorded;
})();
"""


@pytest.fixture
def server(tmp_path, transactional_db) -> Iterator[AsgiServer]:
    with asgi_server(tmp_path / "web.log") as web:
        yield web


@pytest.fixture
def world(tenant, other_tenant) -> AgentsWorld:
    return agents_world(tenant, other_tenant)


def signed_in(browser: Browser, server: AsgiServer, username: str, **options) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=server.url, **options)
    # The screen pop's CRM: a local stand-in (tests reach no outside network).
    context.route(
        "https://crm.example.test/**",
        lambda route: route.fulfill(body="<h1>CRM</h1>", content_type="text/html"),
    )
    context.route(
        "https://dav.example.com/**", lambda route: route.fulfill(body="vcard", content_type="text/plain")
    )
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/agent/")
    expect(page.locator("#agent-status")).to_have_text("Live")
    return context, page


def until(page: Page, condition: str, timeout: float = 2.0) -> bool:
    """Poll `condition` (a JS function) until true. (Playwright's wait_for_function evaluates text,
    which the page's CSP refuses: no 'unsafe-eval'.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(condition):
            return True
        time.sleep(0.05)
    return False


def post_zammad(server: AsgiServer, sender, event: str, call_id: str, **kwargs) -> None:
    response = httpx.post(
        server.url + zammad_url(sender),
        content=zammad_body(event, call_id, **kwargs),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def test_the_agent_sees_the_call_and_its_states_and_nobody_else_does(browser, server, world, tmp_path):
    _, alice = signed_in(browser, server, "alice")
    alice_csp = watch_csp_violations(alice)
    _, bob = signed_in(browser, server, "bob")
    _, carol = signed_in(browser, server, "carol")
    expect(alice.locator("#calls-empty")).to_be_visible()

    started = time.monotonic()
    with alice.expect_popup(timeout=2000) as popup:  # the screen pop "opens automatically"
        post_zammad(server, world.zammad, "newCall", "b-1")
    card = alice.locator(".call-card").first
    expect(card).to_be_visible(timeout=1000)
    expect(card.locator("h3")).to_have_text("Jan Jansen", timeout=1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the card took {elapsed:.2f} s"
    expect(card.get_by_text("Acme BV")).to_be_visible()
    screen_pop = card.get_by_role("link", name="Screen pop")
    expect(screen_pop).to_have_attribute("href", "https://crm.example.test/contacts/jan-1")
    expect(card.get_by_role("link", name="Open contact")).to_be_visible()
    expect(card.locator("[data-testid=call-state] .badge")).to_have_text("Ringing")
    expect(popup.value).to_have_url("https://crm.example.test/contacts/jan-1")
    expect(alice.locator("#popup-blocked")).to_be_hidden()
    keep_screenshot(alice, tmp_path, "agent-ringing.png")

    post_zammad(server, world.zammad, "answer", "b-1", answeringNumber="201")
    expect(card.locator("[data-testid=call-state] .badge")).to_have_text("Answered by you")
    post_zammad(server, world.zammad, "hangup", "b-1", cause="normalClearing")
    expect(card.locator("[data-testid=call-state] .badge")).to_have_text("Ended by you")

    # Bob (extension 202) and Carol (Globex, also extension 201) saw nothing.
    time.sleep(0.3)
    expect(bob.locator(".call-card")).to_have_count(0)
    expect(carol.locator(".call-card")).to_have_count(0)
    assert alice_csp == []


def test_a_missed_call_stays_highlighted_until_called_back_and_survives_a_reload(
    browser, server, world, tmp_path
):
    _, alice = signed_in(browser, server, "alice")
    post_zammad(server, world.zammad, "newCall", "m-1")
    post_zammad(server, world.zammad, "hangup", "m-1", cause="cancel")
    card = alice.locator(".call-card").first
    expect(card).to_have_attribute("data-state", "missed")
    expect(card).to_have_class("card call-card call-missed-open")
    expect(card.get_by_role("link", name="Call back +31201234567")).to_have_attribute(
        "href", "tel:+31201234567"
    )
    keep_screenshot(alice, tmp_path, "agent-missed.png")

    alice.reload()  # today's calls come back with the page
    card = alice.locator(".call-card").first
    expect(card).to_have_attribute("data-state", "missed")
    card.get_by_role("button", name="Called back").click()
    expect(card.get_by_text("Called back by you")).to_be_visible()
    expect(card).not_to_have_class("card call-card call-missed-open")


def test_a_background_tab_gets_a_browser_notification_that_focuses_the_card(browser, server, world):
    context, alice = signed_in(browser, server, "alice", permissions=["notifications"])
    alice.add_init_script(RECORD_NOTIFICATIONS)
    alice.reload()
    expect(alice.locator("#agent-status")).to_have_text("Live")
    other_tab = context.new_page()
    other_tab.goto("/agent/")
    other_tab.bring_to_front()
    # Headless Chromium reports every page as focused unless told it is not (Playwright emulates
    # focus): with that off, the agent's page is the unfocused tab it would be on a desktop.
    context.new_cdp_session(alice).send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    assert until(alice, "() => document.visibilityState === 'hidden' || !document.hasFocus()")

    post_zammad(server, world.zammad, "newCall", "n-1")
    assert until(alice, "() => window.__notes.length === 1")
    assert alice.evaluate("window.__notes[0].title") == "Call: Jan Jansen"
    assert "+31201234567" in alice.evaluate("window.__notes[0].body") or "31201234567" in alice.evaluate(
        "window.__notes[0].body"
    )
    alice.evaluate("window.__notes[0].onclick()")
    card_id = alice.evaluate("document.activeElement.id")
    assert card_id.startswith("call-")
    expect(alice.locator(f"#{card_id}").get_by_role("button", name="Hide")).to_be_visible()  # opened


def test_the_page_says_when_it_is_offline_and_reconnects_by_itself(browser, server, world):
    context, alice = signed_in(browser, server, "alice")
    alice.add_init_script("window.open = () => null;")  # as a pop-up blocker answers
    alice.reload()
    expect(alice.locator("#agent-status")).to_have_text("Live")
    context.set_offline(True)
    alice.evaluate("window.dispatchEvent(new Event('offline'))")
    expect(alice.locator("#agent-status")).to_have_text("Offline")
    expect(alice.locator("#agent-offline")).to_be_visible()
    context.set_offline(False)
    alice.evaluate("window.dispatchEvent(new Event('online'))")
    expect(alice.locator("#agent-status")).to_have_text("Live", timeout=5000)
    expect(alice.locator("#agent-offline")).to_be_hidden()
    post_zammad(server, world.zammad, "newCall", "r-1")
    expect(alice.locator(".call-card")).to_have_count(1, timeout=1000)
    expect(alice.locator("#popup-blocked")).to_be_visible()
    expect(alice.locator("#popup-blocked")).to_contain_text("Screen pop")


def test_the_page_reconnects_after_a_server_restart(browser, world, tmp_path):
    with asgi_server(tmp_path / "first.log") as first:
        _, alice = signed_in(browser, first, "alice")
    # The server is gone: the page says so and keeps trying.
    expect(alice.locator("#agent-status")).to_have_text("Offline", timeout=5000)
    expect(alice.locator("#agent-offline")).to_be_visible()
    with asgi_server(tmp_path / "second.log", port=first.port) as second:
        expect(alice.locator("#agent-status")).to_have_text("Live", timeout=20000)
        post_zammad(second, world.zammad, "newCall", "after-restart")
        expect(alice.locator(".call-card h3")).to_have_text("Jan Jansen", timeout=1000)
