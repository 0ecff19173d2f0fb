"""Agents in the UI (issue 11): the admin's agents screen, the invitation link, the agent's page,
and an agent refused by every configuration page."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agents.live import CallReport, call_report_process
from agents.models import AgentProfile, AgentTarget
from agents.selectors import agent_day_counts
from tests.agents_world import agents_world
from tests.conftest import PASSWORD

# Routes an agent may reach: sign-in/out, their page, the PBX and API endpoints (their own
# authentication), documentation, and the Django admin (staff only, its own sign-in).
NOT_CONFIGURATION = {
    "login",
    "logout",
    "agent-page",
    "agent-welcome",
    "pbx-event",
    "api-match",
    "api-catalog",
    "catalog",
    "api-schema",
    "api-docs",
    "set_language",  # the language switch (a cookie) is for everyone
}


def _routes(patterns, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if getattr(entry, "app_name", None) == "admin" or getattr(entry, "namespace", None) == "admin":
                continue
            found.extend(_routes(entry.url_patterns, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((prefix + str(entry.pattern), entry))
    return found


def _sample_url(route: str) -> str:
    # Any value of the right shape: the refusal comes before the object is looked up.
    url = re.sub(r"<int:[^>]+>", "1", route)
    url = re.sub(r"<(?:str|slug|path|uuid):?[^>]*>", "x", url)
    return "/" + url


def agent_client(username: str = "alice") -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


@pytest.fixture
def world(tenant, other_tenant):
    return agents_world(tenant, other_tenant)


def test_an_agent_is_refused_by_every_configuration_page_and_api_key_page(world):
    client = agent_client()
    routes = [
        (route, p) for route, p in _routes(get_resolver().url_patterns) if p.name not in NOT_CONFIGURATION
    ]
    names = {p.name for _, p in routes}
    assert {
        "home",
        "api-keys",
        "api-key-revoke",
        "agents",
        "agent-edit",
        "pbx-senders",
        "integration-wizard",
    } <= names
    assert len(routes) > 40
    for route, pattern in routes:
        if pattern.name == "favicon" or route.startswith("favicon"):
            continue
        url = _sample_url(route)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 403, (method, url, pattern.name, response.status_code)
    # And the Django admin (staff only) sends the agent to its own sign-in.
    assert client.get("/django-admin/").status_code == 302


def test_an_agent_signs_in_like_an_admin_and_lands_on_their_page(world):
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/agent/"
    page = client.get("/agent/")
    assert page.status_code == 200
    assert b'data-ws-path="/ws/agent/"' in page.content
    assert b"app/agent.js" in page.content
    # An admin still lands on the configurator.
    assert Client().post("/login/", {"username": "admin", "password": PASSWORD})["Location"] == "/"


def test_the_agent_sign_in_is_throttled_like_everyone_elses(world, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429


def test_the_agent_page_is_for_agents(world, admin_client):
    assert Client().get("/agent/")["Location"].startswith("/login/")
    refused = admin_client.get("/agent/")
    assert refused.status_code == 403
    assert b"ask your tenant admin to add you as an agent" in refused.content


def test_the_page_says_which_devices_the_agent_sees(world):
    content = agent_client("bob").get("/agent/").content.decode()
    assert "202" in content
    assert "+31 20 555 0100" in content
    assert "Bob Agent" in content


def test_an_admin_invites_an_agent_who_sets_a_password_and_signs_in(world, admin_client):
    response = admin_client.post(
        "/agents/",
        {
            "username": "dave",
            "display_name": "Dave",
            "email": "",
            "devices": "203, 204",
            "ddis": "",
            "queues": "Support",
        },
    )
    assert response.status_code == 200
    found = re.search(r'id="agent-link"[^>]*value="([^"]+)"', response.content.decode())
    assert found is not None
    link = found.group(1)
    dave = AgentProfile.objects.get(user__username="dave")
    assert dave.tenant == world.tenant
    assert sorted(dave.targets.values_list("kind", "key")) == [
        ("device", "203"),
        ("device", "204"),
        ("queue", "support"),
    ]
    assert not dave.user.has_usable_password()
    assert not dave.user.membership.is_tenant_admin

    path = link.replace("http://testserver", "")
    browser = Client()
    form_page = browser.get(path, follow=True)
    assert b"Choose your password" in form_page.content
    done = browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-long-agent-pass-2026", "new_password2": "a-long-agent-pass-2026"},
    )
    assert done.status_code == 302
    assert (
        Client().post("/login/", {"username": "dave", "password": "a-long-agent-pass-2026"})["Location"]
        == "/agent/"
    )
    # The link is spent once used.
    assert b"This link no longer works" in Client().get(path, follow=True).content


def test_the_invite_form_explains_bad_input(world, admin_client):
    taken = admin_client.post("/agents/", {"username": "alice", "display_name": "A", "devices": "201"})
    assert taken.status_code == 400
    assert "is taken" in taken.content.decode()
    bad_ddi = admin_client.post("/agents/", {"username": "erin", "display_name": "E", "ddis": "sales line"})
    assert bad_ddi.status_code == 400
    assert "is not a phone number" in bad_ddi.content.decode()
    assert not AgentProfile.objects.filter(user__username="erin").exists()


def test_an_admin_edits_an_agents_devices(world, admin_client):
    response = admin_client.post(
        f"/agents/{world.alice.pk}/",
        {"display_name": "Alice A.", "devices": "205\n205", "ddis": "020 555 0199"},
    )
    assert response.status_code == 302
    targets = sorted(AgentTarget.objects.filter(agent=world.alice).values_list("kind", "key"))
    assert targets == [("ddi", "+31205550199"), ("device", "205")]
    world.alice.refresh_from_db()
    assert world.alice.display_name == "Alice A."


def test_admins_cannot_reach_another_tenants_agents(world, other_admin_client):
    assert other_admin_client.get(f"/agents/{world.alice.pk}/").status_code == 404
    for action, data in (("active", {"active": "0"}), ("delete", {}), ("link", {})):
        assert other_admin_client.post(f"/agents/{world.alice.pk}/{action}/", data).status_code == 404
    page = other_admin_client.get("/agents/").content.decode()
    assert "Carol Other" in page
    assert "Alice Agent" not in page
    world.alice.user.refresh_from_db()
    assert world.alice.user.is_active


def test_stopping_and_removing_an_agent(world, admin_client):
    admin_client.post(f"/agents/{world.alice.pk}/active/", {"active": "0"})
    assert not Client().login(request=HttpRequest(), username="alice", password=PASSWORD)
    admin_client.post(f"/agents/{world.alice.pk}/active/", {"active": "1"})
    assert Client().login(request=HttpRequest(), username="alice", password=PASSWORD)
    admin_client.post(f"/agents/{world.bob.pk}/delete/")
    assert not AgentProfile.objects.filter(pk=world.bob.pk).exists()
    assert not Client().login(request=HttpRequest(), username="bob", password=PASSWORD)


def _report(world, phase: str, call_id: str, *, to: str = "201", by: tuple[str, ...] = (), at=None) -> None:
    kwargs = {"at": at} if at else {}
    call_report_process(
        CallReport(
            tenant_id=world.tenant.pk,
            source="pbx:test",
            phase=phase,
            call_id=call_id,
            caller_number="+31201234567",
            caller_e164="+31201234567",
            numbers=(to,),
            by_numbers=by,
            answer={"matches": [], "actions": [], "call": {}} if phase == "start" else None,
            **kwargs,
        )
    )


def test_the_admin_sees_per_agent_todays_answered_and_missed_calls(world, admin_client):
    # 23:30 in Amsterdam: yesterday's calls (before local midnight) do not count.
    with time_machine.travel(dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC), tick=False):
        yesterday = dt.datetime(2026, 3, 9, 22, 59, tzinfo=dt.UTC)
        _report(world, "start", "old", at=yesterday)
        _report(world, "ended", "old", at=yesterday)
        _report(world, "start", "a1")
        _report(world, "answered", "a1", by=("201",))
        _report(world, "start", "m1")
        _report(world, "ended", "m1")
        _report(world, "start", "m2", to="202")
        _report(world, "ended", "m2")
        counts = {
            d.agent.display_name: (d.answered, d.missed, d.missed_open)
            for d in agent_day_counts(tenant=world.tenant)
        }
        assert counts == {"Alice Agent": (1, 1, 1), "Bob Agent": (0, 1, 1)}
        page = admin_client.get("/agents/").content.decode()
    found = re.search(r'<tr data-agent="alice">.*?</tr>', page, re.S)
    assert found is not None
    row = found.group(0)
    assert re.search(r'data-count="answered">1<', row)
    assert re.search(r'data-count="missed">1<', row)
    with time_machine.travel(dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC), tick=False):
        detail = admin_client.get(f"/agents/{world.alice.pk}/").content.decode()
    states = re.findall(r'<tr data-state="(\w+)">', detail)
    assert sorted(states) == ["answered", "missed"]  # not yesterday's, not Bob's
    assert reverse("agents") in admin_client.get("/").content.decode()  # the sidebar links the screen


def test_the_demo_agent_command_seeds_an_agent_on_201_and_a_zammad_sender(db, tmp_path):
    from django.core.management import call_command

    from integrations.pbx.models import PbxSender
    from tenants.services import tenant_create

    tenant, _ = tenant_create(name="Demo BV", admin_username="admin", admin_password=PASSWORD)
    path_file = tmp_path / "path"
    for _ in range(2):  # `make run` runs it on every start
        call_command("demo_agents", "--path-file", str(path_file), stdout=io.StringIO())
    agent = AgentProfile.objects.get(tenant=tenant, user__username="agent")
    assert list(agent.targets.values_list("kind", "key")) == [("device", "201")]
    assert agent.user.check_password("agent-demo-2026")
    sender = PbxSender.objects.get(tenant=tenant, format="zammad")
    assert path_file.read_text() == f"/pbx/zammad/{sender.token}/"
    response = Client().post(
        path_file.read_text(),
        '{"event":"newCall","from":"31201234567","to":"201","direction":"in","callId":"demo-1"}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert list(agent.offered_calls.values_list("call_id", flat=True)) == ["demo-1"]
