"""The outbound HTTP guard (issue 5, finding 3: SSRF through tenant-typed CRM addresses).

Address decisions are tested on resolved addresses: the resolver is a fake (`dns` fixture) and
the operating system's TCP backend is replaced by a recording one (`network` fixture), so a test
that "calls" 10.0.0.1 or 169.254.169.254 proves that nothing was connected to. Real connections
only go to servers these tests start on 127.0.0.1, port 0, with `allow_private_addresses`.
"""

from __future__ import annotations

import gzip
import http.server
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations import outbound
from integrations.connectors.base import ConnectorError
from integrations.connectors.carddav import CardDavConnector
from integrations.http import connector_client
from integrations.models import Integration
from integrations.outbound import (
    PRIVATE_ADDRESS_MESSAGE,
    GuardedTransport,
    OutboundAddressRefused,
    OutboundNameNotResolved,
    OutboundRequestTooSlow,
    OutboundResponseTooLarge,
    address_refused,
)
from integrations.registry import get_preset
from integrations.services import (
    integration_create,
    integration_settings_clean,
    integration_test_connection,
)
from integrations.sync import phone_cache_sync

PUBLIC_V4 = "93.184.215.14"  # never connected to: the recording backend stands in
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

# --- Fakes: DNS and the TCP backend -----------------------------------------------------------


class FakeDns:
    """A resolver: IP text as the C library reads it (never DNS), names from `names`.

    A name's value is a list of answers, one per lookup (the last one repeats), so a test can
    make the answer change between lookups (DNS rebinding).
    """

    def __init__(self) -> None:
        self.names: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self.names.get(host.lower())
        if answers is None:
            return outbound.numeric_resolver(host, port)  # raises gaierror for unknown names
        return answers.pop(0) if len(answers) > 1 else answers[0]


OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class FakeStream(httpcore.NetworkStream):
    """A connection that records what was sent and the TLS server name, and answers `answer`."""

    def __init__(self, answer: bytes) -> None:
        self._answer = [answer]
        self.sent = bytearray()
        self.tls_server_name: str | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._answer.pop(0) if self._answer else b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sent += buffer

    def close(self) -> None:
        pass

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self.tls_server_name = server_hostname
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


