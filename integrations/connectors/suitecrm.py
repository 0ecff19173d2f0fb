"""SuiteCRM: contacts, leads and accounts over the V8 JSON:API with an OAuth 2.0 client.

Auth: the client credentials grant (RFC 6749 §4.4) at `{base}/Api/access_token` (SuiteCRM 7.10.2+)
or `{base}/legacy/Api/access_token` (SuiteCRM 8, which serves the V8 API of its legacy core
under `/legacy`), with the id and secret of an "OAuth2 Clients and Tokens" client; the answer is
`{"token_type": "Bearer", "expires_in": 3600, "access_token": "<JWT>"}`.
https://docs.suitecrm.com/developer/api/developer-setup-guide/configure-authentication/

Listing: `GET {api}/V8/module/{Module}?fields[{Module}]=...&page[size]=N&page[number]=n&sort=id`
answers `{"data": [{"type", "id", "attributes": {...}}], "meta": {"total-pages",
"records-on-this-page"}, "links": {"next", ...}}`; meta and links are left out of an empty page,
and the links are paths without the API root, so pages are counted, not followed.
Filters are `filter[field][op]=value` (op eq, neq, gt, gte, lt, lte; records with
`deleted = 1` only when the filter asks for them). Sources: https://docs.suitecrm.com/developer/api/
developer-setup-guide/json-api/ and salesagility/SuiteCRM `Api/V8/Service/ModuleService.php`,
`Api/V8/JsonApi/Helper/PaginationObjectHelper.php`, `Api/V8/JsonApi/Repository/Filter.php`.

Incremental: `filter[date_modified][gte]` (UTC "Y-m-d H:i:s"). Deleted records cannot be listed:
with `filter[deleted][eq]=1` the list finds the soft-deleted rows, then loads each one again
without deleted rows (`ModuleService::getRecords` -> `BeanManager::getBeanSafe`) and answers
HTTP 400 `{"errors": {"status": 400, "title": null, "detail": "Contacts module with id ... is
not found"}}` as soon as one exists (SuiteCRM issue #8631, confirmed 7.10 to 8.7; SuiteCRM-Core
#661). So deletions are left to the nightly full sync, which replaces the cached numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector
from integrations.oauth import CLIENT_CREDENTIALS, OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "SuiteCRM"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
# SuiteCRM stores date_modified in UTC as "Y-m-d H:i:s"; the filter compares in SQL.
SUITECRM_DATETIME = "%Y-%m-%d %H:%M:%S"

_PERSON_PHONES = (
    ("phone_work", "work"),
    ("phone_mobile", "mobile"),
    ("phone_home", "home"),
    ("phone_other", "other"),
    ("phone_fax", "fax"),
)
_PERSON_FIELDS = {
    "Email": "email1",
    "Company": "account_name",
    "JobTitle": "title",
    "City": "primary_address_city",
}


@dataclass(frozen=True)
class SuiteModule:
    """A SuiteCRM module we list: its API name, our record type, its UI route (lower case), the
    attributes that make the name, its phone fields (attribute, type label) and extra fields."""

    name: str
    record_type: str
    route: str
    name_fields: tuple[str, ...]
    phones: tuple[tuple[str, str], ...]
    extra: Mapping[str, str]

    @property
    def attributes(self) -> list[str]:
        """Every attribute to ask for (`fields[Module]`), in a stable order."""
        wanted = [*self.name_fields, *(f for f, _ in self.phones), *self.extra.values()]
        return list(dict.fromkeys(wanted))


MODULES = (
    SuiteModule(
        "Contacts", "contact", "contacts", ("first_name", "last_name"), _PERSON_PHONES, _PERSON_FIELDS
    ),
    SuiteModule("Leads", "lead", "leads", ("first_name", "last_name"), _PERSON_PHONES, _PERSON_FIELDS),
    SuiteModule(
        "Accounts",
        "company",
        "accounts",
        ("name",),
        (("phone_office", "work"), ("phone_alternate", "other"), ("phone_fax", "fax")),
        {"Email": "email1", "Company": "name", "City": "billing_address_city"},
    ),
)

# The client credentials grant; `{base_url}` is the setting without its trailing slash (see
# `SuiteCrmConnector.auth_settings`). SuiteCRM's OAuth server (league/oauth2-server) reads the
# client id and secret from the form body, as its docs send them.
SUITECRM8_OAUTH = OAuth2Config(
    authorize_url="",
    token_url="{base_url}/legacy/Api/access_token",  # noqa: S106 (a URL template)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    grant=CLIENT_CREDENTIALS,
)
SUITECRM7_OAUTH = OAuth2Config(
    authorize_url="",
    token_url="{base_url}/Api/access_token",  # noqa: S106 (a URL template)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    grant=CLIENT_CREDENTIALS,
)


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def suitecrm_settings_problems(settings: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a SuiteCRM integration's settings, by setting name ({} when usable)."""
    size = (settings.get("page_size") or "").strip() or str(DEFAULT_PAGE_SIZE)
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        return {"page_size": f"enter a whole number from 1 to {MAX_PAGE_SIZE}."}
    return {}


