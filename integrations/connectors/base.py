"""The connector base: what every CRM connector implements.

A connector talks to one preset's API with an injected `httpx.Client` (tests pass one with a
`MockTransport` or point it at a local server). It lists every record that has phone numbers,
page by page, as `CrmRecord`s; a record it cannot read is yielded as a `SkippedRecord` so that the
sync counts it and goes on. Failures that end a sync raise `ConnectorError`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from integrations.outbound import OutboundAddressRefused, OutboundError, OutboundResponseTooLarge
from integrations.texts import Text

# How an error names the remote side when the connector does not say (a CRM's product name
# stays as it is; "The CRM" and "The CardDAV server" are translated).
THE_CRM = Text(gettext_noop("The CRM"))

logger = logging.getLogger(__name__)


class ConnectorError(Exception):
    """A CRM call failed.

    `message` is shown to the tenant admin as is (overview "last error", "Test connection"), so it
    says what is wrong in their words: "The CRM refused the credentials (HTTP 401)". It is English;
    when it is an `integrations.texts.Text` (every message the connectors write) it also carries its
    gettext template, so a page shows it in the reader's language and the sync stores it so.
    `permanent` is True when retrying will not help until the admin changes something (bad
    credentials, no permission, address book not found); False for network trouble, 5xx, 429.
    `retry_after` (seconds) is set when the CRM said when to come back (HTTP Retry-After): the
    sync then schedules its retry for that moment instead of `SYNC_RETRY_MINUTES`.
    `timed_out` is True when the CRM did not answer in time (a timeout, or the total-time cap).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.timed_out = timed_out


@dataclass(frozen=True)
class RetryPolicy:
    """How `Connector.send` retries inside one sync.

    `retries`: how many times a request that met a 5xx, a 429, a timeout or a dropped connection
    is sent again; `backoff` (seconds) the first wait, doubled each time (1, 2, 4 s...).
    A Retry-After of at most `max_retry_after` seconds is waited out instead of the back-off, if
    it ends before `deadline` (a `time.monotonic()` value: the end of the sync's time budget,
    None for no limit); a longer one ends the request with a `ConnectorError` carrying
    `retry_after`. `RetryPolicy()` (the default of a connector) never retries or waits, which is
    what an admin's interactive connection test wants.
    """

    retries: int = 0
    backoff: float = 1.0
    max_retry_after: float = 0.0
    deadline: float | None = None

    def remaining(self) -> float | None:
        """Seconds left before `deadline`, None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()


# Status codes worth another try: the server is overloaded or briefly down (RFC 9110 §15.6).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after_seconds(response: httpx.Response, *, now: dt.datetime | None = None) -> float | None:
    """The wait a 429/503 asks for in its Retry-After header (RFC 9110 §10.2.3), in seconds.

    Accepts delay-seconds ("120") and an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"; a date in
    the past gives 0). None when there is no header or it is neither form.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    seconds: float = (when - now).total_seconds()
    return max(0.0, seconds)


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


@dataclass(frozen=True)
class DeletedRecord:
    """A record the CRM reports deleted (incremental listings only): `id` and `type` as the
    `CrmRecord` had them. The sync removes its numbers from the phone cache."""

    id: str
    type: str = "contact"


