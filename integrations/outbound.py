"""Outbound HTTP with a private-address guard, a response-size cap and a total-time cap.

Tenants type the hosts our server calls (a CardDAV URL today; OAuth token URLs, CRM base URLs and
webhooks later). Without a guard, "Test connection" and the sync reach whatever those names point
at: the server itself (127.0.0.1, ::1), the office or cloud network (10/8, 192.168/16, fd00::/8),
the cloud metadata service (169.254.169.254) — server-side request forgery (OWASP SSRF).

How it works (every connection, including every redirect hop and every retry):

1. `GuardedBackend.connect_tcp` (an httpcore network backend) resolves the host once with
   `getaddrinfo`, refuses the connection when ANY resolved address is refused (a name answering one
   public and one private address is refused, whatever order the resolver gives), and otherwise
   connects to the checked IP address itself. There is no second DNS lookup, so a name whose DNS
   answer changes between check and connect (DNS rebinding) cannot slip through.
2. TLS runs after that on the original host name (httpcore passes the URL's host as
   `server_hostname`), so SNI and certificate verification, like the `Host` header, are unchanged.
3. `GuardedTransport` (an `httpx.BaseTransport` over a public `httpcore.ConnectionPool` with that
   backend) caps the bytes of one response body (`OUTBOUND_MAX_RESPONSE_BYTES`, counted both as
   received and after gzip/deflate decoding) and the total time of one request — connect, TLS,
   sending, headers and body together (`OUTBOUND_REQUEST_TOTAL_TIMEOUT`), on top of httpx's
   per-read timeout. A server trickling one byte every 20 s is cut off at the total deadline.
4. Proxies from the environment are never used (`trust_env=False` in `connector_client`): an
   HTTP_PROXY would otherwise make the proxy do the connecting, past the guard.

Errors are `httpx` exception subclasses (so code catching `httpx.HTTPError` keeps working) that
also carry an admin-facing `message`: `OutboundAddressRefused` (always the same text, whatever
the address, port or reason, so that messages cannot be used to scan ports), `OutboundNameNotResolved`,
`OutboundResponseTooLarge`, `OutboundRequestTooSlow`.

`OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true` (an on-premises install whose CRM is on the local network,
`make run`'s demo Radicale on 127.0.0.1, tests against local servers) allows loopback, RFC 1918,
CGNAT and IPv6 unique-local addresses and the names `localhost`/`*.localhost`. Link-local (the
cloud metadata service), multicast, unspecified, broadcast, reserved and documentation addresses
and the metadata host names stay refused even then.

Address lists: IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates).
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext_noop

from integrations.texts import Text

PRIVATE_ADDRESS_MESSAGE = Text(gettext_noop("That address is inside a private network and is not allowed."))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class OutboundError:
    """Mixin of our outbound errors: `message` is a sentence for the tenant admin.

    For the errors that name the remote side, `message` continues "<the CRM> …" (e.g.
    "sent more than 50 MB in one response."); `OutboundAddressRefused.message` is a whole sentence.
    """

    message: str = ""


class OutboundAddressRefused(OutboundError, httpx.ConnectError):
    """The host is, or resolves to, an address we do not connect to (see the module docstring).

    Raised before any connection is opened. `message` is always `PRIVATE_ADDRESS_MESSAGE`.
    """

    message = PRIVATE_ADDRESS_MESSAGE

    def __init__(self) -> None:
        super().__init__(PRIVATE_ADDRESS_MESSAGE)


class OutboundNameNotResolved(OutboundError, httpx.ConnectError):
    """The host name has no address (DNS answered "no such name" or could not be asked)."""

    message = Text(gettext_noop("is unreachable: its host name could not be resolved."))

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: host name could not be resolved")


class OutboundResponseTooLarge(OutboundError, httpx.ReadError):
    """One response body went over `OUTBOUND_MAX_RESPONSE_BYTES` (received or decoded)."""

    def __init__(self, limit: int) -> None:
        self.message = Text(
            gettext_noop("sent more than %(size)s in one response; the answer was not read."),
            size=_size_text(limit),
        )
        super().__init__(f"response body over {limit} bytes")


class OutboundRequestTooSlow(OutboundError, httpx.ReadTimeout):
    """One request (connect, TLS, send, headers and body) took longer than the total timeout."""

    def __init__(self, limit: float) -> None:
        self.message = Text(
            gettext_noop("did not answer in time: one request took longer than %(seconds)s s."),
            seconds=f"{limit:g}",
        )
        super().__init__(f"request took longer than {limit:g} s in total")


def _size_text(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    return Text(gettext_noop("%(size)s bytes"), size=size)


# --- The decision on addresses ----------------------------------------------------------------

# Refused whatever OUTBOUND_ALLOW_PRIVATE_ADDRESSES says (IANA special-purpose registries).
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", includes the unspecified 0.0.0.0 (RFC 791, RFC 1122)
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254 (RFC 3927)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved, includes the broadcast 255.255.255.255 (RFC 1112, RFC 919)
        "::/96",  # unspecified ::, and IPv4-compatible addresses, deprecated (RFC 4291 §2.5.5.1)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32 (RFC 2928, RFC 4380)
        "2001:db8::/32",  # documentation (RFC 3849)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fe80::/10",  # link-local (RFC 4291)
        "fec0::/10",  # site-local, deprecated (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    )
)
# Refused unless OUTBOUND_ALLOW_PRIVATE_ADDRESSES is on.
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "172.16.0.0/12",  # RFC 1918
        "192.168.0.0/16",  # RFC 1918
        "::1/128",  # loopback (RFC 4291)
        "fc00::/7",  # unique local addresses (RFC 4193)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)

# Names refused before any lookup. "localhost" and "*.localhost" are loopback by definition
# (RFC 6761 §6.3) whatever a resolver says; the metadata names reach the cloud metadata service.
_LOOPBACK_NAMES = ("localhost",)
_METADATA_NAMES = ("metadata.google.internal", "metadata.goog", "metadata")


def allow_private_addresses() -> bool:
    """Whether `OUTBOUND_ALLOW_PRIVATE_ADDRESSES` is on (read at call time)."""
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False))


def address_refused(address: str | IPAddress, *, allow_private: bool | None = None) -> bool:
    """Whether we refuse to connect to this IP address (text like "10.0.0.1", "::1", or an object).

    IPv4-mapped (`::ffff:127.0.0.1`), NAT64 (`64:ff9b::a00:1`, RFC 6052) and 6to4
    (`2002:a00:1::`, RFC 3056) IPv6 addresses are judged by the IPv4 address they carry.
    Anything that is not "globally reachable" by Python's `ipaddress` is refused too, so
    ranges we did not list fail closed. Text that is not an IP address is refused.
    `allow_private` defaults to the setting.
    """
    if allow_private is None:
        allow_private = allow_private_addresses()
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refused(embedded, allow_private=allow_private)
    if any(ip in net for net in _PRIVATE):  # first: ::1 is inside ::/96 below
        return not allow_private
    if any(ip in net for net in _ALWAYS_REFUSED):
        return True
    return not ip.is_global


def host_refused_by_name(host: str, *, allow_private: bool | None = None) -> bool:
    """Whether a host name is refused without looking it up (localhost names, metadata names)."""
    if allow_private is None:
        allow_private = allow_private_addresses()
    name = host.strip().rstrip(".").lower()
    if name in _METADATA_NAMES:
        return True
    loopback = any(name == n or name.endswith("." + n) for n in _LOOPBACK_NAMES)
    return loopback and not allow_private


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system (`socket.getaddrinfo`), TCP only; IP addresses as text.

    Raises `socket.gaierror` when the name does not resolve. Accepts what the C library accepts,
    e.g. "2130706433" and "0x7f.1" (both 127.0.0.1).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def numeric_resolver(host: str, port: int) -> list[str]:
    """Like `system_resolver` for IP address text only ("127.0.0.1", "0x7f.1", "2130706433", "::1").

    Never asks DNS (`AI_NUMERICHOST`); raises `socket.gaierror` for a host name.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(host: str, port: int, *, resolver: Resolver | None = None) -> list[str]:
    """Resolve `host` once and return its addresses, all of them allowed, in resolver order.

    Raises `OutboundAddressRefused` when the name is refused by name or ANY address is refused;
    `OutboundNameNotResolved` when there is no address. `resolver(host, port)` returns IP
    addresses as text (default `system_resolver`).
    """
    host = host.strip("[]")
    if host_refused_by_name(host):
        raise OutboundAddressRefused()
    try:
        addresses = list((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise OutboundNameNotResolved(host) from exc
    if not addresses:
        raise OutboundNameNotResolved(host)
    if any(address_refused(address) for address in addresses):
        raise OutboundAddressRefused()
    return addresses


# --- The total deadline of one request --------------------------------------------------------

# Monotonic time by which the request in progress must be done, and its limit in seconds (for
# the message); None outside a request. Set by `GuardedTransport` while it runs httpcore code.
_deadline: ContextVar[tuple[float, float] | None] = ContextVar("outbound_deadline", default=None)


@contextmanager
def _within(deadline: tuple[float, float] | None) -> Iterator[None]:
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


# A cap over every request made inside `overall_deadline` (the admin's connection test, which may
# make several requests): monotonic time and its limit in seconds; None when there is none.
_overall: ContextVar[tuple[float, float] | None] = ContextVar("outbound_overall_deadline", default=None)


@contextmanager
def overall_deadline(seconds: float) -> Iterator[float]:
    """Cap every request made inside the block, in this thread, to end `seconds` from now at the latest.

    Each request keeps its own caps (`OUTBOUND_REQUEST_TOTAL_TIMEOUT`, httpx's per-read timeout);
    the earlier of its own deadline and this one applies, and a request started after this one
    passed raises `OutboundRequestTooSlow` at once. Yields the deadline as a `time.monotonic()`
    value, for callers that must tell "the cap was reached" from other failures. Nested blocks
    keep the earlier deadline.
    """
    deadline = time.monotonic() + seconds
    current = _overall.get()
    if current is not None and current[0] < deadline:
        deadline, seconds = current
    token = _overall.set((deadline, seconds))
    try:
        yield deadline
    finally:
        _overall.reset(token)


def _bounded(timeout: float | None) -> tuple[float | None, bool]:
    """The timeout to use for one network operation, and whether the total deadline set it."""
    current = _deadline.get()
    if current is None:
        return timeout, False
    remaining = current[0] - time.monotonic()
    if remaining <= 0:
        raise OutboundRequestTooSlow(current[1])
    if timeout is None or remaining < timeout:
        return remaining, True
    return timeout, False


def _too_slow() -> OutboundRequestTooSlow:
    current = _deadline.get()
    return OutboundRequestTooSlow(current[1] if current else 0.0)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes also end at the request's total deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded, by_deadline = _bounded(timeout)
        try:
            return self._stream.read(max_bytes, timeout=bounded)
        except httpcore.ReadTimeout:
            if by_deadline:
                raise _too_slow() from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded, by_deadline = _bounded(timeout)
        try:
            self._stream.write(buffer, timeout=bounded)
        except httpcore.WriteTimeout:
            if by_deadline:
                raise _too_slow() from None
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded, by_deadline = _bounded(timeout)
        try:
            stream = self._stream.start_tls(ssl_context, server_hostname=server_hostname, timeout=bounded)
        except httpcore.ConnectTimeout:
            if by_deadline:
                raise _too_slow() from None
            raise
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# --- The network backend and the transport ----------------------------------------------------


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that checks the resolved address before connecting to it.

    `resolver(host, port)` -> IP addresses as text (default `system_resolver`); `backend` opens
    the TCP connection to the chosen IP address (default `httpcore.SyncBackend()`). Tries the
    allowed addresses in resolver order, like `socket.create_connection`. Unix sockets are refused.
    Raises `OutboundAddressRefused`, `OutboundNameNotResolved`, `OutboundRequestTooSlow`, or the
    backend's `httpcore.ConnectError` / `httpcore.ConnectTimeout`.
    """

    def __init__(
        self, *, resolver: Resolver | None = None, backend: httpcore.NetworkBackend | None = None
    ) -> None:
        self._resolver = resolver
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, resolver=self._resolver)
        error: Exception | None = None
        for address in addresses:
            bounded, by_deadline = _bounded(timeout)
            try:
                stream = self._backend.connect_tcp(
                    address, port, timeout=bounded, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectTimeout as exc:
                if by_deadline:
                    raise _too_slow() from None
                error = exc
            except httpcore.ConnectError as exc:
                error = exc
            else:
                return _DeadlineStream(stream)
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundAddressRefused()

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# httpcore's exceptions and the httpx exceptions they become (most specific first), as httpx's
# own HTTPTransport maps them.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_exceptions() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise
    except Exception as exc:
        for source, target in _EXCEPTIONS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _CappedStream(httpx.SyncByteStream):
    """The body of one response: stops at the size cap and at the request's total deadline."""

    def __init__(
        self,
        stream: Iterable[bytes],
        *,
        limit: int,
        deadline: tuple[float, float],
        content_encoding: str,
    ) -> None:
        self._stream = stream
        self._limit = limit
        self._deadline = deadline
        encoding = content_encoding.strip().lower()
        # What httpx will decode the body to: gzip/deflate (RFC 9110 §8.4.1) can grow ~1000-fold.
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._decoder = _DeflateCounter()

    def __iter__(self) -> Iterator[bytes]:
        received = decoded = 0
        iterator = iter(self._stream)
        while True:
            with _within(self._deadline), _httpx_exceptions():
                if time.monotonic() >= self._deadline[0]:
                    raise OutboundRequestTooSlow(self._deadline[1])
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
            received += len(chunk)
            if received > self._limit:
                raise OutboundResponseTooLarge(self._limit)
            if self._decoder is not None:
                decoded += _decoded_size(self._decoder, chunk, self._limit - decoded + 1)
                if decoded > self._limit:
                    raise OutboundResponseTooLarge(self._limit)
            yield chunk

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _within(self._deadline), _httpx_exceptions():
                close()


class _DeflateCounter:
    """A zlib stream, or a raw deflate stream when the server sends one (as httpx accepts)."""

    def __init__(self) -> None:
        self._decoder: Any = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._first:
            self._first = False
            try:
                return bytes(self._decoder.decompress(data, max_length))
            except zlib.error:
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self._decoder.decompress(data, max_length))

    @property
    def unconsumed_tail(self) -> bytes:
        return bytes(self._decoder.unconsumed_tail)


def _decoded_size(decoder: Any, chunk: bytes, budget: int) -> int:
    """How many bytes `chunk` decodes to, counting at most `budget` + one step (memory bounded)."""
    size = 0
    data = chunk
    step = 1024 * 1024
    try:
        while data and size <= budget:
            size += len(decoder.decompress(data, step))
            data = decoder.unconsumed_tail
    except zlib.error:
        return size  # httpx reports the broken encoding itself (DecodingError)
    return size


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport whose every connection goes through `GuardedBackend`.

    `max_response_bytes` caps one response body (received and decoded), `total_timeout` (seconds)
    the whole request; both default to the settings `OUTBOUND_MAX_RESPONSE_BYTES` and
    `OUTBOUND_REQUEST_TOTAL_TIMEOUT` (less inside `overall_deadline`). `retries` retries failed
    connection attempts (not refused addresses). `backend` replaces the network backend (tests
    pass a recording one).
    """

    def __init__(
        self,
        *,
        retries: int = 2,
        max_response_bytes: int | None = None,
        total_timeout: float | None = None,
        resolver: Resolver | None = None,
        backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.max_response_bytes = (
            settings.OUTBOUND_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        )
        self.total_timeout = (
            settings.OUTBOUND_REQUEST_TOTAL_TIMEOUT if total_timeout is None else total_timeout
        )
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=retries,
            network_backend=GuardedBackend(resolver=resolver, backend=backend),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; raises httpx errors, including the `Outbound…` ones above."""
        assert isinstance(request.stream, httpx.SyncByteStream)
        deadline = (time.monotonic() + self.total_timeout, self.total_timeout)
        overall = _overall.get()
        if overall is not None and overall[0] < deadline[0]:
            deadline = overall
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _within(deadline), _httpx_exceptions():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        headers = httpx.Headers(response.headers)
        content_length = headers.get("Content-Length", "")
        if content_length.isdigit() and int(content_length) > self.max_response_bytes:
            with _within(deadline), _httpx_exceptions():
                response.close()
            raise OutboundResponseTooLarge(self.max_response_bytes)
        encoding = headers.get("Content-Encoding", "")
        if "," in encoding:
            # Stacked codings multiply the growth; no CRM needs them, and we cannot count them.
            with _within(deadline), _httpx_exceptions():
                response.close()
            raise OutboundResponseTooLarge(self.max_response_bytes)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CappedStream(
                response.stream, limit=self.max_response_bytes, deadline=deadline, content_encoding=encoding
            ),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
