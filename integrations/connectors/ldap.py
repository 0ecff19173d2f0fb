"""LDAP / Active Directory connector: lists the people of a directory with their phone numbers.

One simple bind (RFC 4513 §5.2) with the configured DN and password, over `ldaps://` or with
StartTLS (RFC 4511 §4.14) when asked, then one subtree search (RFC 4511 §4.5) under the base DN
with the admin's filter, paged with the Simple Paged Results control (RFC 2696, OID
1.2.840.113556.1.4.319): each page asks `page_size` entries and hands back the server's cookie
until the server answers an empty cookie. Active Directory caps an unpaged search at 1,000
entries (MaxPageSize) and OpenLDAP at its `sizelimit`; paging is what lets a full listing through.

Attributes read (RFC 4519, RFC 4524, inetOrgPerson RFC 2798; AD extras): `telephoneNumber`,
`mobile`, `homePhone`, `ipPhone`, `otherTelephone`, `otherMobile`, `otherHomePhone`;
`displayName`, `cn`, `givenName`, `sn`, `mail`, `company`, `o`, `title`, `department`, `ou`;
`entryUUID` (RFC 4530) or AD's `objectGUID` as the record id; `modifyTimestamp` (RFC 4512
§3.4.4) or AD's `whenChanged` for incremental listings (`LdapConnector.iter_changes`).

The outbound guard: ldap3 opens its own sockets, so the host is resolved once with
`integrations.outbound.resolve_checked` (the private-address rules of every connector, the same
`PRIVATE_ADDRESS_MESSAGE`) and ldap3 connects to the checked IP address itself: no second DNS
lookup. TLS still sends the host name as SNI (ldap3 `Tls(sni=...)`) and checks the certificate
against the host name (`Tls(valid_names=[host])`; ldap3 also accepts a certificate for the IP
address we connected to). Referrals are never followed (`auto_referrals=False`): a referral names
another host, which would be reached without the guard.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import math
import ssl
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.utils.translation import gettext_noop
from ldap3 import NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPException,
    LDAPInvalidFilterError,
    LDAPResponseTimeoutError,
    LDAPSocketOpenError,
    LDAPSocketReceiveError,
    LDAPSSLConfigurationError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars

from integrations.connectors.base import Connector, ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.outbound import (
    PRIVATE_ADDRESS_MESSAGE,
    OutboundAddressRefused,
    OutboundNameNotResolved,
    resolve_checked,
)
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = Text(gettext_noop("The LDAP server"))

# RFC 2696 Simple Paged Results control.
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"

DEFAULT_FILTER = (
    "(&(objectClass=person)(|(telephoneNumber=*)(mobile=*)(homePhone=*)(ipPhone=*)(otherTelephone=*)))"
)
DEFAULT_PAGE_SIZE = 500
# Live lookup searches for numbers ending in this many of the caller's last digits.
LOOKUP_DIGITS = 8
MAX_PAGE_SIZE = 5000

# Phone attributes in the order a record lists them, with the type label each number gets.
PHONE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("telephoneNumber", "work"),  # RFC 4519 §2.35
    ("mobile", "cell"),  # RFC 4524 §2.18
    ("homePhone", "home"),  # RFC 4524 §2.13
    ("ipPhone", "ip"),  # Active Directory
    ("otherTelephone", "work"),  # Active Directory: further office numbers
    ("otherMobile", "cell"),  # Active Directory
    ("otherHomePhone", "home"),  # Active Directory
)
TEXT_ATTRIBUTES = (
    "displayName", "cn", "givenName", "sn", "mail", "company", "o", "title", "department", "ou",
    "entryUUID",
)  # fmt: skip
CHANGE_ATTRIBUTES = {"openldap": "modifyTimestamp", "ad": "whenChanged"}
REQUESTED_ATTRIBUTES = [
    *(name for name, _ in PHONE_ATTRIBUTES),
    *TEXT_ATTRIBUTES,
    "objectGUID",
    *CHANGE_ATTRIBUTES.values(),
]

# LDAP result codes (RFC 4511 §4.1.9, Appendix A) that the admin must fix; others are retried.
_PERMANENT_RESULTS: dict[int, Text] = {
    2: Text(gettext_noop("rejected the request as a protocol error")),
    7: Text(gettext_noop("does not support the request (auth method not supported)")),
    8: Text(gettext_noop("requires a stronger authentication (use ldaps:// or StartTLS)")),
    10: Text(gettext_noop("answered with a referral to another server: use that server's URL and base DN")),
    12: Text(gettext_noop("does not support paged results (RFC 2696) on this search")),
    13: Text(gettext_noop("requires a secure connection (use ldaps:// or StartTLS)")),
    18: Text(gettext_noop("could not use the filter (inappropriate matching)")),
    34: Text(gettext_noop("says the DN is not a valid DN")),
    48: Text(gettext_noop("does not allow this kind of bind (inappropriate authentication)")),
    50: Text(gettext_noop("denied access: the bind DN has no permission (insufficient access rights)")),
    53: Text(gettext_noop("is unwilling to perform the request (an empty password, or TLS required?)")),
    87: Text(gettext_noop("says the filter is not a valid LDAP filter")),
}


def generalized_time(moment: dt.datetime) -> str:
    """`moment` as LDAP GeneralizedTime in UTC, "YYYYMMDDHHMMSSZ" (RFC 4517 §3.3.13).

    A naive datetime is taken as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def _values(entry: Mapping[str, Any], name: str) -> list[str]:
    """The values of one attribute of a raw ldap3 entry as text, attribute names case-insensitive.

    Raises `UnicodeDecodeError` for a value that is not UTF-8 (RFC 4517 Directory String).
    """
    raw = entry.get("raw_attributes") or {}
    wanted = name.lower()
    for key, values in raw.items():
        if key.lower() == wanted or key.lower().startswith(wanted + ";"):
            result = []
            for value in values if isinstance(values, list | tuple) else [values]:
                text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
                if text.strip():
                    result.append(text.strip())
            return result
    return []