class Connector(ABC):
    """Base class of a preset's connector.

    `settings` holds the integration's settings and decrypted secrets together, keyed by the
    preset's `SettingField.name`. Subclasses must not keep state between calls other than what
    the constructor sets up; one instance serves one sync or one connection test.
    All HTTP goes through `send`, which retries per the `RetryPolicy`.

    `sleep` (seconds -> None, default `time.sleep`) is how the connector waits between retries,
    so tests can fake it; `retry` is the `RetryPolicy` (default: no retries, no waiting).
    `what` names the CRM in error messages ("The CardDAV server").
    """

    what: str = THE_CRM
    # Whether `iter_changes` works (see `incremental_supported` for settings-dependent support).
    supports_incremental = False
    # Whether `lookup` can find the records of one number without listing everything (live lookup).
    supports_lookup = False
    # Seconds a connector that does not use `client` (LDAP) waits for its server; None for its
    # default. Live lookup sets it to `LIVE_LOOKUP_TIMEOUT_SECONDS`.
    timeout: float | None = None

    def __init__(
        self,
        *,
        settings: Mapping[str, str],
        client: httpx.Client,
        sleep: Callable[[float], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.sleep = sleep or time.sleep
        self.retry = retry or RetryPolicy()

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request with `self.client.request(method, url, **kwargs)`, retrying per `self.retry`.

        Timeouts, dropped or refused connections, 5xx and 429 answers are sent again after a
        doubling back-off (or the Retry-After of a 429/503 when it is short enough, RFC 9110
        §10.2.3). Returns the last response, which may still be a 5xx/429 once the retries are
        used up: the caller turns it into an error (`http_error`). Raises `ConnectorError`
        (temporary) when the network fails on the last try, or right away (with `retry_after`)
        when the CRM asks for a wait longer than the policy allows.
        """
        policy = self.retry
        attempt = 0
        while True:
            self._before_attempt()
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                # A refused address or an oversized answer stays so: asking again cannot help.
                if attempt >= policy.retries or isinstance(
                    exc, OutboundAddressRefused | OutboundResponseTooLarge
                ):
                    raise transport_error(exc, what=self.what) from exc
                wait = policy.backoff * 2**attempt
                logger.info("%s %s: %s; retry in %.0f s", method, url, type(exc).__name__, wait)
            else:
                if not self._should_retry(response):
                    return response
                asked = self._requested_wait(response)
                if asked is not None and policy.retries and not self._can_wait(asked):
                    raise self._response_error(response, retry_after=asked)
                if attempt >= policy.retries:
                    return response
                wait = asked if asked is not None else policy.backoff * 2**attempt
                logger.info("%s %s: HTTP %s; retry in %.0f s", method, url, response.status_code, wait)
                response.close()
            attempt += 1
            self.sleep(wait)

    def _before_attempt(self) -> None:  # noqa: B027 (a hook; most connectors need nothing here)
        """Called before every request `send` makes, retries included (the HTTP base counts them)."""

    def _should_retry(self, response: httpx.Response) -> bool:
        """Whether `response` is worth another try: 5xx and 429 (`RETRY_STATUSES`)."""
        return response.status_code in RETRY_STATUSES

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """Seconds the CRM asks to wait before the next try: Retry-After of a 429/503, else None."""
        return retry_after_seconds(response) if response.status_code in (429, 503) else None

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        """The `ConnectorError` for an unsuccessful `response` (`http_error`)."""
        return http_error(response, what=self.what, retry_after=retry_after)

    def _can_wait(self, seconds: float) -> bool:
        """Whether a Retry-After wait fits the policy and the sync's remaining time budget."""
        remaining = self.retry.remaining()
        return seconds <= self.retry.max_retry_after and (remaining is None or seconds < remaining)

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """What is wrong with these settings beyond what the form checks (kinds, required), by
        setting name ("" for none); `integration_settings_clean` shows them. Default: nothing."""
        return {}

    @classmethod
    def lookup_problem(cls, settings: Mapping[str, str]) -> str:
        """Why an integration with these settings cannot use live lookup ("" when it can).

        Default: "" when the class `supports_lookup`, else a sentence saying it cannot search.
        """
        if cls.supports_lookup:
            return ""
        return Text(gettext_noop("%(what)s cannot be searched by phone number."), what=cls.what)

    @abstractmethod
    def test_connection(self) -> None:
        """Reach the CRM with the settings; raise `ConnectorError` saying what is wrong."""

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The CRM's records having the caller number `e164` ("+31201234567"), asked live.

        For connectors with `supports_lookup` True (a search endpoint, an LDAP filter): the
        records may carry other numbers too; the caller keeps only the entries whose number
        normalizes to `e164`. Raises `ConnectorError` when the CRM cannot be asked; the
        default raises a permanent one (this connector cannot search by number).
        """
        raise ConnectorError(
            Text(gettext_noop("%(what)s cannot be searched by phone number."), what=self.what), permanent=True
        )

    @abstractmethod
    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield every record that has at least one phone number, paging through the CRM.

        Raises `ConnectorError` when the listing cannot be completed (the sync then keeps the
        old phone cache).
        """

    @classmethod
    def incremental_supported(cls, settings: Mapping[str, str]) -> bool:
        """Whether an integration with these settings can sync incrementally (`iter_changes`).

        Default `supports_incremental`; connectors whose CRM needs a setting for it (the REST
        source's modified-since parameter) override this.
        """
        return cls.supports_incremental

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Yield the records created or changed at or after `since` (aware), and a `DeletedRecord`
        per record the CRM reports deleted since then (when its API reports deletions).

        A changed record without phone numbers may be left out: the nightly full sync removes
        its numbers. Raises `ConnectorError` like `iter_records`; the default raises a permanent
        one (the connector has no modified-since listing).
        """
        raise ConnectorError(
            Text(gettext_noop("%(what)s cannot list changed records; only full syncs run."), what=self.what),
            permanent=True,
        )


def http_error(
    response: httpx.Response, *, what: str = THE_CRM, retry_after: float | None = None
) -> ConnectorError:
    """Translate an unsuccessful HTTP response into a `ConnectorError` an admin understands.

    401 -> bad credentials, 403 -> no permission, 404 -> not found (all permanent);
    429 and 5xx -> temporary, with `retry_after` (seconds) from the Retry-After header of a
    429/503 (RFC 9110 §10.2.3) unless given. Other 4xx are permanent.
    """
    status = response.status_code
    if retry_after is None and status in (429, 503):
        retry_after = retry_after_seconds(response)
    if status == 401:
        return ConnectorError(
            Text(gettext_noop("%(what)s refused the credentials (HTTP 401)."), what=what), permanent=True
        )
    if status == 403:
        return ConnectorError(
            Text(gettext_noop("%(what)s denied access: no permission (HTTP 403)."), what=what), permanent=True
        )
    if status == 404:
        return ConnectorError(
            Text(gettext_noop("%(what)s answered 'not found' (HTTP 404): check the URL."), what=what),
            permanent=True,
        )
    suffix: str = ""
    if retry_after is not None:
        suffix = Text(gettext_noop("; it asks to retry after %(seconds)s s"), seconds=f"{retry_after:.0f}")
    if status == 429:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s is rate limiting requests (HTTP 429%(suffix)s)."),
                what=what,
                suffix=suffix,
            ),
            retry_after=retry_after,
        )
    if status >= 500:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s had a server error (HTTP %(status)s%(suffix)s)."),
                what=what,
                status=status,
                suffix=suffix,
            ),
            retry_after=retry_after,
        )
    return ConnectorError(
        Text(gettext_noop("%(what)s rejected the request (HTTP %(status)s)."), what=what, status=status),
        permanent=True,
    )


def transport_error(exc: httpx.HTTPError, *, what: str = THE_CRM) -> ConnectorError:
    """Translate a network-level failure (DNS, refused, timeout, TLS, caps) into a `ConnectorError`.

    A refused address (`OutboundAddressRefused`) gives `PRIVATE_ADDRESS_MESSAGE`, the same text
    for every address, port and reason, and is permanent. Other failures are temporary and say
    only which kind they are ("is unreachable", "did not answer in time", its TLS certificate,
    a size or time cap), never the operating system's error text, so that "Test connection"
    does not tell a closed port from one that resets or hangs up.
    """
    if isinstance(exc, OutboundAddressRefused):
        return ConnectorError(exc.message, permanent=True)
    timed_out = isinstance(exc, httpx.TimeoutException)  # includes the total-time cap
    if isinstance(exc, OutboundError):
        return ConnectorError(
            Text(gettext_noop("%(what)s %(problem)s"), what=what, problem=exc.message), timed_out=timed_out
        )
    if timed_out:
        return ConnectorError(
            Text(gettext_noop("%(what)s did not answer in time."), what=what), timed_out=True
        )
    if _caused_by(exc, ssl.SSLCertVerificationError):
        return ConnectorError(
            Text(
                gettext_noop("%(what)s is unreachable: its TLS certificate could not be verified."), what=what
            )
        )
    if _caused_by(exc, ssl.SSLError):
        return ConnectorError(
            Text(gettext_noop("%(what)s is unreachable: the secure (TLS) connection failed."), what=what)
        )
    # Refused, reset, closed without an answer, no route: one message (no port scanning by text).
    return ConnectorError(
        Text(
            gettext_noop(
                "%(what)s is unreachable: check the address, and that the server accepts connections."
            ),
            what=what,
        )
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
