"""Odoo: contacts and companies (`res.partner`) over the External JSON-2 API or XML-RPC.

Two protocols, chosen in the settings:

- JSON-2 (Odoo 19 and newer): `POST {base}/json/2/res.partner/search_read` with
  `Authorization: bearer <API key>`, `X-Odoo-Database: <db>` and the method's named arguments
  as the JSON body (`domain`, `fields`, `offset`, `limit`, `order`); errors are 4xx/5xx with a
  JSON `{"name", "message", ...}` body.
  https://www.odoo.com/documentation/19.0/developer/reference/external_api.html
- XML-RPC (Odoo 18 and older; deprecated in 19, removed in 22): `POST {base}/xmlrpc/2/common`
  `authenticate(db, login, api_key, {})` gives the user id, then `POST {base}/xmlrpc/2/object`
  `execute_kw(db, uid, api_key, "res.partner", "search_read", [domain], {...})`. Errors are
  XML-RPC faults in a 200 answer (codes 1 application error, 2 warning, 3 access denied,
  4 access error: odoo/addons/base/controllers/rpc.py).
  https://www.odoo.com/documentation/18.0/developer/reference/external_api.html
  The calls are marshalled with Python's `xmlrpc.client` and posted with `Connector.send`, so
  they go through the guarded HTTP client (private addresses, size and time caps) and its
  retries; `xmlrpc.client`'s own transport is never used.

People and companies are both `res.partner` (`is_company`). `mobile` was removed from
`res.partner` in Odoo 19 (odoo/odoo PR #189739); over XML-RPC the connector asks `fields_get`
whether it is there, and "Other phone fields" adds any more (`mobile` from the OCA module
partner_mobile on 19, custom `x_` fields).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.parsers.expat
import xmlrpc.client
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import (
    ConnectorError,
    CrmRecord,
    DeletedRecord,
    RecordPhone,
    SkippedRecord,
    transport_error,
)
from integrations.connectors.http_base import Bearer, HttpConnector
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Odoo"
JSON2 = "json2"
XMLRPC = "xmlrpc"
PROTOCOLS = (
    (JSON2, "Odoo 19 or newer: JSON-2 API (API key)"),
    (XMLRPC, "Odoo 18 or older: XML-RPC (login and API key)"),
)
MODEL = "res.partner"
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 5_000
# Odoo's datetime format, in UTC (odoo.tools.DEFAULT_SERVER_DATETIME_FORMAT).
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# res.partner's phone fields and their type labels; other phone fields keep their own name.
PHONE_TYPES = {"phone": "work", "mobile": "mobile"}
_READ_FIELDS = ("name", "display_name", "is_company", "parent_id", "email", "function", "city", "country_id")
# XML-RPC fault codes of odoo/addons/base/controllers/rpc.py.
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4
FAULT_WARNING = 2


def record_url(base_url: str, record_id: str, *, protocol: str) -> str:
    """The partner's form in Odoo's web client.

    Odoo 18+ (JSON-2 is 19+): `{base}/odoo/contacts/{id}` (the Contacts app's action path,
    `ir.actions` `path`, which crm depends on). Before: `{base}/web#id={id}&model=res.partner
    &view_type=form`; 17.2+ still opens such links (router.js url-retrocompatibility).
    """
    base = base_url.rstrip("/")
    if protocol == JSON2:
        return f"{base}/odoo/contacts/{record_id}"
    return f"{base}/web#id={record_id}&model={MODEL}&view_type=form"


def _text(value: Any) -> str:
    """An Odoo field value as text: empty fields are `false` in Odoo's answers, not null."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _many2one_name(value: Any) -> str:
    """The name of a many2one value `[id, "name"]` ("" for `false`)."""
    if isinstance(value, list) and len(value) == 2:
        return _text(value[1])
    return ""


def _setting(settings: Mapping[str, str], name: str) -> str:
    return (settings.get(name) or "").strip()


