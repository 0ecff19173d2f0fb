"""Generic JSON REST source: any CRM with a JSON list endpoint, configured without code.

In the spirit of 3CX's CRM templates: the admin gives the API's base URL, the auth (none, an API
key in a header or query parameter, HTTP Basic, a bearer token), the list endpoint, the paging
style and the JSON paths of the record list, id, display name, phone numbers, record URL and
extra fields (paths as in `http_base.json_path_values`: `data.items`, `phones[*].number`,
`properties.phone`). This module is also the example of a connector on `HttpConnector`: a
declaration (`Preset`), a settings reader, and `iter_records` built from a paging helper.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import phonenumbers
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import (
    ApiKeyHeader,
    ApiKeyQuery,
    Auth,
    Basic,
    Bearer,
    HttpConnector,
    JsonPathError,
    NoAuth,
    json_path_check,
    json_path_first,
    json_path_values,
    json_text,
)
from integrations.oauth import CLIENT_CREDENTIALS, OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = Text(gettext_noop("The REST API"))

AUTH_KINDS = (
    ("none", "None"),
    ("header", "API key in a header"),
    ("query", "API key in a query parameter"),
    ("basic", "User name and password (HTTP Basic)"),
    ("bearer", "Bearer token"),
    ("oauth2_code", "OAuth 2.0 (authorization code, Connect button)"),
    ("oauth2_client_credentials", "OAuth 2.0 (client credentials, server to server)"),
)
PAGING_STYLES = (
    ("none", "No paging (one answer has every record)"),
    ("cursor", "Cursor / after token from the answer"),
    ("offset", "Offset and limit"),
    ("page", "Page number and page size"),
    ("next_link", "Next-page link in the answer"),
    ("link_header", "Next-page link in the Link header (RFC 8288)"),
)
# The query parameters each paging style sends unless the settings name others.
SINCE_FORMATS = (
    ("iso8601", "ISO 8601 (2026-03-10T09:00:00Z)"),
    ("unix", "Unix time in seconds (1773133200)"),
)
_DEFAULT_PARAMS = {
    "cursor": ("cursor", ""),
    "offset": ("offset", "limit"),
    "page": ("page", "per_page"),
}
MAX_PAGE_SIZE = 10_000
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
# The placeholders of the search endpoint (live lookup): the caller number as E.164
# ("+31201234567", URL-escaped), its digits ("31201234567"), its national form ("0201234567").
LOOKUP_PLACEHOLDERS = ("number", "digits", "national")
_LOOKUP_PLACEHOLDER = re.compile(r"\{(number|digits|national)\}")


def lookup_target(template: str, e164: str) -> str:
    """The search endpoint `template` with the caller number `e164` filled in (URL-escaped).

    `{number}` -> E.164 ("%2B31201234567"), `{digits}` -> its digits, `{national}` -> the
    national dialling form's digits ("0201234567", ITU-T E.164 national significant number with
    the trunk prefix, as libphonenumber formats it).
    """
    digits = re.sub(r"\D", "", e164)
    try:
        national = re.sub(
            r"\D",
            "",
            phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL),
        )
    except phonenumbers.NumberParseException:
        national = digits
    values = {"number": e164, "digits": digits, "national": national}
    return _LOOKUP_PLACEHOLDER.sub(lambda m: quote(values[m[1]], safe=""), template)


@dataclass(frozen=True)
class RestJsonConfig:
    """The settings of a `rest_json` integration, read and checked.

    `phones` and `extra_fields` are (label or field name, JSON path) pairs; `name_paths` are
    joined with a space ("first_name, last_name").
    """

    list_path: str
    paging: str
    page_size: int
    page_param: str
    size_param: str
    next_path: str
    records_path: str
    id_path: str
    name_paths: tuple[str, ...]
    phones: tuple[tuple[str, str], ...]
    url_template: str
    extra_fields: tuple[tuple[str, str], ...]
    auth: Auth
    since_param: str = ""
    since_format: str = "iso8601"
    deleted_path: str = ""
    lookup_path: str = ""
    lookup_records_path: str = ""


def _pairs(text: str, *, setting: str, errors: dict[str, str], named: bool) -> tuple[tuple[str, str], ...]:
    """ "label=path, path2" -> (("label", "path"), ("", "path2")); errors go into `errors[setting]`."""
    pairs: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, path = part.partition("=")
        name, path = (name.strip(), path.strip()) if sep else ("", name.strip())
        if named and not _FIELD_NAME.match(name):
            errors[setting] = gettext(
                '"%(part)s" is not name=path (a name of letters, digits and _, then a JSON path).'
            ) % {"part": part}
            continue
        try:
            json_path_check(path)
        except JsonPathError as exc:
            errors[setting] = str(exc)
            continue
        if not path:
            errors[setting] = gettext('"%(part)s" has no JSON path.') % {"part": part}
            continue
        pairs.append((name, path))
    return tuple(pairs)


def rest_json_settings_problems(settings: Mapping[str, str]) -> dict[str, str]:
    """Problems of a `rest_json` configuration, keyed by setting name ({} when it is usable)."""
    try:
        rest_json_config(settings)
    except RestJsonSettingsError as exc:
        return exc.problems
    return {}


class RestJsonSettingsError(ConnectorError):
    """The configuration cannot be used; `problems` maps setting names to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        labels = {s.name: s.label for s in REST_JSON_SETTINGS}
        text = "; ".join(f"{labels.get(name, name)}: {why}" for name, why in problems.items())
        super().__init__(f"The REST source's settings are not usable: {text}", permanent=True)
        self.problems = problems