def _first(entry: Mapping[str, Any], name: str) -> str:
    values = _values(entry, name)
    return values[0] if values else ""


def _object_guid(entry: Mapping[str, Any]) -> str:
    """AD's objectGUID (16 bytes, little-endian GUID layout) as "{xxxxxxxx-...}", "" if absent."""
    raw = entry.get("raw_attributes") or {}
    for key, values in raw.items():
        if key.lower() == "objectguid" and values:
            value = values[0]
            if isinstance(value, bytes) and len(value) == 16:
                return "{" + str(uuid.UUID(bytes_le=value)) + "}"
    return ""


def entry_record(entry: Mapping[str, Any]) -> CrmRecord | SkippedRecord | None:
    """Turn one ldap3 search result entry (`conn.response` item) into a record.

    Shape: `id` = entryUUID (RFC 4530), else AD's objectGUID as "{guid}", else the DN;
    `type` "contact"; `display_name` = displayName, else cn, else "givenName sn", else mail,
    else the DN; `phones` = the values of `PHONE_ATTRIBUTES` in that order (multi-valued ones
    give one number each) typed "work", "cell", "home" or "ip"; `url` ""; `fields` DisplayName,
    Identifier, PopUpUri (""), Email (mail), Company (company, else o), Title (title),
    Department (department, else ou), DN. Returns None when the entry has no number, and a
    `SkippedRecord` when a value is not UTF-8 text.
    """
    dn = str(entry.get("dn") or "")
    try:
        phones: list[RecordPhone] = []
        for attribute, kind in PHONE_ATTRIBUTES:
            for number in _values(entry, attribute):
                if all(p.number != number for p in phones):
                    phones.append(RecordPhone(number=number, type=kind))
        if not phones:
            return None
        given_family = " ".join(part for part in (_first(entry, "givenName"), _first(entry, "sn")) if part)
        display_name = (
            _first(entry, "displayName") or _first(entry, "cn") or given_family or _first(entry, "mail") or dn
        )
        record_id = _first(entry, "entryUUID") or _object_guid(entry) or dn
        fields = {
            "DisplayName": display_name,
            "Identifier": record_id,
            "PopUpUri": "",
            "Email": _first(entry, "mail"),
            "Company": _first(entry, "company") or _first(entry, "o"),
            "Title": _first(entry, "title"),
            "Department": _first(entry, "department") or _first(entry, "ou"),
            "DN": dn,
        }
    except (UnicodeDecodeError, AttributeError, TypeError) as exc:
        return SkippedRecord(reason=f"the entry cannot be read ({type(exc).__name__}: {exc})", id=dn)
    if not record_id:
        return SkippedRecord(reason="the entry has no DN", id="")
    return CrmRecord(
        id=record_id, type="contact", display_name=display_name, phones=tuple(phones), fields=fields
    )


