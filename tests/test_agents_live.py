"""Agents' live notifications (issue 11): call events reach the WebSocket of the agents concerned,
and nobody else's (channels.testing's WebsocketCommunicator against configurator.asgi)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.http import HttpRequest
from django.test import Client

from agents.models import AgentCall, CallState
from configurator.asgi import application
from integrations.ignore_list import ignored_number_add
from tenants.services import api_key_create
from tests.agents_world import JAN, SALES_DDI, AgentsWorld, agents_world, zammad_body, zammad_url
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(tenant, other_tenant) -> AgentsWorld:
    return agents_world(tenant, other_tenant)


def session_cookie(username: str) -> str:
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(cookie: str = "", origin: str = "http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/agent/", headers=headers)


def zammad(sender, event: str, call_id: str, **kwargs: Any) -> int:
    response = Client().post(
        zammad_url(sender), zammad_body(event, call_id, **kwargs), content_type="application/json"
    )
    return response.status_code


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    # The scenario's database calls run in this (the test's) thread, which sees the test's data.
    async_to_sync(scenario)()


async def connected(username: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    cookie = await database_sync_to_async(session_cookie)(username)
    comm = communicator(cookie)
    ok, _ = await comm.connect(timeout=3)
    assert ok
    snapshot = await comm.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot"
    return comm, snapshot


def in_thread(fn: Callable[..., Any]) -> Any:
    return database_sync_to_async(fn)


def test_a_new_call_for_my_extension_shows_its_card_with_the_crm_record_and_actions(world):
    async def scenario() -> None:
        alice, snapshot = await connected("alice")
        assert snapshot["agent"] == {"id": world.alice.pk, "name": "Alice Agent"}
        assert snapshot["calls"] == []
        assert await in_thread(zammad)(world.zammad, "newCall", "call-1") == 200
        message = await alice.receive_json_from(timeout=1)
        card = message["call"]
        assert message["type"] == "call"
        assert card["state"] == "ringing"
        assert card["follows_state"] is True
        assert card["caller_e164"] == "+31201234567"
        assert card["caller_name"] == "Jan Jansen"
        match = card["matches"][0]
        assert match["title"] == "Jan Jansen"
        assert {"label": "Company", "value": "Acme BV"} in match["fields"]
        # The preset's "Open contact" (the record's URL) and the tenant's screen pop, opened at once.
        assert match["actions"] == [
            {
                "name": "Open contact",
                "url": "https://dav.example.com/addressbooks/alice/contacts/jan.vcf",
                "auto_open": False,
            },
            {"name": "Screen pop", "url": "https://crm.example.test/contacts/jan-1", "auto_open": True},
        ]
        assert card["actions"] == []  # "Create contact" is for callers no CRM knows

        assert await in_thread(zammad)(world.zammad, "answer", "call-1", answeringNumber="201") == 200
        answered = (await alice.receive_json_from(timeout=1))["call"]
        assert answered["state"] == "answered"
        assert answered["answered_by"] == {"id": world.alice.pk, "name": "Alice Agent"}

        assert await in_thread(zammad)(world.zammad, "hangup", "call-1", cause="normalClearing") == 200
        assert (await alice.receive_json_from(timeout=1))["call"]["state"] == "ended"
        await alice.disconnect()

    run(scenario)


def test_other_agents_and_other_tenants_get_nothing(world):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        bob, _ = await connected("bob")
        carol, _ = await connected("carol")  # Globex's agent on the same extension number 201
        assert await in_thread(zammad)(world.zammad, "newCall", "acme-1") == 200
        assert (await alice.receive_json_from(timeout=1))["call"]["caller_name"] == "Jan Jansen"
        assert await bob.receive_nothing(timeout=0.3)
        assert await carol.receive_nothing(timeout=0.3)

        # Globex's event for its extension 201 reaches Carol only, without Acme's CRM data.
        assert await in_thread(zammad)(world.other_zammad, "newCall", "globex-1") == 200
        card = (await carol.receive_json_from(timeout=1))["call"]
        assert card["matches"] == []
        assert await alice.receive_nothing(timeout=0.3)
        for comm in (alice, bob, carol):
            await comm.disconnect()

    run(scenario)


def test_a_call_to_the_sales_ddi_reaches_the_sales_agent_and_a_colleague_answering_shows(world):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        bob, _ = await connected("bob")
        # Zammad sends the DDI with its country code first: 31205550100.
        assert await in_thread(zammad)(world.zammad, "newCall", "sales-1", to="31205550100") == 200
        assert (await bob.receive_json_from(timeout=1))["call"]["called_number"] == "31205550100"
        assert await alice.receive_nothing(timeout=0.2)
        # Alice picks it up at 201: Bob's card says so; Alice now sees the call too.
        await in_thread(zammad)(world.zammad, "answer", "sales-1", to="31205550100", answeringNumber="201")
        card = (await bob.receive_json_from(timeout=1))["call"]
        assert card["state"] == "answered"
        assert card["answered_by"]["name"] == "Alice Agent"
        assert (await alice.receive_json_from(timeout=1))["call"]["answered_by"]["id"] == world.alice.pk
        await alice.disconnect()
        await bob.disconnect()

    run(scenario)
    assert SALES_DDI


def test_a_missed_call_stays_open_until_called_back_and_everyone_sees_who(world):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        await in_thread(zammad)(world.zammad, "newCall", "m-1")
        await alice.receive_json_from(timeout=1)
        await in_thread(zammad)(world.zammad, "hangup", "m-1", cause="cancel")
        missed = (await alice.receive_json_from(timeout=1))["call"]
        assert missed["state"] == "missed"
        assert missed["called_back"] is None
        assert missed["callback_url"] == "tel:+31201234567"

        # A second tab of Alice's sees the list of today's calls, the missed one included.
        second, snapshot = await connected("alice")
        assert [c["id"] for c in snapshot["calls"]] == [missed["id"]]

        await alice.send_json_to({"type": "called_back", "id": missed["id"]})
        for comm in (alice, second):
            update = await comm.receive_json_from(timeout=1)
            if update["type"] == "ok":
                update = await comm.receive_json_from(timeout=1)
            assert update["call"]["called_back"]["by"]["name"] == "Alice Agent"
        await alice.disconnect()
        await second.disconnect()

    run(scenario)
    assert AgentCall.objects.get(call_id="m-1").called_back_by == world.alice


def test_an_outgoing_call_to_the_missed_number_marks_it_called_back(world):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        await in_thread(zammad)(world.zammad, "newCall", "m-2")
        await in_thread(zammad)(world.zammad, "hangup", "m-2")
        await alice.receive_json_from(timeout=1)
        assert (await alice.receive_json_from(timeout=1))["call"]["state"] == "missed"
        # Alice dials Jan from her extension.
        body = json.dumps({"event": "newCall", "from": "201", "to": JAN, "direction": "out", "callId": "o-1"})
        await in_thread(
            lambda: Client().post(zammad_url(world.zammad), body, content_type="application/json")
        )()
        card = (await alice.receive_json_from(timeout=1))["call"]
        assert card["called_back"]["by"]["name"] == "Alice Agent"
        await alice.disconnect()

    run(scenario)


def test_nobody_can_mark_another_tenants_or_a_colleagues_call(world):
    async def scenario() -> None:
        await in_thread(zammad)(world.zammad, "newCall", "p-1")
        call_id = await in_thread(lambda: AgentCall.objects.get(call_id="p-1").pk)()
        carol, _ = await connected("carol")
        await carol.send_json_to({"type": "called_back", "id": call_id})
        assert await carol.receive_json_from(timeout=1) == {
            "type": "error",
            "detail": "No such call of yours.",
        }
        bob, _ = await connected("bob")
        await bob.send_json_to({"type": "called_back", "id": call_id})
        assert (await bob.receive_json_from(timeout=1))["type"] == "error"
        for junk in ("not json", json.dumps({"type": "called_back", "id": "1"}), json.dumps([1]), "[" * 5000):
            await bob.send_to(text_data=junk)
            assert (await bob.receive_json_from(timeout=1))["type"] == "error"
        await bob.send_to(bytes_data=b"\x00\x01")
        assert (await bob.receive_json_from(timeout=1))["type"] == "error"
        await carol.disconnect()
        await bob.disconnect()

    run(scenario)
    assert AgentCall.objects.get(call_id="p-1").called_back_at is None


def test_the_socket_refuses_anonymous_users_admins_without_a_profile_and_foreign_origins(world):
    async def scenario() -> None:
        ok, _ = await communicator().connect(timeout=3)
        assert not ok
        admin_cookie = await in_thread(session_cookie)("admin")
        ok, _ = await communicator(admin_cookie).connect(timeout=3)
        assert not ok
        alice_cookie = await in_thread(session_cookie)("alice")
        ok, _ = await communicator(alice_cookie, origin="https://evil.example").connect(timeout=3)
        assert not ok

    run(scenario)


def test_a_deactivated_agent_is_disconnected_and_refused(world, admin_client):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        cookie = await in_thread(session_cookie)("alice")
        response = await in_thread(admin_client.post)(f"/agents/{world.alice.pk}/active/", {"active": "0"})
        assert response.status_code == 302
        assert (await alice.receive_output(timeout=1)) == {"type": "websocket.close", "code": 4401}
        ok, _ = await communicator(cookie).connect(timeout=3)
        assert not ok

    run(scenario)


def test_the_match_api_with_a_device_number_notifies_that_agent(world):
    _, key = api_key_create(tenant=world.tenant, name="PBX")

    def match(**params: str) -> int:
        return Client().get("/api/v1/match", params, HTTP_AUTHORIZATION=f"Api-Key {key}").status_code

    async def scenario() -> None:
        bob, _ = await connected("bob")
        assert await in_thread(match)(caller_number="0201234567", device_number="202", call_id="api-1") == 200
        card = (await bob.receive_json_from(timeout=1))["call"]
        assert card["caller_name"] == "Jan Jansen"
        assert card["follows_state"] is False  # the page says "Incoming call", not "Ringing" forever
        # Without a device, DDI or queue, the match API tells nobody.
        assert await in_thread(match)(caller_number="0201234567") == 200
        assert await bob.receive_nothing(timeout=0.3)
        await bob.disconnect()

    run(scenario)


def test_an_unknown_caller_shows_the_create_contact_action(world):
    async def scenario() -> None:
        alice, _ = await connected("alice")
        await in_thread(zammad)(world.zammad, "newCall", "u-1", caller="31612345678")
        card = (await alice.receive_json_from(timeout=1))["call"]
        assert card["matches"] == []
        assert card["caller_name"] == ""
        assert card["actions"] == [
            {
                "name": "Create contact",
                "url": "https://crm.example.test/new?phone=0612345678",
                "auto_open": False,
            }
        ]
        await alice.disconnect()

    run(scenario)


def test_callers_on_the_ignore_list_are_shown_to_nobody(world):
    ignored_number_add(tenant=world.tenant, number="+31 20 123 4567")
    zammad(world.zammad, "newCall", "i-1")
    assert not AgentCall.objects.filter(call_id="i-1").exists()


def test_events_in_any_order_end_in_the_right_state(world):
    # The hang-up's process may finish before the start's (two web processes): the start then
    # fills in the caller but does not bring the call back to "ringing".
    assert zammad(world.zammad, "hangup", "race-1") == 200
    assert zammad(world.zammad, "newCall", "race-1") == 200
    call = AgentCall.objects.get(call_id="race-1")
    assert call.state == CallState.MISSED
    assert call.caller_e164 == "+31201234567"
    assert list(call.offered_to.all()) == [world.alice]


def test_a_failing_channel_layer_never_fails_the_pbx(world, settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        assert zammad(world.zammad, "newCall", "down-1") == 200
    finally:
        channel_layers.backends.clear()
    assert AgentCall.objects.filter(call_id="down-1").exists()
    assert "sending to the agents' group" in caplog.text


def test_signing_out_closes_the_agents_other_pages(world):
    async def scenario() -> None:
        cookie = await in_thread(session_cookie)("alice")
        comm = communicator(cookie)
        assert (await comm.connect(timeout=3))[0]
        await comm.receive_json_from(timeout=3)
        client = Client()
        client.cookies["sessionid"] = cookie.split("=", 1)[1]
        await in_thread(client.post)("/logout/")
        assert (await comm.receive_output(timeout=1)) == {"type": "websocket.close", "code": 4401}

    run(scenario)


def test_a_card_never_carries_a_link_that_could_run_script(world):
    from agents.live import call_card

    call = AgentCall.objects.create(
        tenant=world.tenant,
        source="api",
        started_at=dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC),
        answer={
            "matches": [
                {
                    "notification": {"title": "<b>x</b>", "fields": []},
                    "record": {"url": "javascript:alert(1)"},
                    "integration": {"name": "CRM"},
                    "actions": [
                        {"name": "Bad", "url": " data:text/html,x"},
                        {"name": "Ok", "url": "https://a.test/"},
                    ],
                }
            ],
            "choose": [{"integration": {"name": "CRM"}, "choices": [{"title": "y", "url": "vbscript:x"}]}],
            "actions": [{"name": "Tel", "url": "tel:+31201234567"}],
        },
    )
    card = call_card(call)
    assert card["matches"][0]["record_url"] == ""
    assert card["matches"][0]["title"] == "<b>x</b>"  # text: the page sets it with textContent
    assert [a["name"] for a in card["matches"][0]["actions"]] == ["Ok"]
    assert card["choose"][0]["choices"][0]["url"] == ""
    assert card["actions"][0]["url"] == "tel:+31201234567"


def test_placetel_events_reach_the_ddis_agent_and_name_who_accepted(world):
    from urllib.parse import urlencode

    from integrations.pbx.placetel import placetel_signature
    from integrations.pbx.services import pbx_sender_create

    placetel = pbx_sender_create(tenant=world.tenant, format_slug="placetel", name="Placetel")

    def post(**fields: str) -> int:
        body = urlencode(fields)
        return (
            Client()
            .post(
                f"/pbx/placetel/{placetel.token}/",
                body,
                content_type="application/x-www-form-urlencoded",
                HTTP_X_PLACETEL_SIGNATURE=placetel_signature(placetel.secret, body.encode()),
            )
            .status_code
        )

    # Placetel's IncomingCall names the dialled number (Bob's sales DDI), CallAccepted the peer.
    assert post(event="IncomingCall", call_id="pt-1", **{"from": "0201234567", "to": "0205550100"}) == 200
    assert (
        post(event="CallAccepted", call_id="pt-1", peer="202", **{"from": "0201234567", "to": "0205550100"})
        == 200
    )
    call = AgentCall.objects.get(call_id="pt-1")
    assert list(call.offered_to.all()) == [world.bob]
    assert call.state == CallState.ANSWERED
    assert call.answered_by == world.bob