def odoo_other_phone_fields(settings: Mapping[str, str]) -> tuple[str, ...]:
    """The "Other phone fields" setting as technical field names ("mobile, x_phone2")."""
    return tuple(part.strip() for part in _setting(settings, "other_phone_fields").split(",") if part.strip())


def odoo_settings_problems(settings: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with an Odoo integration's settings, by setting name ({} when usable)."""
    problems: dict[str, str] = {}
    protocol = _setting(settings, "protocol") or JSON2
    if protocol not in dict(PROTOCOLS):
        problems["protocol"] = gettext('"%(protocol)s" is not one of %(value)s.') % {
            "protocol": protocol,
            "value": ", ".join(dict(PROTOCOLS)),
        }
    if protocol == XMLRPC:
        if not _setting(settings, "database"):
            problems["database"] = gettext("XML-RPC needs the database name.")
        if not _setting(settings, "login"):
            problems["login"] = gettext("XML-RPC needs the user's login (e-mail).")
    for name in odoo_other_phone_fields(settings):
        if not _FIELD_NAME.match(name):
            problems["other_phone_fields"] = gettext(
                '"%(name)s" is not a technical field name (like mobile or x_phone2).'
            ) % {"name": name}
    size = _setting(settings, "page_size") or str(DEFAULT_PAGE_SIZE)
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        problems["page_size"] = gettext("enter a whole number from 1 to %(max_page_size)s.") % {
            "max_page_size": MAX_PAGE_SIZE
        }
    return problems


class OdooConnector(HttpConnector):
    """Lists `res.partner` records (contacts, then companies by `is_company`) with their phones.

    Settings: `base_url`, `database`, `protocol` ("json2" or "xmlrpc"), `api_key` (secret),
    `login` (XML-RPC), `other_phone_fields`, `page_size`. Pages with `offset`/`limit` ordered by
    `id` until a short page. Raises `ConnectorError` for unusable settings (permanent), HTTP
    failures (see `HttpConnector.request`) and XML-RPC faults (`fault_error`).
    """

    what = WHAT
    supports_incremental = True
    auth = Bearer(setting="api_key", prefix="bearer")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        problems = odoo_settings_problems(self.settings)
        if problems:
            raise ConnectorError(
                f"{WHAT}'s settings are not usable: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                permanent=True,
            )
        self.protocol = _setting(self.settings, "protocol") or JSON2
        self.database = _setting(self.settings, "database")
        self.page_size = int(_setting(self.settings, "page_size") or DEFAULT_PAGE_SIZE)
        self._uid: int | None = None
        self._phone_fields: tuple[str, ...] | None = None

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """See `odoo_settings_problems`."""
        return odoo_settings_problems(settings)

    # --- Listing

    def test_connection(self) -> None:
        """The listing's first page (XML-RPC: after `authenticate` and `fields_get`)."""
        self.search_read([], fields=self.read_fields(), offset=0, limit=self.page_size)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every partner with a number, contacts and companies in one listing by id."""
        for item in self._listing([]):
            record = self.record(item)
            if record is not None:
                yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Partners written at or after `since` (domain `write_date >= since` in UTC, Odoo's
        "YYYY-MM-DD HH:MM:SS"), archived ones included: an archived partner (`active` false,
        Odoo's usual "delete") comes back as a `DeletedRecord`. Deleted rows are not reported
        by Odoo; the nightly full sync removes them."""
        stamp = since.astimezone(dt.UTC).strftime(ODOO_DATETIME)
        domain = [["write_date", ">=", stamp], ["active", "in", [True, False]]]
        for item in self._listing(domain, extra_fields=("active",)):
            if isinstance(item, dict) and item.get("active") is False and isinstance(item.get("id"), int):
                yield DeletedRecord(
                    id=str(item["id"]), type="company" if item.get("is_company") else "contact"
                )
                continue
            record = self.record(item)
            if record is not None:
                yield record

    def _listing(self, domain: list[Any], *, extra_fields: tuple[str, ...] = ()) -> Iterator[Any]:
        """The partners of `domain`, page by page (offset/limit ordered by id)."""
        fields = self.read_fields(*extra_fields)
        offset = 0
        previous: list[Any] | None = None
        for _ in range(self.max_pages):
            page = self.search_read(domain, fields=fields, offset=offset, limit=self.page_size)
            if page and page == previous:
                raise self._repeated()
            yield from page
            if len(page) < self.page_size:
                return
            previous = page
            offset += len(page)
        raise self._too_many_pages()

    def read_fields(self, *extra: str) -> list[str]:
        """The `fields` of `search_read`: name, company, e-mail... then the phone fields, `extra`."""
        return [*_READ_FIELDS, *self.phone_fields(), *extra]

    def phone_fields(self) -> tuple[str, ...]:
        """The phone fields to read: `phone`, `mobile` where the database has it (asked with
        `fields_get` over XML-RPC; JSON-2 is Odoo 19+, without it), then "Other phone fields"."""
        if self._phone_fields is None:
            found = ["phone"]
            if self.protocol == XMLRPC:
                described = self._xmlrpc_object(
                    "fields_get", [], {"allfields": ["mobile"], "attributes": ["type"]}
                )
                if not isinstance(described, dict):
                    raise self._not_documented("fields_get")
                if "mobile" in described:
                    found.append("mobile")
            found += [name for name in odoo_other_phone_fields(self.settings) if name not in found]
            self._phone_fields = tuple(found)
        return self._phone_fields

    def record(self, item: Any) -> CrmRecord | SkippedRecord | None:
        """A `search_read` row as a record; `SkippedRecord` when unreadable, None without numbers."""
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), int)
            or isinstance(item.get("id"), bool)
        ):
            return SkippedRecord(
                reason="a partner without a numeric id",
                id=_text(item.get("id")) if isinstance(item, dict) else "",
            )
        record_id = str(item["id"])
        phones = tuple(
            RecordPhone(number, PHONE_TYPES.get(name, name))
            for name in self.phone_fields()
            if (number := _text(item.get(name)))
        )
        if not phones:
            return None
        is_company = item.get("is_company") is True
        name = _text(item.get("name")) or _text(item.get("display_name"))
        company = name if is_company else _many2one_name(item.get("parent_id"))
        fields = {
            "Email": _text(item.get("email")),
            "Company": company,
            "JobTitle": _text(item.get("function")),
            "City": _text(item.get("city")),
            "Country": _many2one_name(item.get("country_id")),
        }
        return CrmRecord(
            id=record_id,
            type="company" if is_company else "contact",
            display_name=name,
            phones=phones,
            url=record_url(self.base_url, record_id, protocol=self.protocol),
            fields={k: v for k, v in fields.items() if v},
        )

    # --- Protocols

    def search_read(self, domain: list[Any], *, fields: list[str], offset: int, limit: int) -> list[Any]:
        """One `res.partner.search_read` page (ordered by id): a list of row objects.

        Raises `ConnectorError` when the answer is not a list (a permanent one), see also
        `request` and `fault_error`.
        """
        kwargs = {"domain": domain, "fields": fields, "offset": offset, "limit": limit, "order": "id"}
        if self.protocol == XMLRPC:
            kwargs.pop("domain")
            answer = self._xmlrpc_object("search_read", [domain], kwargs)
        else:
            headers = {"X-Odoo-Database": self.database} if self.database else {}
            response = self.request("POST", f"json/2/{MODEL}/search_read", json=kwargs, headers=headers)
            answer = self.response_json(response)
        if not isinstance(answer, list):
            raise self._not_documented("search_read")
        return answer

    def _not_documented(self, method: str) -> ConnectorError:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s answered %(method)s with something that is not its documented shape."),
                what=WHAT,
                method=method,
            ),
            permanent=True,
        )

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        """JSON-2 errors: Odoo's `message` for the 4xx the base has no words for (422 "Invalid
        field 'mobile' on model 'res.partner'", 400 bad database), else the base's message."""
        if response.status_code in (400, 422):
            try:
                message = _text(json.loads(response.content).get("message"))
            except (ValueError, UnicodeDecodeError, AttributeError):
                message = ""
            if message:
                return ConnectorError(
                    Text(
                        gettext_noop("%(what)s rejected the request (HTTP %(status_code)s): %(value)s"),
                        what=WHAT,
                        status_code=response.status_code,
                        value=message[:300],
                    ),
                    permanent=True,
                )
        return super()._response_error(response, retry_after=retry_after)

    def _uid_for_xmlrpc(self) -> int:
        if self._uid is None:
            login, key = _setting(self.settings, "login"), _setting(self.settings, "api_key")
            uid = self._xmlrpc("common", "authenticate", (self.database, login, key, {}))
            if uid is False:
                raise ConnectorError(
                    Text(
                        gettext_noop("%(what)s refused the login or API key (database %(database)s)."),
                        what=WHAT,
                        database=self.database,
                    ),
                    permanent=True,
                )
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise self._not_documented("authenticate")
            self._uid = uid
        return self._uid

    def _xmlrpc_object(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """`execute_kw(db, uid, api_key, "res.partner", method, args, kwargs)` on /xmlrpc/2/object."""
        uid = self._uid_for_xmlrpc()
        key = _setting(self.settings, "api_key")
        return self._xmlrpc("object", "execute_kw", (self.database, uid, key, MODEL, method, args, kwargs))

    def _xmlrpc(self, service: str, method: str, params: tuple[Any, ...]) -> Any:
        """One XML-RPC call to `{base}/xmlrpc/2/{service}`, posted through `Connector.send`.

        Returns the call's value. Raises `ConnectorError`: `fault_error` for a fault, a
        temporary one for an answer that is not XML-RPC, else as `HttpConnector.request`.
        """
        url = self.url_for(f"xmlrpc/2/{service}")
        self._wait_for_rate_limit()
        body = xmlrpc.client.dumps(params, methodname=method, allow_none=False).encode()
        headers = {"Content-Type": "text/xml", "Accept": "text/xml"}
        try:
            response = self.send("POST", url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=WHAT) from exc
        if not response.is_success:
            asked = self._requested_wait(response) if self._should_retry(response) else None
            raise self._response_error(response, retry_after=asked)
        try:
            (value,), _ = xmlrpc.client.loads(response.content)
        except xmlrpc.client.Fault as fault:
            raise fault_error(fault) from None
        except (xml.parsers.expat.ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError):
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s answered something that is not XML-RPC (HTTP %(status_code)s) at %(path)s."
                    ),
                    what=WHAT,
                    status_code=response.status_code,
                    path=response.request.url.path,
                )
            ) from None
        return value