class LdapConnector(Connector):
    """Reads the people of an LDAP directory (OpenLDAP, Active Directory, ...) with ldap3.

    Settings: `server_url` ("ldap://host:389" or "ldaps://host:636"), `start_tls` ("yes"/"no"),
    `verify_tls` ("yes"/"no"), `ca_certificate` (PEM text, optional; replaces the system CAs),
    `bind_dn` and `bind_password` (simple bind; anonymous when both are empty), `base_dn`,
    `search_filter` (default `DEFAULT_FILTER`), `page_size` (default 500), `directory_type`
    ("openldap" or "ad": which attribute says when an entry changed).

    Timeouts: `CONNECTOR_HTTP_TIMEOUT` seconds to connect and to wait for each answer.
    The HTTP `client` the base class takes is not used. Raises `ConnectorError` (see
    `test_connection`).
    """

    what = WHAT
    supports_incremental = True  # `iter_changes`: modifyTimestamp / whenChanged, no deletions
    supports_lookup = True

    # --- settings ---------------------------------------------------------------------------

    def _setting(self, name: str, default: str = "") -> str:
        return (self.settings.get(name) or default).strip()

    def _flag(self, name: str, default: str) -> bool:
        return self._setting(name, default).lower() in ("yes", "true", "1", "on")

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """The server URL's problems when the settings are saved: not an ldap(s):// URL, or a host
        that is (or resolves to) an address inside a private network (`PRIVATE_ADDRESS_MESSAGE`,
        as for the URLs of HTTP connectors). A name that does not resolve is accepted here; the
        connection test and the sync say so."""
        probe = cls.__new__(cls)
        probe.settings = settings
        try:
            host, port, _ = probe._address()
            resolve_checked(host, port)
        except ConnectorError as exc:
            return {"server_url": exc.message}
        except OutboundAddressRefused:
            return {"server_url": PRIVATE_ADDRESS_MESSAGE}
        except OutboundNameNotResolved:
            pass
        return {}

    def _address(self) -> tuple[str, int, bool]:
        """(host, port, ldaps) of the server URL; raises a permanent `ConnectorError` when unreadable."""
        url = self._setting("server_url")
        problem = Text(
            gettext_noop(
                'The LDAP server URL "%(url)s" is not an ldap://host[:port] or ldaps://host[:port] URL.'
            ),
            url=url,
        )
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ConnectorError(problem, permanent=True) from None
        scheme = parts.scheme.lower()
        if scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path.strip("/") or parts.query:
            raise ConnectorError(problem, permanent=True)
        if parts.username or parts.password:
            raise ConnectorError(
                Text(
                    gettext_noop("%(problem)s Put the bind DN and password in their own fields."),
                    problem=problem,
                ),
                permanent=True,
            )
        ldaps = scheme == "ldaps"
        return parts.hostname, port or (636 if ldaps else 389), ldaps

    @property
    def base_dn(self) -> str:
        """The search base from the settings; a permanent `ConnectorError` when empty."""
        base = self._setting("base_dn")
        if not base:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "The base DN is empty: enter where the search starts, e.g. dc=example,dc=org."
                    )
                ),
                permanent=True,
            )
        return base

    @property
    def search_filter(self) -> str:
        """The filter from the settings (RFC 4515), `DEFAULT_FILTER` when empty; outer parentheses added."""
        text = self._setting("search_filter") or DEFAULT_FILTER
        return text if text.startswith("(") else f"({text})"

    @property
    def page_size(self) -> int:
        """Entries per page (1..`MAX_PAGE_SIZE`); a permanent `ConnectorError` when not a number."""
        text = self._setting("page_size") or str(DEFAULT_PAGE_SIZE)
        if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        'The page size "%(text)s" is not a whole number from 1 to %(max_page_size)s.'
                    ),
                    text=text,
                    max_page_size=MAX_PAGE_SIZE,
                ),
                permanent=True,
            )
        return int(text)

    @property
    def change_attribute(self) -> str:
        """`modifyTimestamp` (OpenLDAP and most directories) or `whenChanged` (Active Directory)."""
        return CHANGE_ATTRIBUTES.get(self._setting("directory_type", "openldap").lower(), "modifyTimestamp")

    def _tls(self, host: str) -> Tls:
        verify = self._flag("verify_tls", "yes")
        pem = self._setting("ca_certificate")
        sni = None if _is_ip(host) else host
        if pem:
            try:
                ssl.create_default_context(cadata=pem)
            except (ssl.SSLError, ValueError) as exc:
                raise ConnectorError(
                    Text(
                        gettext_noop(
                            "The CA certificate cannot be read: paste the PEM text from -----BEGIN "
                            "CERTIFICATE----- to -----END CERTIFICATE-----."
                        )
                    ),
                    permanent=True,
                ) from exc
        try:
            return Tls(
                validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
                ca_certs_data=pem or None,
                valid_names=[host],
                sni=sni,
            )
        except LDAPSSLConfigurationError as exc:
            raise ConnectorError(
                Text(gettext_noop("The TLS settings cannot be used: %(exc)s."), exc=exc), permanent=True
            ) from exc

    # --- the connection ---------------------------------------------------------------------

    def _connect(self) -> Connection:
        """Open, secure and bind a connection; raise `ConnectorError` saying what went wrong."""
        host, port, ldaps = self._address()
        start_tls = self._flag("start_tls", "no") and not ldaps
        try:
            addresses = resolve_checked(host, port)
        except OutboundAddressRefused as exc:
            raise ConnectorError(exc.message, permanent=True) from exc
        except OutboundNameNotResolved as exc:
            raise ConnectorError(
                Text(gettext_noop("%(what)s %(message)s"), what=WHAT, message=exc.message)
            ) from exc
        # ldap3 packs the receive timeout into SO_RCVTIMEO as whole seconds.
        seconds = self.timeout if self.timeout is not None else django_settings.CONNECTOR_HTTP_TIMEOUT
        timeout = max(1, math.ceil(float(seconds)))
        tls = self._tls(host) if (ldaps or start_tls) else None
        bind_dn = self._setting("bind_dn")
        password = self.settings.get("bind_password") or ""
        if bind_dn and not password:
            # A simple bind with a DN and no password is an "unauthenticated bind" (RFC 4513
            # §5.1.2) that many servers answer as anonymous: never send one by mistake.
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "The bind password is empty: enter the password of the bind DN, or "
                        "leave both empty to bind anonymously."
                    )
                ),
                permanent=True,
            )
        last: ConnectorError | None = None
        for address in addresses:
            server = Server(
                address.split("%", 1)[0],
                port=port,
                use_ssl=ldaps,
                tls=tls,
                get_info=NONE,
                connect_timeout=timeout,
                allowed_referral_hosts=[],
            )
            connection = Connection(
                server,
                user=bind_dn or None,
                password=password or None,
                authentication=SIMPLE if bind_dn else None,
                receive_timeout=timeout,
                auto_referrals=False,
                read_only=True,
                raise_exceptions=False,
                return_empty_attributes=False,
            )
            try:
                connection.open()
            except (LDAPException, OSError) as exc:
                last = _network_error(exc)
                continue
            try:
                if start_tls and not connection.start_tls():
                    raise ConnectorError(
                        Text(
                            gettext_noop(
                                "%(what)s refused StartTLS (%(value)s): use ldaps:// or turn StartTLS off."
                            ),
                            what=WHAT,
                            value=connection.result.get("description", "no reason"),
                        ),
                        permanent=True,
                    )
                if bind_dn and not connection.bind():
                    raise _result_error(connection.result, what_failed=Text(gettext_noop("bind")))
            except (LDAPException, OSError) as exc:
                _unbind(connection)
                raise _network_error(exc) from exc
            except ConnectorError:
                _unbind(connection)
                raise
            return connection
        assert last is not None
        raise last

    def test_connection(self) -> None:
        """Bind and read one entry under the base DN.

        Raises `ConnectorError`: permanent for a bad URL, a private address, refused credentials
        (LDAP result 49), a base DN that does not exist (32), an invalid filter, a refused
        StartTLS; temporary when the server is unreachable, does not answer in time, or is busy.
        """
        connection = self._connect()
        try:
            self._search(connection, self.search_filter, paged_size=1, cookie=None)
        finally:
            _unbind(connection)

    def _search(
        self, connection: Connection, search_filter: str, *, paged_size: int, cookie: bytes | None
    ) -> bytes:
        """One page of the subtree search; returns the RFC 2696 cookie (b"" on the last page)."""
        try:
            connection.search(
                self.base_dn,
                search_filter,
                search_scope=SUBTREE,
                attributes=REQUESTED_ATTRIBUTES,
                paged_size=paged_size,
                paged_cookie=cookie,
            )
        except LDAPInvalidFilterError as exc:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        'The filter "%(search_filter)s" is not a valid LDAP filter (RFC 4515): %(exc)s.'
                    ),
                    search_filter=search_filter,
                    exc=exc,
                ),
                permanent=True,
            ) from exc
        except (LDAPException, OSError) as exc:
            raise _network_error(exc) from exc
        result = connection.result or {}
        if result.get("result", 0) != 0:
            raise _result_error(result, what_failed=Text(gettext_noop("search")), base_dn=self.base_dn)
        control = (result.get("controls") or {}).get(PAGED_RESULTS_OID) or {}
        value = control.get("value") or {}
        next_cookie = value.get("cookie") or b""
        return next_cookie if isinstance(next_cookie, bytes) else bytes(next_cookie)

    def _paged(self, search_filter: str) -> Iterator[CrmRecord | SkippedRecord]:
        """Every entry of the paged search (RFC 2696) as records; stops when the cookie is empty."""
        connection = self._connect()
        try:
            cookie: bytes | None = None
            seen: set[bytes] = set()
            page_size = self.page_size
            while True:
                cookie = self._search(connection, search_filter, paged_size=page_size, cookie=cookie)
                for entry in connection.response or []:
                    if entry.get("type") != "searchResEntry":
                        continue  # continuation references (searchResRef) are not followed
                    record = entry_record(entry)
                    if record is not None:
                        yield record
                if not cookie:
                    return
                if cookie in seen:
                    raise ConnectorError(
                        Text(
                            gettext_noop(
                                "%(what)s handed back a paged-results cookie it had already sent (RFC "
                                "2696): the listing would never end, so the old phone cache is kept."
                            ),
                            what=WHAT,
                        )
                    )
                seen.add(cookie)
        finally:
            _unbind(connection)

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The entries under the filter having a phone attribute ending in the caller's last digits.

        Searches `(&<filter>(|(telephoneNumber=*<digits>)(mobile=*<digits>)...))` over
        `PHONE_ATTRIBUTES` with the last `LOOKUP_DIGITS` digits of `e164`, escaped per RFC 4515
        §3; telephone-number matching ignores spaces and hyphens (RFC 4517 §4.2.29), so
        "020 123 4567" is found for "+31201234567". The caller keeps only the entries whose
        number normalizes to `e164`. Raises `ConnectorError` as `iter_records` does.
        """
        digits = "".join(c for c in e164 if c.isdigit())[-LOOKUP_DIGITS:]
        if not digits:
            return []
        value = escape_filter_chars(digits)
        alternatives = "".join(f"({attribute}=*{value})" for attribute, _ in PHONE_ATTRIBUTES)
        search = f"(&{self.search_filter}(|{alternatives}))"
        return [record for record in self._paged(search) if isinstance(record, CrmRecord)]

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield a `CrmRecord` per entry matching the filter that has a number (see `entry_record`).

        Pages with the Simple Paged Results control (RFC 2696) of `page_size` entries. Raises
        `ConnectorError` when the listing cannot be completed (see `test_connection`; also a
        server that stops at its size limit, LDAP result 4, or repeats a cookie): the sync then
        keeps the old phone cache.
        """
        return self._paged(self.search_filter)

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """The records of entries changed at or after `since` (incremental listing).

        Adds `(modifyTimestamp>=YYYYMMDDHHMMSSZ)` (RFC 4512 §3.4.4; Active Directory:
        `whenChanged`, per the `directory_type` setting) to the filter, `since` in UTC. Plain
        LDAP does not report deletions (that needs syncrepl RFC 4533 or AD's DirSync): the
        nightly full listing catches them. Pages and raises like `iter_records`.
        """
        stamp = generalized_time(since)
        return self._paged(f"(&{self.search_filter}({self.change_attribute}>={stamp}))")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _unbind(connection: Connection) -> None:
    with contextlib.suppress(LDAPException, OSError):
        connection.unbind()