class RecordingBackend(httpcore.NetworkBackend):
    """Stands in for the operating system's TCP connections: records (host, port), connects nowhere."""

    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []
        self.streams: list[FakeStream] = []
        self.answers: list[bytes] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connections.append((host, port))
        stream = FakeStream(self.answers.pop(0) if self.answers else OK_ANSWER)
        self.streams.append(stream)
        return stream

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AssertionError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        pass


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Every lookup of the guard (connections and settings checks) goes to a `FakeDns`."""
    fake = FakeDns()
    monkeypatch.setattr(outbound, "system_resolver", fake)
    return fake


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> RecordingBackend:
    """`connector_client()` connects through a `RecordingBackend` instead of real sockets."""
    backend = RecordingBackend()
    monkeypatch.setattr(httpcore, "SyncBackend", lambda: backend)
    return backend


# --- The decision on addresses ----------------------------------------------------------------

REFUSED_ALWAYS = [
    "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
    "0.1.2.3",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    "192.0.2.10",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",  # benchmarking
    "192.0.0.8",  # IETF protocol assignments
    "::",  # unspecified
    "fe80::1",  # link-local
    "fe80::1%1",
    "ff02::1",  # multicast
    "2001:db8::1",  # documentation
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "not an address",
]
REFUSED_UNLESS_ALLOWED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "::1",
    "fd00::1",  # unique local
    "fc00::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
]
ALLOWED = [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6, "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED_ALWAYS + REFUSED_UNLESS_ALLOWED)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert address_refused(address, allow_private=False)


@pytest.mark.parametrize("address", REFUSED_ALWAYS)
def test_link_local_multicast_and_reserved_stay_refused_when_private_addresses_are_allowed(
    address: str,
) -> None:
    assert address_refused(address, allow_private=True)


@pytest.mark.parametrize("address", REFUSED_UNLESS_ALLOWED)
def test_the_setting_allows_loopback_and_private_networks(address: str) -> None:
    assert not address_refused(address, allow_private=True)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not address_refused(address, allow_private=False)


def test_the_setting_is_read_at_call_time(settings: Any) -> None:
    assert address_refused("10.0.0.1")
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    assert not address_refused("10.0.0.1")


# --- connector_client refuses before connecting ------------------------------------------------

REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:22/",
    "https://127.0.0.1:8443/x",
    "http://[::1]:5432/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://0.0.0.0:8000/",
    "http://[::]/",
    "http://10.0.0.1/",
    "https://10.0.0.1:443/",
    "http://192.168.0.1/",
    "http://172.16.5.4:3306/",
    "http://100.64.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]:8080/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f.1/",  # hex and short form
    "http://0x7f000001/",
    "http://017700000001/",  # octal
    "http://127.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://anything.localhost:6379/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://internal.crm.example/",  # a name resolving to 10.1.2.3
    "http://v6.crm.example/",  # a name resolving to fd12::1
    "http://mixed.crm.example/",  # a name resolving to a public and a private address
    "http://mixed-reversed.crm.example/",  # the same, private first
    "http://metadata-alias.crm.example/",  # a name resolving to 169.254.169.254
]


@pytest.fixture
def crm_names(dns: FakeDns) -> FakeDns:
    dns.names.update(
        {
            "internal.crm.example": [["10.1.2.3"]],
            "v6.crm.example": [["fd12::1"]],
            "mixed.crm.example": [[PUBLIC_V4, "192.168.1.20"]],
            "mixed-reversed.crm.example": [["127.0.0.1", PUBLIC_V4]],
            "metadata-alias.crm.example": [["169.254.169.254"]],
            "crm.example": [[PUBLIC_V4]],
            "v6public.crm.example": [[PUBLIC_V6]],
        }
    )
    return dns


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_connector_client_refuses_private_addresses_without_connecting(
    url: str, crm_names: FakeDns, network: RecordingBackend
) -> None:
    with connector_client() as client, pytest.raises(OutboundAddressRefused) as caught:
        client.get(url)
    assert str(caught.value) == PRIVATE_ADDRESS_MESSAGE
    assert isinstance(caught.value, httpx.ConnectError)  # callers catching httpx errors still do
    assert network.connections == []
    # A refused address is not retried like a failed connection.
    assert len(crm_names.lookups) <= 1


@pytest.mark.parametrize(
    ("url", "connected"),
    [
        ("http://crm.example/x", (PUBLIC_V4, 80)),
        ("https://crm.example:8443/x", (PUBLIC_V4, 8443)),  # other ports on public hosts are fine
        ("http://v6public.crm.example/", (PUBLIC_V6, 80)),
        (f"http://{PUBLIC_V4}/", (PUBLIC_V4, 80)),
        (f"http://[{PUBLIC_V6}]/", (PUBLIC_V6, 80)),
    ],
)
def test_connector_client_connects_to_the_checked_address_of_a_public_host(
    url: str, connected: tuple[str, int], crm_names: FakeDns, network: RecordingBackend
) -> None:
    with connector_client() as client:
        response = client.get(url)
    assert response.text == "ok"
    assert network.connections == [connected]


def test_dns_rebinding_cannot_switch_the_address_between_check_and_connect(
    dns: FakeDns, network: RecordingBackend
) -> None:
    # The resolver answers a public address first, then 127.0.0.1 for every later lookup.
    dns.names["rebind.crm.example"] = [[PUBLIC_V4], ["127.0.0.1"]]

    with connector_client() as client:
        response = client.get("https://rebind.crm.example/dav/")

    assert response.status_code == 200
    assert dns.lookups == ["rebind.crm.example"]  # one lookup, checked and used
    assert network.connections == [(PUBLIC_V4, 443)]  # the IP itself, not the name again
    [stream] = network.streams
    # TLS (SNI, certificate) and the Host header keep the name the admin typed.
    assert stream.tls_server_name == "rebind.crm.example"
    assert b"\r\nHost: rebind.crm.example\r\n" in bytes(stream.sent)

    # The next connection looks the name up again, and now it is refused.
    with connector_client() as client, pytest.raises(OutboundAddressRefused):
        client.get("https://rebind.crm.example/dav/")
    assert network.connections == [(PUBLIC_V4, 443)]


def test_a_redirect_to_a_private_address_is_refused_when_redirects_are_followed(
    crm_names: FakeDns, network: RecordingBackend
) -> None:
    redirect = (
        b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
        b"Connection: close\r\nContent-Length: 0\r\n\r\n"
    )
    network.answers = [redirect, redirect]
    with connector_client() as client:
        assert client.get("http://crm.example/").status_code == 302  # not followed by default
        with pytest.raises(OutboundAddressRefused):
            client.get("http://crm.example/", follow_redirects=True)
    assert network.connections == [(PUBLIC_V4, 80), (PUBLIC_V4, 80)]


def test_proxies_from_the_environment_do_not_bypass_the_guard(
    monkeypatch: pytest.MonkeyPatch, crm_names: FakeDns, network: RecordingBackend
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://{PUBLIC_V4}:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    with connector_client() as client:
        with pytest.raises(OutboundAddressRefused):
            client.get("http://internal.crm.example/")
        client.get("http://crm.example/")
    # Straight to the CRM's checked address, never to the proxy.
    assert network.connections == [(PUBLIC_V4, 80)]


def test_a_name_that_does_not_resolve_says_so(dns: FakeDns, network: RecordingBackend) -> None:
    with connector_client() as client, pytest.raises(OutboundNameNotResolved):
        client.get("http://no-such-crm.example/")
    assert network.connections == []


# --- What the tenant admin sees ---------------------------------------------------------------

SAME_MESSAGE_URLS = [
    "http://0177.0.0.1:8080/",  # octal: httpx does not take it as a URL, the C library does
    "http://127.0.0.1:22/",
    "https://10.0.0.1:443/dav/",
    "http://169.254.169.254:80/latest/",
    "http://[::1]:5432/",
    "http://[::ffff:127.0.0.1]:8080/",
    "http://[fd00::1]:9200/",
    "http://0.0.0.0:25/",
    "http://localhost:6379/",
    "http://metadata.google.internal/",
    "http://internal.crm.example:8443/",
    "http://mixed.crm.example/",
    "http://2130706433/",
    "http://0x7f.1:3306/",
]


@pytest.mark.parametrize("url", SAME_MESSAGE_URLS)
def test_saving_settings_refuses_a_private_address_with_one_message(url: str, crm_names: FakeDns) -> None:
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=get_preset("carddav"), values={"url": url})
    assert caught.value.message_dict == {"url": [PRIVATE_ADDRESS_MESSAGE]}


@pytest.mark.parametrize("url", SAME_MESSAGE_URLS)
def test_test_connection_refuses_a_private_address_with_one_message_and_connects_nowhere(
    url: str, crm_names: FakeDns, network: RecordingBackend
) -> None:
    with pytest.raises(ConnectorError) as caught:
        integration_test_connection(
            preset=get_preset("carddav"), settings_values={"url": url, "username": "u", "password": "p"}
        )
    assert caught.value.message == PRIVATE_ADDRESS_MESSAGE
    assert caught.value.permanent
    assert network.connections == []


def test_a_url_for_the_agents_browser_may_point_inside_the_network(crm_names: FakeDns) -> None:
    # Screen-pop-only presets: the agent's browser opens the address, our server never calls it.
    plain, _ = integration_settings_clean(
        preset=get_preset("efecte_esm"), values={"base_url": "https://10.0.0.1/esm"}
    )
    assert plain["base_url"] == "https://10.0.0.1/esm"


def test_saving_settings_accepts_a_public_host_and_a_name_that_does_not_resolve(crm_names: FakeDns) -> None:
    for url in ("https://crm.example/dav/", "https://not-in-dns-yet.example/dav/"):
        plain, _ = integration_settings_clean(preset=get_preset("carddav"), values={"url": url})
        assert plain["url"] == url


def test_the_add_page_shows_the_one_message_on_the_url_field(
    admin_client: Any, crm_names: FakeDns, network: RecordingBackend
) -> None:
    pages = [
        admin_client.post(
            reverse("integration-add", args=["carddav"]),
            {"name": "Contacts", "settings-url": url, "action": "test"},
        ).text
        for url in ("http://127.0.0.1:22/", "https://10.0.0.1:443/", "http://169.254.169.254:80/")
    ]
    for page in pages:
        assert PRIVATE_ADDRESS_MESSAGE in page
        assert "Errno" not in page
        assert "Connection refused" not in page
    assert network.connections == []
    assert not Integration.objects.exists()


def test_integration_add_command_refuses_a_private_address_with_the_message(
    tenant: Any, crm_names: FakeDns, network: RecordingBackend
) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=PRIVATE_ADDRESS_MESSAGE):
        call_command(
            "integration_add",
            "--tenant",
            "Acme",
            "--preset",
            "carddav",
            "--setting",
            "url=http://10.9.8.7:8080/",
        )
    assert network.connections == []


@pytest.mark.parametrize("address", ["127.0.0.1:22", "10.0.0.1:443", "169.254.169.254:80", "[fd00::1]:8080"])
def test_a_sync_records_the_one_message_as_last_error_when_the_name_now_points_inside(
    address: str, tenant: Any, dns: FakeDns, network: RecordingBackend
) -> None:
    # Public when the admin saved it; the CRM's DNS now points at an internal address.
    host, _, port = address.rpartition(":")
    dns.names["crm.example"] = [[PUBLIC_V4], [host.strip("[]")]]
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Contacts",
        settings_values={"url": f"https://crm.example:{port}/dav/"},
        start_sync=False,
    )

    waits: list[float] = []
    result = phone_cache_sync(integration_id=integration.pk, sleep=waits.append)

    integration.refresh_from_db()
    assert result.status == "failed"
    assert integration.last_error == PRIVATE_ADDRESS_MESSAGE
    assert network.connections == []
    assert waits == []  # a refused address is not asked again


# --- Against real local servers (127.0.0.1, port 0) ------------------------------------------

BIG = 5000
CAP = 1000


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # bodies without Content-Length end when the server closes
    stop: threading.Event
    requests: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _head(self, headers: dict[str, str]) -> None:
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.path = self.path.rstrip("/") or "/"
        if self.path == "/ok":
            self._head({"Content-Length": "5"})
            self.wfile.write(b"hello")
        elif self.path == "/big-with-length":
            self._head({"Content-Length": str(BIG)})
            self.wfile.write(b"x" * BIG)
        elif self.path == "/big-without-length":
            self._head({})
            for _ in range(BIG // 100):
                self.wfile.write(b"x" * 100)
        elif self.path == "/gzip-small":
            body = gzip.compress(b"hello " * 100)
            self._head({"Content-Encoding": "gzip", "Content-Length": str(len(body))})
            self.wfile.write(body)
        elif self.path == "/gzip-bomb":
            body = gzip.compress(b"\0" * (CAP * 100))  # ~130 bytes on the wire, 100 kB decoded
            assert len(body) < CAP
            self._head({"Content-Encoding": "gzip", "Content-Length": str(len(body))})
            self.wfile.write(body)
        elif self.path == "/gzip-twice":
            body = gzip.compress(gzip.compress(b"hello"))
            self._head({"Content-Encoding": "gzip, gzip", "Content-Length": str(len(body))})
            self.wfile.write(body)
        elif self.path == "/trickle-body":
            self._head({"Content-Length": "100000"})
            self._trickle()
        elif self.path == "/trickle-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            self._trickle(b"X")
        elif self.path == "/hang-up":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_error(404)

    def do_PROPFIND(self) -> None:  # the CardDAV connection test
        self.do_GET()

    def _trickle(self, byte: bytes = b".") -> None:
        # One byte every 20 ms, for at most ~10 s; the client's total timeout must stop first.
        for _ in range(500):
            if self.stop.wait(0.02):
                return
            try:
                self.wfile.write(byte)
            except OSError:
                return


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """A threaded HTTP server on 127.0.0.1 (port 0): (base URL, paths requested)."""
    requests: list[str] = []
    stop = threading.Event()
    handler = type("Handler", (_Handler,), {"stop": stop, "requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_local_server_is_refused_by_default_and_never_reached(local_server: tuple[str, list[str]]) -> None:
    url, requests = local_server
    with connector_client() as client, pytest.raises(OutboundAddressRefused):
        client.get(f"{url}/ok")
    assert requests == []


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_local_server_is_reached_when_private_addresses_are_allowed(
    local_server: tuple[str, list[str]],
) -> None:
    url, requests = local_server
    with connector_client() as client:
        assert client.get(f"{url}/ok").text == "hello"
        assert client.get(f"{url}/gzip-small").text == "hello " * 100  # gzip still decodes
    assert requests == ["/ok", "/gzip-small"]


@pytest.mark.usefixtures("allow_private_addresses")
@pytest.mark.parametrize("path", ["/big-with-length", "/big-without-length", "/gzip-bomb", "/gzip-twice"])
def test_a_response_over_the_size_cap_is_not_read(
    path: str, settings: Any, local_server: tuple[str, list[str]]
) -> None:
    settings.OUTBOUND_MAX_RESPONSE_BYTES = CAP
    url, _ = local_server
    with connector_client() as client, pytest.raises(OutboundResponseTooLarge) as caught:
        client.get(f"{url}{path}")
    assert caught.value.message == "sent more than 1000 bytes in one response; the answer was not read."
    assert isinstance(caught.value, httpx.TransportError)


@pytest.mark.usefixtures("allow_private_addresses")
def test_the_size_cap_applies_to_streamed_reads_too(
    settings: Any, local_server: tuple[str, list[str]]
) -> None:
    settings.OUTBOUND_MAX_RESPONSE_BYTES = CAP
    url, _ = local_server
    received = 0
    with (  # noqa: PT012 (the cap must stop the loop)
        connector_client() as client,
        client.stream("GET", f"{url}/big-without-length") as response,
        pytest.raises(OutboundResponseTooLarge),
    ):
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received <= CAP


@pytest.mark.usefixtures("allow_private_addresses")
@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_a_trickling_server_is_cut_off_at_the_total_request_time(
    path: str, settings: Any, local_server: tuple[str, list[str]]
) -> None:
    # Every read gets a byte well within the per-read timeout; only the total cap can end it.
    settings.CONNECTOR_HTTP_TIMEOUT = 30.0
    settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT = 0.3
    url, _ = local_server
    with connector_client() as client, pytest.raises(OutboundRequestTooSlow) as caught:
        client.get(f"{url}{path}")
    assert caught.value.message == "did not answer in time: one request took longer than 0.3 s."
    assert isinstance(caught.value, httpx.TimeoutException)


@pytest.mark.usefixtures("allow_private_addresses")
def test_the_carddav_connector_reports_the_caps_in_the_admins_words(
    settings: Any, local_server: tuple[str, list[str]]
) -> None:
    settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT = 0.3
    url, _ = local_server
    with connector_client() as client, pytest.raises(ConnectorError) as caught:
        CardDavConnector(settings={"url": f"{url}/trickle-headers/"}, client=client).test_connection()
    assert caught.value.message == (
        "The CardDAV server did not answer in time: one request took longer than 0.3 s."
    )
    assert not caught.value.permanent


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.usefixtures("allow_private_addresses")
def test_test_connection_does_not_tell_a_closed_port_from_one_that_hangs_up(
    local_server: tuple[str, list[str]],
) -> None:
    url, _ = local_server
    messages = set()
    for target in (f"http://127.0.0.1:{_closed_port()}/dav/", f"{url}/hang-up/"):
        with pytest.raises(ConnectorError) as caught:
            integration_test_connection(preset=get_preset("carddav"), settings_values={"url": target})
        messages.add(caught.value.message)
    assert messages == {
        "The CardDAV server is unreachable: check the address, and that the server accepts connections."
    }


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_tls_failure_says_tls_without_the_libraries_text(local_server: tuple[str, list[str]]) -> None:
    url, _ = local_server  # plain HTTP: the TLS handshake fails
    with pytest.raises(ConnectorError) as caught:
        integration_test_connection(
            preset=get_preset("carddav"), settings_values={"url": url.replace("http:", "https:") + "/dav/"}
        )
    assert caught.value.message == "The CardDAV server is unreachable: the secure (TLS) connection failed."


def test_guarded_transport_takes_its_caps_as_arguments(crm_names: FakeDns) -> None:
    backend = RecordingBackend()
    backend.answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"y" * 20]
    transport = GuardedTransport(max_response_bytes=10, total_timeout=5.0, backend=backend)
    with httpx.Client(transport=transport) as client, pytest.raises(OutboundResponseTooLarge):
        client.get("http://crm.example/")
    assert backend.connections == [(PUBLIC_V4, 80)]


def test_a_url_httpx_cannot_call_gives_a_message_not_a_crash(crm_names: FakeDns) -> None:
    with pytest.raises(ConnectorError) as caught:
        integration_test_connection(
            preset=get_preset("carddav"), settings_values={"url": "http://0999.1.2.3/"}
        )
    # The connector's own URL check or the outbound module's: either names the URL as the problem.
    assert caught.value.message.startswith(
        ("The address is not a URL we can call", 'The address book URL "http://0999.1.2.3/" is not')
    )
    assert caught.value.permanent
