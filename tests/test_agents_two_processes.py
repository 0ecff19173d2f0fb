"""Several web processes behind one Redis (issue 11): a call event posted to one ASGI process
reaches an agent whose page is connected to another; another tenant's agent gets nothing."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.http import HttpRequest
from django.test import Client
from websockets.sync.client import connect

from tests.agents_world import agents_world, zammad_body, zammad_url
from tests.asgi_server import asgi_server
from tests.conftest import PASSWORD
from tests.redis_server import redis_server

pytestmark = pytest.mark.django_db(transaction=True)


def _session(username: str) -> str:
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client.cookies["sessionid"].value


def _socket(server, username: str):
    return connect(
        f"ws://127.0.0.1:{server.port}/ws/agent/",
        additional_headers={"Cookie": f"sessionid={_session(username)}", "Origin": server.url},
        open_timeout=5,
    )


def test_an_event_posted_to_one_process_reaches_the_agent_on_the_other(tenant, other_tenant, tmp_path):
    world = agents_world(tenant, other_tenant)
    with (
        redis_server(tmp_path) as redis_url,
        asgi_server(tmp_path / "a.log", channel_layer_url=redis_url) as web_a,
        asgi_server(tmp_path / "b.log", channel_layer_url=redis_url) as web_b,
        _socket(web_b, "alice") as alice,
        _socket(web_a, "carol") as carol,
    ):
        assert json.loads(alice.recv(timeout=5))["type"] == "snapshot"
        assert json.loads(carol.recv(timeout=5))["type"] == "snapshot"
        started = time.monotonic()
        response = httpx.post(
            web_a.url + zammad_url(world.zammad),
            content=zammad_body("newCall", "two-1"),
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert response.status_code == 200
        message = json.loads(alice.recv(timeout=3))
        elapsed = time.monotonic() - started
        assert message["type"] == "call"
        assert message["call"]["caller_name"] == "Jan Jansen"
        assert elapsed < 1.0, f"the card took {elapsed:.2f} s"
        # Globex's agent on extension 201 (connected to the process that got the event): nothing.
        with pytest.raises(TimeoutError):
            carol.recv(timeout=0.5)