def _caused_by_ssl(exc: BaseException) -> type[ssl.SSLError] | None:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return ssl.SSLCertVerificationError
        if isinstance(seen, ssl.SSLError):
            return ssl.SSLError
        seen = seen.__cause__ or seen.__context__
    return None


def _network_error(exc: BaseException) -> ConnectorError:
    """A failure to reach or talk to the server, as a `ConnectorError` without the OS's error text.

    TLS problems say so (certificate not verified or name mismatch; handshake failed) and are
    permanent (the admin must change the CA or the host name); a refused StartTLS is permanent;
    timeouts and dropped or refused connections are temporary.
    """
    text = str(exc).lower()
    if (
        isinstance(exc, LDAPCertificateError)
        or _caused_by_ssl(exc) is ssl.SSLCertVerificationError
        or ("certificate verify failed" in text or "doesn't match" in text)
    ):
        return ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s is unreachable: its TLS certificate could not be verified "
                    "(check the CA certificate and that the URL uses the name the "
                    "certificate was issued for)."
                ),
                what=WHAT,
            ),
            permanent=True,
        )
    if _caused_by_ssl(exc) is not None or "ssl" in text or "tls" in text:
        if isinstance(exc, LDAPStartTLSError):
            return ConnectorError(
                Text(
                    gettext_noop("%(what)s refused StartTLS: use ldaps:// or turn StartTLS off."), what=WHAT
                ),
                permanent=True,
            )
        return ConnectorError(
            Text(gettext_noop("%(what)s is unreachable: the secure (TLS) connection failed."), what=WHAT),
            permanent=True,
        )
    if isinstance(exc, LDAPResponseTimeoutError | LDAPSocketReceiveError) or "timed out" in text:
        return ConnectorError(
            Text(gettext_noop("%(what)s did not answer in time."), what=WHAT), timed_out=True
        )
    if isinstance(exc, LDAPSocketOpenError):
        return ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s is unreachable: check the address, and that the server accepts connections."
                ),
                what=WHAT,
            )
        )
    return ConnectorError(
        Text(
            gettext_noop("%(what)s closed the connection or sent an unreadable answer (%(name)s)."),
            what=WHAT,
            name=type(exc).__name__,
        )
    )