def rest_json_config(settings: Mapping[str, str]) -> RestJsonConfig:
    """Read and check a `rest_json` integration's settings.

    Raises `RestJsonSettingsError` (a permanent `ConnectorError`) naming every unusable setting:
    a JSON path that is not one, a paging style without its cursor/link path, a page size that
    is not 1..10,000, an auth kind without its key, a record URL template that is not http(s).
    """

    def get(name: str) -> str:
        return (settings.get(name) or "").strip()

    errors: dict[str, str] = {}
    paging = get("paging") or "none"
    if paging not in dict(PAGING_STYLES):
        errors["paging"] = gettext('"%(paging)s" is not a paging style; choose one of %(value)s.') % {
            "paging": paging,
            "value": ", ".join(dict(PAGING_STYLES)),
        }
    size_text = get("page_size") or "100"
    page_size = int(size_text) if size_text.isdigit() else 0
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        errors["page_size"] = gettext("enter a whole number from 1 to %(max_page_size)s.") % {
            "max_page_size": MAX_PAGE_SIZE
        }
    default_page, default_size = _DEFAULT_PARAMS.get(paging, ("", ""))
    next_path = get("next_path")
    if paging in ("cursor", "next_link") and not next_path:
        errors["next_path"] = gettext(
            "give the JSON path of the next cursor or link (e.g. paging.next.after)."
        )
    single_paths = {
        "next_path": next_path,
        "records_path": get("records_path"),
        "id_path": get("id_path") or "id",
    }
    for name, path in single_paths.items():
        try:
            json_path_check(path)
        except JsonPathError as exc:
            errors[name] = str(exc)
    name_paths = tuple(
        p for _, p in _pairs(get("name_paths") or "name", setting="name_paths", errors=errors, named=False)
    )
    phones = _pairs(get("phone_paths"), setting="phone_paths", errors=errors, named=False)
    if not phones and "phone_paths" not in errors:
        errors["phone_paths"] = gettext("give at least one JSON path of a phone number (e.g. phone, mobile).")
    extra = _pairs(get("extra_fields"), setting="extra_fields", errors=errors, named=True)
    template = get("record_url_template")
    if template and not template.lower().startswith(("http://", "https://")):
        errors["record_url_template"] = gettext("start the record URL template with http:// or https://.")
    list_path = get("list_path")
    if not list_path:
        errors["list_path"] = gettext("give the path of the list endpoint (e.g. /api/v1/contacts).")
    auth = _auth(get("auth_kind") or "none", settings=settings, errors=errors)
    since_format = get("modified_since_format") or "iso8601"
    if since_format not in dict(SINCE_FORMATS):
        errors["modified_since_format"] = gettext('"%(since_format)s" is not one of %(value)s.') % {
            "since_format": since_format,
            "value": ", ".join(dict(SINCE_FORMATS)),
        }
    if get("deleted_list_path") and not get("modified_since_param"):
        errors["deleted_list_path"] = gettext(
            "deleted records are read only with a modified-since parameter."
        )
    lookup_path = get("lookup_path")
    lookup_records_path = get("lookup_records_path")
    if lookup_path and not _LOOKUP_PLACEHOLDER.search(lookup_path):
        errors["lookup_path"] = gettext("put {number}, {digits} or {national} where the caller number goes.")
    elif lookup_path and set(_PLACEHOLDER.findall(lookup_path)) - set(LOOKUP_PLACEHOLDERS):
        errors["lookup_path"] = gettext("the placeholders are %(value)s.") % {
            "value": ", ".join("{" + p + "}" for p in LOOKUP_PLACEHOLDERS)
        }
    try:
        json_path_check(lookup_records_path)
    except JsonPathError as exc:
        errors["lookup_records_path"] = str(exc)
    if errors:
        raise RestJsonSettingsError(errors)
    return RestJsonConfig(
        list_path=list_path,
        paging=paging,
        page_size=page_size,
        page_param=get("page_param") or default_page,
        size_param=get("size_param") or default_size,
        next_path=next_path,
        records_path=single_paths["records_path"],
        id_path=single_paths["id_path"],
        name_paths=name_paths,
        phones=phones,
        url_template=template,
        extra_fields=extra,
        auth=auth,
        since_param=get("modified_since_param"),
        since_format=since_format,
        deleted_path=get("deleted_list_path"),
        lookup_path=lookup_path,
        lookup_records_path=lookup_records_path or single_paths["records_path"],
    )


