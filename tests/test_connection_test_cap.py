"""`CONNECTION_TEST_TIMEOUT_SECONDS`: an admin's "Test connection" (wizard and edit screen) ends with
"The CRM did not answer within N seconds at <host>" however many requests it makes, against real
sockets on 127.0.0.1: a server that accepts and never answers, and one that trickles a byte at a
time (each byte well within every per-read timeout, so only the total caps can end it).

The cap is lowered in each test; nothing asserts on how long anything took.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from integrations.connectors.base import ConnectorError
from integrations.http import connector_client
from integrations.models import Integration
from integrations.outbound import OutboundRequestTooSlow, overall_deadline
from integrations.registry import get_preset
from integrations.services import integration_create, integration_sample_records, integration_test_connection
from tenants.models import Tenant
from tests.test_wizard import start

pytestmark = pytest.mark.usefixtures("allow_private_addresses")


class _Server:
    """A TCP server on 127.0.0.1, port 0, run by one thread: accepts every connection and then
    either says nothing (`trickle` False) or sends a status line and one header byte every 20 ms."""

    def __init__(self, *, trickle: bool) -> None:
        self.trickle = trickle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dav/"

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)
            if self.trickle:
                threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self.stop.wait(0.02):
                connection.sendall(b"x")
        except OSError:
            return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[_Server]:
    server = _Server(trickle=False)
    yield server
    server.close()


@pytest.fixture
def trickling_server() -> Iterator[_Server]:
    server = _Server(trickle=True)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The service words its message in the active language; a page test in Dutch may leave it on.
    with translation.override("en"):
        yield


@pytest.fixture
def short_cap(settings: Any) -> None:
    """The cap lowered to half a second; every per-request limit far above it."""
    settings.CONNECTION_TEST_TIMEOUT_SECONDS = 0.5
    settings.CONNECTOR_HTTP_TIMEOUT = 30.0
    settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT = 120.0


NOT_ANSWERED = (
    "The CRM did not answer within 0.5 seconds at 127.0.0.1. Check the address, and that the server "
    "is running and can be reached from here."
)


@pytest.mark.usefixtures("short_cap")
@pytest.mark.parametrize("kind", ["silent", "trickling"])
def test_a_connection_test_ends_at_the_cap_and_names_the_host(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server: _Server = request.getfixturevalue(f"{kind}_server")
    with pytest.raises(ConnectorError) as caught:
        integration_test_connection(preset=get_preset("carddav"), settings_values={"url": server.url})
    assert caught.value.message == NOT_ANSWERED
    assert caught.value.timed_out
    assert not caught.value.permanent


@pytest.mark.usefixtures("short_cap")
def test_fetching_a_sample_record_ends_at_the_same_cap(trickling_server: _Server) -> None:
    with pytest.raises(ConnectorError) as caught:
        integration_sample_records(
            preset=get_preset("carddav"), settings_values={"url": trickling_server.url}
        )
    assert caught.value.message == NOT_ANSWERED


def test_the_cap_covers_every_request_made_inside_it(settings: Any, trickling_server: _Server) -> None:
    # Each request may take 0.6 s; all of them together 1 s. The first ends at its own limit, the
    # second (started after 0.6 s, so its own limit lies past 1.2 s) at the shared one, and a third
    # does not even start. The client is made first: only the requests count.
    settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT = 0.6
    limits = []
    with connector_client() as client, overall_deadline(1.0):
        for _ in range(3):
            with pytest.raises(OutboundRequestTooSlow) as caught:
                client.get(trickling_server.url)
            limits.append(caught.value.message)
    assert limits == [
        "did not answer in time: one request took longer than 0.6 s.",
        "did not answer in time: one request took longer than 1 s.",
        "did not answer in time: one request took longer than 1 s.",
    ]


def test_an_inner_cap_never_extends_an_outer_one() -> None:
    with overall_deadline(0.5) as outer, overall_deadline(60) as inner:
        assert inner == outer


def test_a_cap_far_above_the_requests_changes_nothing(settings: Any) -> None:
    settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT = 0.3
    trickler = _Server(trickle=True)
    try:
        with (
            overall_deadline(60),
            connector_client() as client,
            pytest.raises(OutboundRequestTooSlow) as caught,
        ):
            client.get(trickler.url)
    finally:
        trickler.close()
    assert caught.value.message == "did not answer in time: one request took longer than 0.3 s."
    assert isinstance(caught.value, httpx.TimeoutException)


# Through the pages -----------------------------------------------------------------------------


@pytest.mark.usefixtures("short_cap")
def test_the_wizards_test_connection_answers_with_the_cap(
    tenant: Tenant, admin_client: Client, silent_server: _Server
) -> None:
    settings_url = start(admin_client, "carddav")
    page = admin_client.get(settings_url)
    # The button says it is busy while the test runs (static/app/wizard.js; without JavaScript
    # it is a plain post).
    assert (
        'name="action" value="test" class="btn btn-outline-secondary" data-busy-label="Testing…"' in page.text
    )
    assert "data-busy-form" in page.text
    response = admin_client.post(
        settings_url,
        {"name": "Contacts", "settings-url": silent_server.url, "settings-username": "a", "action": "test"},
    )
    assert response.status_code == 200
    assert NOT_ANSWERED in response.text
    assert 'id="connection-result"' in response.text


@pytest.mark.usefixtures("short_cap")
def test_the_wizards_next_does_not_go_on_when_the_crm_does_not_answer(
    tenant: Tenant, admin_client: Client, trickling_server: _Server
) -> None:
    settings_url = start(admin_client, "carddav")
    response = admin_client.post(
        settings_url,
        {"name": "Contacts", "settings-url": trickling_server.url, "action": "next"},
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    assert response.status_code == 200
    assert (
        "Het CRM antwoordde niet binnen 0.5 seconden op 127.0.0.1. Controleer het adres, en of de "
        "server draait en van hieruit bereikbaar is."
    ) in response.text


@pytest.mark.usefixtures("short_cap")
def test_the_edit_screens_test_connection_answers_with_the_cap(
    tenant: Tenant, admin_client: Client, silent_server: _Server
) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": silent_server.url, "username": "alice", "password": "secret"},
        start_sync=False,
    )
    page = admin_client.get(reverse("integration-edit", args=[integration.pk]))
    assert 'value="test" class="btn btn-outline-secondary" data-busy-label="Testing…"' in page.text
    assert "app/wizard.js" in page.text  # what shows the busy state
    response = admin_client.post(
        reverse("integration-edit", args=[integration.pk]),
        {
            "name": "Address book",
            "settings-url": silent_server.url,
            "settings-username": "alice",
            "settings-password": "",
            "field_order": ["Company", "Email", "DisplayName", "Identifier", "PopUpUri", "Title"],
            "fields": ["Company", "Email"],
            "action": "test",
        },
    )
    assert response.status_code == 200
    assert NOT_ANSWERED in response.text
    assert Integration.objects.get(pk=integration.pk).settings["url"] == silent_server.url