def _result_error(result: Mapping[str, Any], *, what_failed: str, base_dn: str = "") -> ConnectorError:
    """An unsuccessful LDAP result (RFC 4511 §4.1.9) as a `ConnectorError` an admin understands."""
    code = int(result.get("result", 80) or 80)
    name = str(result.get("description") or "error")
    detail = f"LDAP result {code} {name}"
    if code == 49:
        return ConnectorError(
            Text(gettext_noop("%(what)s refused the credentials (%(detail)s)."), what=WHAT, detail=detail),
            permanent=True,
        )
    if code == 32:
        return ConnectorError(
            Text(
                gettext_noop('%(what)s has no entry "%(base_dn)s" (%(detail)s): check the base DN.'),
                what=WHAT,
                base_dn=base_dn,
                detail=detail,
            ),
            permanent=True,
        )
    if code == 4:
        return ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s stopped the listing at its size limit (%(detail)s): let the "
                    "bind DN read more entries with paged results (OpenLDAP: limits ... "
                    "size.prtotal=unlimited; Active Directory: MaxPageSize), or narrow the "
                    "filter. The old phone cache is kept."
                ),
                what=WHAT,
                detail=detail,
            ),
            permanent=True,
        )
    if code in _PERMANENT_RESULTS:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s %(value)s (%(detail)s)."),
                what=WHAT,
                value=_PERMANENT_RESULTS[code],
                detail=detail,
            ),
            permanent=True,
        )
    return ConnectorError(
        Text(
            gettext_noop("%(what)s could not complete the %(what_failed)s (%(detail)s)."),
            what=WHAT,
            what_failed=what_failed,
            detail=detail,
        )
    )