# The OAuth 2.0 declaration of the rest_json preset: every URL comes from a setting.
REST_JSON_OAUTH = OAuth2Config(
    authorize_url="{oauth_authorize_url}",
    token_url="{oauth_token_url}",  # noqa: S106 (a URL template)
    scopes_setting="oauth_scopes",
    token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
)
# The same with the client credentials grant (RFC 6749 §4.4): no Connect, no authorization URL.
REST_JSON_OAUTH_CLIENT_CREDENTIALS = dataclasses.replace(REST_JSON_OAUTH, grant=CLIENT_CREDENTIALS)
_OAUTH_BY_KIND = {
    "oauth2_code": REST_JSON_OAUTH,
    "oauth2_client_credentials": REST_JSON_OAUTH_CLIENT_CREDENTIALS,
}


def _auth(kind: str, *, settings: Mapping[str, str], errors: dict[str, str]) -> Auth:
    name = (settings.get("api_key_name") or "").strip()
    has_secret = bool((settings.get("secret") or "").strip())
    if kind == "none":
        return NoAuth()
    if kind not in dict(AUTH_KINDS):
        errors["auth_kind"] = gettext('"%(kind)s" is not an auth kind; choose one of %(value)s.') % {
            "kind": kind,
            "value": ", ".join(dict(AUTH_KINDS)),
        }
        return NoAuth()
    if kind in _OAUTH_BY_KIND:
        config = _OAUTH_BY_KIND[kind]
        urls = (("oauth_authorize_url", "authorization URL"), ("oauth_token_url", "token URL"))
        for setting, what in urls if config.needs_connect else urls[1:]:
            value = (settings.get(setting) or "").strip()
            if not value.lower().startswith(("http://", "https://")):
                errors[setting] = gettext("OAuth 2.0 needs the %(what)s (http:// or https://).") % {
                    "what": what
                }
        if not (settings.get("oauth_client_id") or "").strip():
            errors["oauth_client_id"] = gettext("OAuth 2.0 needs the client id.")
        if not config.needs_connect and not (settings.get("oauth_client_secret") or "").strip():
            errors["oauth_client_secret"] = gettext("The client credentials grant needs the client secret.")
        return OAuth2(config)
    if not has_secret:
        errors["secret"] = gettext("this auth kind needs the key, password or token.")
    if kind == "header":
        return ApiKeyHeader(name or "X-Api-Key", setting="secret")
    if kind == "query":
        return ApiKeyQuery(name or "api_key", setting="secret")
    if kind == "basic":
        if not (settings.get("username") or "").strip():
            errors["username"] = gettext("HTTP Basic needs a user name.")
        return Basic("username", "secret")
    return Bearer(setting="secret")