class SuiteCrmConnector(HttpConnector):
    """SuiteCRM 8: lists Contacts, Leads and Accounts (in that order) page by page.

    Settings: `base_url` (the CRM's address), `oauth_client_id`, `oauth_client_secret` (secret),
    `page_size`. Raises `ConnectorError` as `HttpConnector.request` does, and a permanent one
    for a page that is not a JSON:API document with a `data` list.
    """

    what = WHAT
    supports_incremental = True
    api_root = "legacy/Api"
    oauth = SUITECRM8_OAUTH

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        problems = suitecrm_settings_problems(self.settings)
        if problems:
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s's settings are not usable: %(page_size)s"),
                    what=WHAT,
                    page_size=problems["page_size"],
                ),
                permanent=True,
            )
        self.auth = OAuth2(self.oauth)
        self.page_size = int((self.settings.get("page_size") or "").strip() or DEFAULT_PAGE_SIZE)

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """The client credentials grant at the version's `access_token` endpoint."""
        return cls.oauth

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """See `suitecrm_settings_problems`."""
        return suitecrm_settings_problems(settings)

    def auth_settings(self) -> Mapping[str, str]:
        """The settings with `base_url` without a trailing slash (the token URL is built on it)."""
        return {**self.settings, "base_url": (self.settings.get("base_url") or "").strip().rstrip("/")}

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """`HttpConnector.request` asking for the JSON:API media type (`Accept:
        application/vnd.api+json`, as SuiteCRM's API examples send it)."""
        wanted = {"Accept": "application/vnd.api+json", **(headers or {})}
        return super().request(method, path_or_url, params=params, json=json, headers=wanted)

    def record_url(self, module: SuiteModule, record_id: str) -> str:
        """SuiteCRM 8's record view: `{base}/#/{route}/record/{id}` (SuiteCRM-Core
        app-initializer.ts routes `<module>/record/:record`)."""
        return f"{self.base_url.rstrip('/')}/#/{module.route}/record/{record_id}"

    def test_connection(self) -> None:
        """The first page of Contacts."""
        next(iter(self._pages(MODULES[0], {})), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact, lead and account with a number."""
        for module in MODULES:
            for page in self._pages(module, {}):
                for item in page:
                    record = self.record(module, item)
                    if record is not None:
                        yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Records modified at or after `since` (`filter[date_modified][gte]`, UTC "Y-m-d H:i:s").

        No `DeletedRecord`s: the V8 list answers HTTP 400 for `filter[deleted][eq]=1` once a
        deleted record matches (see the module docstring), so the full sync handles deletions."""
        stamp = since.astimezone(dt.UTC).strftime(SUITECRM_DATETIME)
        changed = {"filter[date_modified][gte]": stamp}
        for module in MODULES:
            for page in self._pages(module, changed):
                for item in page:
                    record = self.record(module, item)
                    if record is not None:
                        yield record

    def _pages(self, module: SuiteModule, filters: Mapping[str, str]) -> Iterator[list[Any]]:
        params = {
            f"fields[{module.name}]": ",".join(module.attributes),
            "sort": "id",
            **filters,
        }
        return self.pages_by_page_number(
            f"{self.api_root}/V8/module/{module.name}",
            items="data",
            page_param="page[number]",
            size_param="page[size]",
            params=params,
        )

    def record(self, module: SuiteModule, item: Any) -> CrmRecord | SkippedRecord | None:
        """A JSON:API resource object as a record; `SkippedRecord` when it has no id or
        attributes object, None when it has no number."""
        if (
            not isinstance(item, dict)
            or not _text(item.get("id"))
            or not isinstance(item.get("attributes"), dict)
        ):
            record_id = _text(item.get("id")) if isinstance(item, dict) else ""
            return SkippedRecord(reason=f"a {module.name} record without id or attributes", id=record_id)
        record_id = _text(item["id"])
        attributes = item["attributes"]
        phones = tuple(
            RecordPhone(number, label)
            for field, label in module.phones
            if (number := _text(attributes.get(field)))
        )
        if not phones:
            return None
        name = " ".join(part for f in module.name_fields if (part := _text(attributes.get(f))))
        fields = {label: value for label, f in module.extra.items() if (value := _text(attributes.get(f)))}
        return CrmRecord(
            id=record_id,
            type=module.record_type,
            display_name=name,
            phones=phones,
            url=self.record_url(module, record_id),
            fields=fields,
        )


class SuiteCrm7Connector(SuiteCrmConnector):
    """SuiteCRM 7.10.2+: the same V8 API at `{base}/Api`, records at the classic DetailView."""

    api_root = "Api"
    oauth = SUITECRM7_OAUTH

    def record_url(self, module: SuiteModule, record_id: str) -> str:
        """`{base}/index.php?module={Module}&action=DetailView&record={id}`."""
        return (
            f"{self.base_url.rstrip('/')}/index.php?module={module.name}&action=DetailView&record={record_id}"
        )


def _settings(placeholder: str) -> tuple[SettingField, ...]:
    return (
        SettingField("base_url", gettext_noop("SuiteCRM address"), SettingKind.URL, placeholder=placeholder),
        SettingField(
            "oauth_client_id",
            gettext_noop("Client ID"),
            help_text=gettext_noop(
                "Admin → OAuth2 Clients and Tokens → New Client Credentials Client "
                "(the id shows after saving)."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "page_size",
            gettext_noop("Records per request"),
            required=False,
            default=str(DEFAULT_PAGE_SIZE),
            help_text=gettext_noop("page[size] of the V8 API."),
        ),
    )


_FIELDS = (
    RecordField("Email", gettext_noop("E-mail")),
    RecordField("Company", gettext_noop("Account")),
    RecordField("JobTitle", gettext_noop("Title")),
    RecordField("City", gettext_noop("City")),
)
_DOCS = "https://docs.suitecrm.com/developer/api/developer-setup-guide/json-api/"
_CREDENTIALS = "https://docs.suitecrm.com/developer/api/developer-setup-guide/configure-authentication/"

SUITECRM = Preset(
    slug="suitecrm",
    name="SuiteCRM 8",
    description=gettext_noop(
        "SuiteCRM 8 contacts, leads and accounts over the V8 JSON:API (OAuth client credentials)."
    ),
    settings=_settings("https://crm.example.com"),
    connector_class=SuiteCrmConnector,
    record_types=("contact", "lead", "company"),
    fields=_FIELDS,
    default_notification_fields=("DisplayName", "Company", "JobTitle"),
    default_scripts=(
        DefaultScript("Open record in SuiteCRM", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        # SuiteCRM 8's create view (route `<module>/create`) takes no field values from the URL.
        DefaultScript(
            "Create contact in SuiteCRM", "{base_url}/#/contacts/create", ScriptApplies.ON_NO_MATCH
        ),
    ),
    keywords=("suitecrm", "suite crm", "sugarcrm ce", "salesagility", "json:api"),
    docs_url=_DOCS,
    credentials_url=_CREDENTIALS,
    auth_methods=("OAuth 2.0 (client credentials)",),
    paging="page number (page[number]/page[size])",
    category="CRM",
)

SUITECRM7 = Preset(
    slug="suitecrm7",
    name="SuiteCRM 7",
    description=gettext_noop(
        "SuiteCRM 7.10+ contacts, leads and accounts, V8 JSON:API (OAuth client credentials)."
    ),
    settings=_settings("https://crm.example.com"),
    connector_class=SuiteCrm7Connector,
    record_types=("contact", "lead", "company"),
    fields=_FIELDS,
    default_notification_fields=("DisplayName", "Company", "JobTitle"),
    default_scripts=(
        DefaultScript("Open record in SuiteCRM", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        # The classic EditView fills fields named in the query string.
        DefaultScript(
            "Create contact in SuiteCRM",
            "{base_url}/index.php?module=Contacts&action=EditView&phone_work=#(Caller number:E164)",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    keywords=("suitecrm", "suite crm", "suitecrm 7", "sugarcrm ce", "salesagility", "json:api"),
    docs_url=_DOCS,
    credentials_url=_CREDENTIALS,
    auth_methods=("OAuth 2.0 (client credentials)",),
    paging="page number (page[number]/page[size])",
    category="CRM",
)