_YES_NO = (("yes", "Yes"), ("no", "No"))

LDAP = Preset(
    slug="ldap",
    name="LDAP / Active Directory",
    description=gettext_noop(
        "A company directory over LDAP: OpenLDAP, Active Directory, FreeIPA, Samba (RFC 4511)."
    ),
    category="Directory",
    auth_methods=("Bind DN and password (simple bind over LDAPS or StartTLS)", "Anonymous"),
    paging="simple paged results (RFC 2696)",
    settings=(
        SettingField(
            "server_url",
            gettext_noop("Server URL"),
            placeholder="ldaps://ldap.example.com:636",
            help_text=gettext_noop("ldap://host:389 or ldaps://host:636."),
        ),
        SettingField(
            "start_tls",
            gettext_noop("Use StartTLS (ldap:// only)"),
            SettingKind.CHOICE,
            default="no",
            choices=_YES_NO,
        ),
        SettingField(
            "verify_tls",
            gettext_noop("Verify the TLS certificate"),
            SettingKind.CHOICE,
            default="yes",
            choices=_YES_NO,
        ),
        SettingField(
            "ca_certificate",
            gettext_noop("CA certificate (PEM)"),
            required=False,
            help_text=gettext_noop("Only when the directory's certificate is issued by your own CA."),
        ),
        SettingField(
            "bind_dn", gettext_noop("Bind DN"), required=False, placeholder="cn=reader,dc=example,dc=org"
        ),
        SettingField("bind_password", gettext_noop("Bind password"), SettingKind.SECRET, required=False),
        SettingField("base_dn", gettext_noop("Base DN"), placeholder="dc=example,dc=org"),
        SettingField("search_filter", gettext_noop("Search filter"), required=False, default=DEFAULT_FILTER),
        SettingField(
            "page_size",
            gettext_noop("Page size"),
            required=False,
            default=str(DEFAULT_PAGE_SIZE),
            identifies_source=False,
        ),
        SettingField(
            "directory_type",
            gettext_noop("Directory type"),
            SettingKind.CHOICE,
            default="openldap",
            choices=(
                ("openldap", gettext_noop("OpenLDAP and others (modifyTimestamp)")),
                ("ad", gettext_noop("Active Directory (whenChanged)")),
            ),
        ),
    ),
    # A directory has no web page per person; the screen pop offers an e-mail to the caller.
    default_scripts=(DefaultScript("E-mail the caller", "mailto:$(Email)", ScriptApplies.ON_MATCH),),
    connector_class=LdapConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("Title", gettext_noop("Job title")),
        RecordField("Department", gettext_noop("Department")),
        RecordField("DN", gettext_noop("Distinguished name")),
    ),
    default_notification_fields=("Title", "Department"),
    keywords=("ldap", "active directory", "ad", "openldap", "directory", "freeipa", "samba"),
    docs_url="https://datatracker.ietf.org/doc/html/rfc4511",
)

__all__: Sequence[str] = ("LDAP", "LdapConnector", "entry_record", "generalized_time")