def fault_error(fault: xmlrpc.client.Fault) -> ConnectorError:
    """An Odoo XML-RPC fault as a `ConnectorError` an admin understands.

    Code 3 (AccessDenied: wrong API key or login) and 4 (AccessError: the user may not read
    contacts) and 2 (a UserError) are permanent; code 1 (application error, a traceback) is
    permanent when it names a missing database or an invalid field, else temporary.
    Codes: odoo/addons/base/controllers/rpc.py `xmlrpc_handle_exception_int`.
    """
    text = str(fault.faultString or "")
    last_line = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")
    if fault.faultCode == FAULT_ACCESS_DENIED:
        return ConnectorError(
            Text(
                gettext_noop(
                    "%(what)s refused the credentials (access denied): check the login and API key."
                ),
                what=WHAT,
            ),
            permanent=True,
        )
    if fault.faultCode == FAULT_ACCESS_ERROR:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s denied access: the user may not read contacts (%(value)s)."),
                what=WHAT,
                value=last_line[:200],
            ),
            permanent=True,
        )
    if fault.faultCode == FAULT_WARNING:
        return ConnectorError(
            Text(gettext_noop("%(what)s refused the request: %(value)s"), what=WHAT, value=last_line[:300]),
            permanent=True,
        )
    if re.search(r'database "[^"]*" does not exist', text):
        return ConnectorError(
            Text(
                gettext_noop("%(what)s has no such database: check the database name (%(value)s)."),
                what=WHAT,
                value=last_line[:200],
            ),
            permanent=True,
        )
    if "Invalid field" in text:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s does not know a field we asked for: %(value)s"),
                what=WHAT,
                value=last_line[:200],
            ),
            permanent=True,
        )
    return ConnectorError(
        Text(
            gettext_noop("%(what)s had a server error (XML-RPC fault %(faultcode)s: %(value)s)."),
            what=WHAT,
            faultcode=fault.faultCode,
            value=last_line[:200],
        )
    )