class RestJsonConnector(HttpConnector):
    """Lists the records of a JSON list endpoint as configured in the settings (see `RestJsonConfig`)."""

    what = WHAT
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = rest_json_config(self.settings)
        self.auth = self.config.auth

    @classmethod
    def lookup_problem(cls, settings: Mapping[str, str]) -> str:
        """Why live lookup cannot be used with these settings: no search endpoint ("" when it can)."""
        if not (settings.get("lookup_path") or "").strip():
            return "Set the search endpoint (e.g. /contacts/search?phone={number}) in the settings first."
        return ""

    def lookup(self, e164: str) -> list[CrmRecord]:
        """`GET` the search endpoint with the caller number filled in (see `lookup_target`) and
        map the list at the search result path (default: the record list path) like
        `iter_records` does. Items that are not records or have no number are left out.

        Raises `ConnectorError`: a permanent one when no search endpoint is set, else as
        `HttpConnector.request` does (no retries unless the `RetryPolicy` allows them).
        """
        c = self.config
        if not c.lookup_path:
            raise ConnectorError(
                Text(gettext_noop("%(what)s has no search endpoint set for live lookup."), what=WHAT),
                permanent=True,
            )
        path = lookup_target(c.lookup_path, e164)
        items = self._items(self.get_json(path), c.lookup_records_path, url=path.split("?", 1)[0])
        return [r for r in (self.record(item) for item in items) if isinstance(r, CrmRecord)]

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config | None:
        """The OAuth 2.0 declaration of the auth kind ("oauth2_code", "oauth2_client_credentials"),
        else None."""
        return _OAUTH_BY_KIND.get((settings.get("auth_kind") or "").strip())

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """The unusable settings (see `rest_json_config`) with what is wrong, by name."""
        return rest_json_settings_problems(settings)

    @classmethod
    def incremental_supported(cls, settings: Mapping[str, str]) -> bool:
        """True when the settings name the list endpoint's modified-since query parameter."""
        return bool((settings.get("modified_since_param") or "").strip())

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """The records changed at or after `since`: the list endpoint with the modified-since
        parameter (`since` in UTC as ISO 8601 "2026-03-10T09:00:00Z", or Unix seconds, per the
        settings), paged like `iter_records`; then, with a deleted-records endpoint configured,
        a `DeletedRecord` per item it lists with the same parameter (id at the id path).
        Raises `ConnectorError` as `iter_records`, a permanent one without the parameter setting.
        """
        c = self.config
        if not c.since_param:
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s has no modified-since parameter set; only full syncs run."),
                    what=WHAT,
                ),
                permanent=True,
            )
        moment = since.astimezone(dt.UTC)
        stamp = (
            str(int(moment.timestamp()))
            if c.since_format == "unix"
            else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        params = {c.since_param: stamp}
        for page in self.pages(params=params):
            for item in page:
                record = self.record(item)
                if record is not None:
                    yield record
        if not c.deleted_path:
            return
        for page in self.pages(path=c.deleted_path, params=params):
            for item in page:
                record_id = json_text(json_path_first(item, c.id_path)) if isinstance(item, dict) else ""
                if record_id:
                    yield DeletedRecord(id=record_id, type="contact")
                else:
                    yield SkippedRecord(reason=f'a deleted record has no id at "{c.id_path}"')

    def pages(self, *, path: str = "", params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """The pages of the list endpoint (or `path`) with the configured paging helper and
        extra query `params`."""
        c = self.config
        path = path or c.list_path
        if c.paging == "cursor":
            return self.pages_by_cursor(
                path,
                params=params,
                items=c.records_path,
                cursor=c.next_path,
                cursor_param=c.page_param,
                size_param=c.size_param or None,
                page_size=c.page_size,
            )
        if c.paging == "offset":
            return self.pages_by_offset(
                path,
                params=params,
                items=c.records_path,
                offset_param=c.page_param,
                limit_param=c.size_param,
                page_size=c.page_size,
            )
        if c.paging == "page":
            return self.pages_by_page_number(
                path,
                params=params,
                items=c.records_path,
                page_param=c.page_param,
                size_param=c.size_param or None,
                page_size=c.page_size,
            )
        if c.paging in ("next_link", "link_header"):
            return self.pages_by_next_link(
                path,
                params=params,
                items=c.records_path,
                next_link=c.next_path if c.paging == "next_link" else None,
            )
        return iter([self._items(self.get_json(path, params=params), c.records_path, url=path)])

    def test_connection(self) -> None:
        """Fetch the first page and check the paths find records with an id and a phone number.

        Raises `ConnectorError`: the request's errors (see `HttpConnector.request`), a page
        without the record list, or records none of which has a value at the id path or at any
        phone path (permanent, naming the path). An empty first page passes.
        """
        page = next(self.pages(), [])
        if not page:
            return
        c = self.config
        if not any(isinstance(item, dict) and json_text(json_path_first(item, c.id_path)) for item in page):
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s answered %(page)s records, but none has an id at "
                        '"%(id_path)s": check the id path.'
                    ),
                    what=WHAT,
                    page=len(page),
                    id_path=c.id_path,
                ),
                permanent=True,
            )
        if not any(isinstance(item, dict) and _phones(item, c.phones) for item in page):
            paths = ", ".join(path for _, path in c.phones)
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s answered %(page)s records, but none has a phone number at "
                        "%(paths)s: check the phone number paths."
                    ),
                    what=WHAT,
                    page=len(page),
                    paths=paths,
                ),
                permanent=True,
            )

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield a `CrmRecord` per listed record with a phone number; a `SkippedRecord` per item
        that is not a JSON object or has no id. Records without numbers are left out.

        Record shape: `id` from the id path, `type` "contact", `display_name` the name paths'
        values joined by a space, `phones` every value of every phone path (lists flattened) with
        the path's label ("mobile=..."), else its last key, as type; `url` the record URL
        template with `{id}` and `{json.path}` placeholders replaced (URL-escaped); `fields`
        DisplayName, Identifier, PopUpUri and the extra fields. Raises `ConnectorError` as
        `HttpConnector.request` and the paging helpers do.
        """
        for page in self.pages():
            for item in page:
                record = self.record(item)
                if record is not None:
                    yield record

    def record(self, item: Any) -> CrmRecord | SkippedRecord | None:
        """One listed item as a record (see `iter_records`)."""
        c = self.config
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"the record is not a JSON object but {type(item).__name__}")
        record_id = json_text(json_path_first(item, c.id_path))
        if not record_id:
            return SkippedRecord(reason=f'the record has no id at "{c.id_path}"')
        phones = _phones(item, c.phones)
        if not phones:
            return None
        name = " ".join(t for t in (json_text(json_path_first(item, p)) for p in c.name_paths) if t)
        url = _fill(c.url_template, item, record_id=record_id) if c.url_template else ""
        fields = {"DisplayName": name, "Identifier": record_id, "PopUpUri": url}
        for field_name, path in c.extra_fields:
            fields[field_name] = ", ".join(t for t in (json_text(v) for v in _flat(item, path)) if t)
        return CrmRecord(
            id=record_id, type="contact", display_name=name, phones=phones, url=url, fields=fields
        )


def _flat(item: Any, path: str) -> list[Any]:
    values: list[Any] = []
    for value in json_path_values(item, path):
        values.extend(value if isinstance(value, list) else [value])
    return values


def _phones(item: Any, paths: tuple[tuple[str, str], ...]) -> tuple[RecordPhone, ...]:
    phones: list[RecordPhone] = []
    for label, path in paths:
        kind = label or re.sub(r"\[.*?\]", "", path.rsplit(".", 1)[-1])
        for value in _flat(item, path):
            number = json_text(value)
            if number:
                phones.append(RecordPhone(number=number, type=kind))
    return tuple(phones)


def _fill(template: str, item: Any, *, record_id: str) -> str:
    """The template with `{id}` -> the record id and `{path}` -> the value at that JSON path,
    each URL-escaped; a placeholder that is not a path, or finds nothing, becomes ""."""

    def value(match: re.Match[str]) -> str:
        path = match[1].strip()
        if path == "id":
            return quote(record_id, safe="")
        try:
            return quote(json_text(json_path_first(item, path)), safe="")
        except JsonPathError:
            return ""

    return _PLACEHOLDER.sub(value, template)


REST_JSON_SETTINGS: tuple[SettingField, ...] = (
    SettingField(
        "base_url", gettext_noop("API base URL"), SettingKind.URL, placeholder="https://crm.example.com/api"
    ),
    SettingField(
        "auth_kind", gettext_noop("Authentication"), SettingKind.CHOICE, default="none", choices=AUTH_KINDS
    ),
    SettingField(
        "api_key_name",
        gettext_noop("API key header or parameter name"),
        required=False,
        placeholder="X-Api-Key",
        help_text=gettext_noop(
            "For an API key: the header (default X-Api-Key) or query parameter (default api_key)."
        ),
    ),
    SettingField(
        "username", gettext_noop("User name"), required=False, help_text=gettext_noop("For HTTP Basic.")
    ),
    SettingField("secret", gettext_noop("API key, password or token"), SettingKind.SECRET, required=False),
    SettingField(
        "oauth_authorize_url",
        gettext_noop("OAuth authorization URL"),
        SettingKind.URL,
        required=False,
        placeholder="https://crm.example.com/oauth/authorize",
        help_text=gettext_noop("For OAuth 2.0: where the admin grants access (Connect on the overview)."),
    ),
    SettingField(
        "oauth_token_url",
        gettext_noop("OAuth token URL"),
        SettingKind.URL,
        required=False,
        placeholder="https://crm.example.com/oauth/token",
    ),
    SettingField("oauth_client_id", gettext_noop("OAuth client id"), required=False),
    SettingField(
        "oauth_client_secret", gettext_noop("OAuth client secret"), SettingKind.SECRET, required=False
    ),
    SettingField(
        "oauth_scopes",
        gettext_noop("OAuth scopes"),
        required=False,
        help_text=gettext_noop("Space-separated, e.g. contacts.read."),
    ),
    SettingField("list_path", gettext_noop("List endpoint"), placeholder="/v1/contacts"),
    SettingField("paging", gettext_noop("Paging"), SettingKind.CHOICE, default="none", choices=PAGING_STYLES),
    SettingField(
        "page_size", gettext_noop("Page size"), required=False, default="100", identifies_source=False
    ),
    SettingField(
        "page_param",
        gettext_noop("Cursor, offset or page parameter"),
        required=False,
        help_text=gettext_noop("Defaults: cursor, offset, page."),
    ),
    SettingField(
        "size_param",
        gettext_noop("Page size parameter"),
        required=False,
        help_text=gettext_noop("Defaults: limit, per_page."),
    ),
    SettingField(
        "next_path",
        gettext_noop("JSON path of the next cursor or link"),
        required=False,
        placeholder="paging.next.after",
        help_text=gettext_noop(
            "For cursor and next-link paging, e.g. next_cursor, links.next, @odata.nextLink."
        ),
    ),
    SettingField(
        "records_path",
        gettext_noop("JSON path of the record list"),
        required=False,
        placeholder="data",
        help_text=gettext_noop("Empty when the answer is the list itself."),
    ),
    SettingField("id_path", gettext_noop("JSON path of the id"), required=False, default="id"),
    SettingField(
        "name_paths",
        gettext_noop("JSON paths of the name"),
        required=False,
        default="name",
        help_text=gettext_noop(
            "Several paths, comma-separated, are joined with a space: first_name, last_name."
        ),
    ),
    SettingField(
        "phone_paths",
        gettext_noop("JSON paths of the phone numbers"),
        placeholder="phone, mobile=mobile_phone, phones[*].number",
        help_text=gettext_noop("Comma-separated; label=path gives the number's type."),
    ),
    SettingField(
        "record_url_template",
        gettext_noop("Record URL template"),
        required=False,
        placeholder="https://crm.example.com/contacts/{id}",
        help_text=gettext_noop("{id} and {json.path} are replaced by the record's values."),
    ),
    SettingField(
        "extra_fields",
        gettext_noop("Extra fields"),
        required=False,
        placeholder="Email=email, Company=company.name",
        help_text=gettext_noop(
            "name=path pairs, comma-separated; Email, Company and Title can be shown on calls."
        ),
    ),
    SettingField(
        "modified_since_param",
        gettext_noop("Modified-since parameter"),
        required=False,
        placeholder="updated_since",
        help_text=gettext_noop(
            "The list endpoint's query parameter for records changed since a time; "
            "set it to sync changes hourly between the nightly full syncs."
        ),
    ),
    SettingField(
        "modified_since_format",
        gettext_noop("Modified-since time format"),
        SettingKind.CHOICE,
        required=False,
        default="iso8601",
        choices=SINCE_FORMATS,
    ),
    SettingField(
        "deleted_list_path",
        gettext_noop("Deleted records endpoint"),
        required=False,
        placeholder="/v1/contacts/deleted",
        help_text=gettext_noop(
            "Optional: lists the records deleted since the modified-since time (same parameter and "
            "paging); without it the nightly full sync removes deleted records."
        ),
    ),
)

REST_JSON_SETTINGS += (
    SettingField(
        "lookup_path",
        gettext_noop("Search endpoint (live lookup)"),
        required=False,
        placeholder="/v1/contacts/search?phone={number}",
        help_text=gettext_noop(
            "For live lookup: {number} (E.164), {digits} or {national} becomes the caller number."
        ),
    ),
    SettingField(
        "lookup_records_path",
        gettext_noop("JSON path of the search result list"),
        required=False,
        help_text=gettext_noop("Empty: the same as the record list path."),
    ),
)

REST_JSON = Preset(
    slug="rest_json",
    name="Generic JSON REST API",
    description=gettext_noop(
        "Any CRM with a JSON list endpoint: set the URL, auth, paging and JSON paths, no code."
    ),
    category="CRM",
    auth_methods=(
        "API key (header or query)",
        "HTTP Basic",
        "Bearer token",
        "OAuth 2.0 (authorization code or client credentials)",
    ),
    paging="cursor, offset, page number, next link or Link header (configurable)",
    settings=REST_JSON_SETTINGS,
    default_scripts=(DefaultScript("Open record", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=False),),
    connector_class=RestJsonConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("Title", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company",),
    keywords=("rest", "json", "api", "custom", "generic", "http"),
)
