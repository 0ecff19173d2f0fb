"""The connector base: what every CRM connector implements.

A connector talks to one preset's API with an injected `httpx.Client` (tests pass one with a
`MockTransport` or point it at a local server). It lists every record that has phone numbers,
page by page, as `CrmRecord`s; a record it cannot read is yielded as a `SkippedRecord` so that the
sync counts it and goes on. Failures that end a sync raise `ConnectorError`.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import httpx

from integrations.outbound import OutboundAddressRefused, OutboundError


class ConnectorError(Exception):
    """A CRM call failed.

    `message` is shown to the tenant admin as is (overview "last error", "Test connection"), so it
    says what is wrong in their words: "The CRM refused the credentials (HTTP 401)".
    `permanent` is True when retrying will not help until the admin changes something (bad
    credentials, no permission, address book not found); False for network trouble, 5xx, 429.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class RecordPhone:
    """A phone number as written in the CRM, with its type label ("cell", "work", "" if none)."""

    number: str
    type: str = ""


@dataclass(frozen=True)
class CrmRecord:
    """One CRM record with its phone numbers.

    `id` is the CRM's id; `type` one of the preset's record types; `url` the record's web address
    (the screen pop), "" if none; `fields` maps field names of the preset (see
    `Preset.all_fields`, e.g. "DisplayName", "Email") to text values.
    """

    id: str
    type: str
    display_name: str
    phones: tuple[RecordPhone, ...]
    url: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedRecord:
    """A record the connector could not read; `reason` says why (for the sync's counters/logs)."""

    reason: str
    id: str = ""


class Connector(ABC):
    """Base class of a preset's connector.

    `settings` holds the integration's settings and decrypted secrets together, keyed by the
    preset's `SettingField.name`. Subclasses must not keep state between calls other than what
    the constructor sets up; one instance serves one sync or one connection test.
    """

    def __init__(self, *, settings: Mapping[str, str], client: httpx.Client) -> None:
        self.settings = settings
        self.client = client

    @abstractmethod
    def test_connection(self) -> None:
        """Reach the CRM with the settings; raise `ConnectorError` saying what is wrong."""

    @abstractmethod
    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield every record that has at least one phone number, paging through the CRM.

        Raises `ConnectorError` when the listing cannot be completed (the sync then keeps the
        old phone cache).
        """


def http_error(response: httpx.Response, *, what: str = "The CRM") -> ConnectorError:
    """Translate an unsuccessful HTTP response into a `ConnectorError` an admin understands.

    401 -> bad credentials, 403 -> no permission, 404 -> not found (all permanent);
    429 and 5xx -> temporary. Other 4xx are permanent.
    """
    status = response.status_code
    if status == 401:
        return ConnectorError(f"{what} refused the credentials (HTTP 401).", permanent=True)
    if status == 403:
        return ConnectorError(f"{what} denied access: no permission (HTTP 403).", permanent=True)
    if status == 404:
        return ConnectorError(f"{what} answered 'not found' (HTTP 404): check the URL.", permanent=True)
    if status == 429:
        retry = response.headers.get("Retry-After")
        suffix = f"; it asks to retry after {retry} s" if retry else ""
        return ConnectorError(f"{what} is rate limiting requests (HTTP 429{suffix}).")
    if status >= 500:
        return ConnectorError(f"{what} had a server error (HTTP {status}).")
    return ConnectorError(f"{what} rejected the request (HTTP {status}).", permanent=True)


def transport_error(exc: httpx.HTTPError, *, what: str = "The CRM") -> ConnectorError:
    """Translate a network-level failure (DNS, refused, timeout, TLS, caps) into a `ConnectorError`.

    A refused address (`OutboundAddressRefused`) gives `PRIVATE_ADDRESS_MESSAGE`, the same text
    for every address, port and reason, and is permanent. Other failures are temporary and say
    only which kind they are ("is unreachable", "did not answer in time", its TLS certificate,
    a size or time cap), never the operating system's error text, so that "Test connection"
    does not tell a closed port from one that resets or hangs up.
    """
    if isinstance(exc, OutboundAddressRefused):
        return ConnectorError(exc.message, permanent=True)
    if isinstance(exc, OutboundError):
        return ConnectorError(f"{what} {exc.message}")
    if isinstance(exc, httpx.TimeoutException):
        return ConnectorError(f"{what} did not answer in time.")
    if _caused_by(exc, ssl.SSLCertVerificationError):
        return ConnectorError(f"{what} is unreachable: its TLS certificate could not be verified.")
    if _caused_by(exc, ssl.SSLError):
        return ConnectorError(f"{what} is unreachable: the secure (TLS) connection failed.")
    # Refused, reset, closed without an answer, no route: one message (no port scanning by text).
    return ConnectorError(
        f"{what} is unreachable: check the address, and that the server accepts connections."
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # the chain httpx -> httpcore -> ssl is three long
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