ODOO = Preset(
    slug="odoo",
    name="Odoo",
    description=gettext_noop(
        "Odoo contacts and companies (res.partner), JSON-2 API (19+) or XML-RPC (18 and older)."
    ),
    settings=(
        SettingField(
            "base_url",
            gettext_noop("Odoo address"),
            SettingKind.URL,
            placeholder="https://mycompany.odoo.com",
        ),
        SettingField(
            "database",
            gettext_noop("Database name"),
            required=False,
            help_text=gettext_noop(
                "Needed for XML-RPC, and for JSON-2 when the server hosts several databases."
            ),
            placeholder="mycompany",
        ),
        SettingField(
            "protocol",
            gettext_noop("Odoo version / API"),
            SettingKind.CHOICE,
            default=JSON2,
            choices=PROTOCOLS,
        ),
        SettingField(
            "login",
            gettext_noop("Login (XML-RPC only)"),
            required=False,
            help_text=gettext_noop("The e-mail address the API key belongs to; JSON-2 needs only the key."),
        ),
        SettingField(
            "api_key",
            gettext_noop("API key"),
            SettingKind.SECRET,
            help_text=gettext_noop(
                "Preferences → Account Security → New API Key (keys last at most three months)."
            ),
        ),
        SettingField(
            "other_phone_fields",
            gettext_noop("Other phone fields"),
            required=False,
            help_text=gettext_noop(
                "Technical names of more res.partner phone fields, comma-separated: mobile on Odoo 19 "
                "with the OCA partner_mobile module, or your own x_ fields."
            ),
        ),
        SettingField(
            "page_size",
            gettext_noop("Records per request"),
            required=False,
            default=str(DEFAULT_PAGE_SIZE),
            help_text=gettext_noop("Lower it if Odoo times out on large pages."),
        ),
    ),
    connector_class=OdooConnector,
    record_types=("contact", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job position")),
        RecordField("City", gettext_noop("City")),
        RecordField("Country", gettext_noop("Country")),
    ),
    default_notification_fields=("DisplayName", "Company", "Email"),
    default_scripts=(
        DefaultScript("Open contact in Odoo", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        # Odoo has no URL parameter for a new record's values: the form opens empty.
        DefaultScript(
            "Create contact in Odoo",
            "{base_url}/web#model=res.partner&view_type=form",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    keywords=("odoo", "openerp", "res.partner", "erp", "xml-rpc", "json-2"),
    docs_url="https://www.odoo.com/documentation/19.0/developer/reference/external_api.html",
    credentials_url="https://www.odoo.com/documentation/19.0/developer/reference/external_api.html#api-keys",
    auth_methods=("API key (bearer, JSON-2)", "Login and API key (XML-RPC)"),
    paging="offset/limit (search_read)",
    category="CRM",
)
