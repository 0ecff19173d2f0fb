"""Zoho CRM: Contacts, Leads and Accounts through the Records API v8, OAuth 2.0 per data centre.

Zoho hosts each organization in one data centre (DC); the admin picks it (a CHOICE setting whose
value is the DC's domain: "zoho.eu", "zohocloud.ca"...). The OAuth 2.0 authorization code flow
runs against `https://accounts.<domain>` (https://www.zoho.com/accounts/protocol/oauth/multi-dc.html),
and the API host is the token answer's `api_domain` ("https://www.zohoapis.eu"), falling back to
the DC's `www.zohoapis.*` host. Requests carry `Authorization: Zoho-oauthtoken <token>`, the
scheme Zoho documents instead of `Bearer`
(https://www.zoho.com/crm/developer/docs/api/v8/get-records.html).

Listing (Get Records, `GET /crm/v8/{module}?fields=...&per_page=200`): `info.more_records` says
whether more follow and `info.next_page_token` is sent back as `page_token` (required past the
first 2,000 records: `DISCRETE_PAGINATION_LIMIT_EXCEEDED`); HTTP 204 means no records.
Incremental: the same listing with the `If-Modified-Since` header (a 304 means nothing changed)
and `GET /crm/v8/{module}/deleted?type=all` with the same header for deletions. Live lookup:
`GET /crm/v8/{module}/search?phone=...` (needs the `ZohoSearch.securesearch.READ` scope).
Sources: the official OpenAPI files https://github.com/zoho/crm-oas (v8.0 record.json).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from integrations.connectors.base import CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_path_first, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind

WHAT = "Zoho CRM"
API_VERSION = "v8"
PAGE_SIZE = 200  # the maximum of `per_page`

# (setting value = the DC's domain, label, API host). Accounts server: https://accounts.<domain>;
# web UI: https://crm.<domain>. Source: https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html,
# https://www.zoho.com/accounts/protocol/oauth/multi-dc.html (accounts servers, including
# zohocloud.ca, zoho.sa, zoho.uk) and the Bigin multi-DC table (API hosts www.zohoapis.ca/.sa).
# The API host is only the fallback: the token answer's `api_domain` decides (www.zohoapis.uk is
# not in a Zoho table we could read).
DATA_CENTRES: tuple[tuple[str, str, str], ...] = (
    ("zoho.com", "United States (zoho.com)", "https://www.zohoapis.com"),
    ("zoho.eu", "Europe (zoho.eu)", "https://www.zohoapis.eu"),
    ("zoho.in", "India (zoho.in)", "https://www.zohoapis.in"),
    ("zoho.com.au", "Australia (zoho.com.au)", "https://www.zohoapis.com.au"),
    ("zoho.jp", "Japan (zoho.jp)", "https://www.zohoapis.jp"),
    ("zohocloud.ca", "Canada (zohocloud.ca)", "https://www.zohoapis.ca"),
    ("zoho.sa", "Saudi Arabia (zoho.sa)", "https://www.zohoapis.sa"),
    ("zoho.uk", "United Kingdom (zoho.uk)", "https://www.zohoapis.uk"),
    ("zoho.com.cn", "China (zoho.com.cn)", "https://www.zohoapis.com.cn"),
)
_API_HOSTS = {domain: host for domain, _, host in DATA_CENTRES}
DEFAULT_DATA_CENTRE = "zoho.com"

# Zoho separates scopes with commas (its OAuth docs), so they are written into the authorize URL
# rather than given as `scopes` (which the platform joins with spaces). `access_type=offline`
# asks for a refresh token; `prompt=consent` for a new one on every Connect.
SCOPES = (
    "ZohoCRM.modules.contacts.READ",
    "ZohoCRM.modules.leads.READ",
    "ZohoCRM.modules.accounts.READ",
    "ZohoSearch.securesearch.READ",
)
ZOHO_OAUTH = OAuth2Config(
    authorize_url=(
        "https://accounts.{data_centre}/oauth/v2/auth?scope="
        + ",".join(SCOPES)
        + "&access_type=offline&prompt=consent"
    ),
    token_url="https://accounts.{data_centre}/oauth/v2/token",  # noqa: S106 (a URL template)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    instance_url_field="api_domain",
)


@dataclass(frozen=True)
class ZohoOAuth(OAuth2):
    """The stored OAuth 2.0 token sent as `Authorization: Zoho-oauthtoken <access token>`.

    Zoho's documentation gives only this scheme (not RFC 6750 `Bearer`); the token itself is
    read and refreshed as `OAuth2.token` does. Raises `ConnectorError` as `OAuth2.token` does.
    """

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The `Zoho-oauthtoken` header with the current access token."""
        return {"Authorization": f"Zoho-oauthtoken {self.token(settings)['access_token']}"}, {}


@dataclass(frozen=True)
class Module:
    """A Zoho module we list: its API name, our record type, the fields to ask for, the phone
    fields with their type labels, the name and company fields."""

    api_name: str
    record_type: str
    phones: tuple[tuple[str, str], ...]
    name_field: str
    company_field: str
    title_field: str


MODULES: tuple[Module, ...] = (
    Module(
        "Contacts",
        "contact",
        phones=(
            ("Phone", "work"),
            ("Mobile", "mobile"),
            ("Home_Phone", "home"),
            ("Other_Phone", "other"),
            ("Asst_Phone", "assistant"),
        ),
        name_field="Full_Name",
        company_field="Account_Name",
        title_field="Title",
    ),
    Module(
        "Leads",
        "lead",
        phones=(("Phone", "work"), ("Mobile", "mobile")),
        name_field="Full_Name",
        company_field="Company",
        title_field="Designation",
    ),
    Module(
        "Accounts",
        "company",
        phones=(("Phone", "work"),),
        name_field="Account_Name",
        company_field="",
        title_field="",
    ),
)


def module_fields(module: Module) -> str:
    """The `fields` parameter of a module's listing (mandatory since API v3; at most 50)."""
    names = [module.name_field, "First_Name", "Last_Name", "Email", module.company_field, module.title_field]
    if module.record_type == "company":
        names = [module.name_field, "Website"]
    names += [field for field, _ in module.phones]
    return ",".join(dict.fromkeys(name for name in names if name))


def record_url(data_centre: str, module: str, record_id: str, org_id: str = "") -> str:
    """The record's page in Zoho CRM's web UI: `https://crm.<domain>/crm/tab/<Module>/<id>`, with
    `/crm/org<org id>/tab/...` when the organization id is set (users of several orgs)."""
    org = org_id.strip().removeprefix("org")
    prefix = f"/crm/org{org}" if org else "/crm"
    return f"https://crm.{data_centre}{prefix}/tab/{module}/{record_id}"


class ZohoConnector(HttpConnector):
    """Lists Zoho CRM Contacts, Leads and Accounts that have phone numbers (see the module doc)."""

    what = WHAT
    auth = ZohoOAuth(ZOHO_OAUTH)
    base_url_setting = "_zoho_api_host"
    page_size = PAGE_SIZE
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_centre = (self.settings.get("data_centre") or DEFAULT_DATA_CENTRE).strip()
        self.org_id = (self.settings.get("org_id") or "").strip()
        # The DC's API host, used when the token answer had no `api_domain`.
        fallback = _API_HOSTS.get(self.data_centre, "")
        self.settings = {**self.settings, self.base_url_setting: fallback}

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """The OAuth 2.0 declaration: authorization code at the chosen DC's accounts server."""
        return ZOHO_OAUTH

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A data centre that is not one of `DATA_CENTRES`."""
        value = (settings.get("data_centre") or DEFAULT_DATA_CENTRE).strip()
        if value not in _API_HOSTS:
            return {
                "data_centre": f'"{value}" is not a Zoho data centre; choose one of {", ".join(_API_HOSTS)}.'
            }
        return {}

    # --- HTTP details of Zoho

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """`Connector.send`, with Zoho's 304 (nothing modified since `If-Modified-Since`) read as
        204 (no records): both mean an empty listing."""
        response = super().send(method, url, **kwargs)
        if response.status_code == 304:
            return httpx.Response(204, request=response.request)
        return response

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """Retry-After, else the `details.retry_after` seconds of Zoho's 429 `TOO_MANY_REQUESTS`
        body (crm-oas v8.0 429 sample), else the rate-limit headers."""
        asked = super()._requested_wait(response)
        if asked is not None or response.status_code != 429 or "Retry-After" in response.headers:
            return asked
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return None
        seconds = json_text(json_path_first(body, "details.retry_after")) if isinstance(body, dict) else ""
        try:
            return max(0.0, float(seconds)) if seconds else None
        except ValueError:
            return None

    def pages(
        self, path: str, *, params: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Iterator[list[Any]]:
        """The `data` lists of a Zoho listing, page by page.

        Follows `info.next_page_token` (as `page_token`) while `info.more_records` is true, or the
        next `page` number when the answer has no token (the deleted-records listing). HTTP 204
        (and 304) end the listing. Raises `ConnectorError` for a repeated token or page, an
        answer without a `data` list, and more than `max_pages` pages.
        """
        query: dict[str, Any] = dict(params)
        seen: set[str] = set()
        previous: list[Any] | None = None
        number = 1
        for _ in range(self.max_pages):
            response = self.request("GET", path, params=query, headers=headers)
            if response.status_code == 204:
                return
            document = self.response_json(response)
            page = self._items(document, "data", url=path)
            if page and page == previous:
                raise self._repeated()
            yield page
            if json_path_first(document, "info.more_records") is not True:
                return
            token = json_text(json_path_first(document, "info.next_page_token"))
            if token:
                if token in seen:
                    raise self._repeated()
                seen.add(token)
                query.pop("page", None)
                query["page_token"] = token
            else:
                number += 1
                query["page"] = number
            previous = page
        raise self._too_many_pages()

    # --- Records

    def record(self, module: Module, item: Any) -> CrmRecord | SkippedRecord | None:
        """A Zoho record as a `CrmRecord`; None when it has no phone number; a `SkippedRecord`
        when it is not an object with an `id`."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a {module.api_name} item is not a record object")
        record_id = json_text(item.get("id"))
        if not record_id:
            return SkippedRecord(reason=f"a {module.api_name} record has no id")
        phones = tuple(
            RecordPhone(number=json_text(item.get(field)), type=label)
            for field, label in module.phones
            if json_text(item.get(field))
        )
        if not phones:
            return None
        name = json_text(item.get(module.name_field)) or " ".join(
            part for part in (json_text(item.get("First_Name")), json_text(item.get("Last_Name"))) if part
        )
        company = item.get(module.company_field) if module.company_field else None
        if isinstance(company, dict):  # a lookup: {"id": ..., "name": ...}
            company = company.get("name")
        fields = {
            "Email": json_text(item.get("Email")),
            "Company": json_text(company) if module.company_field else name,
            "JobTitle": json_text(item.get(module.title_field)) if module.title_field else "",
            "RecordType": module.record_type,
        }
        return CrmRecord(
            id=record_id,
            type=module.record_type,
            display_name=name or record_id,
            phones=phones,
            url=record_url(self.data_centre, module.api_name, record_id, self.org_id),
            fields=fields,
        )

    def _listing(self, headers: Mapping[str, str] | None = None) -> Iterator[CrmRecord | SkippedRecord]:
        for module in MODULES:
            params = {"fields": module_fields(module), "per_page": PAGE_SIZE}
            for page in self.pages(f"/crm/{API_VERSION}/{module.api_name}", params=params, headers=headers):
                for item in page:
                    record = self.record(module, item)
                    if record is not None:
                        yield record

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every Contact, Lead and Account with a phone number (Get Records, see `pages`)."""
        return self._listing()

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Records modified at or after `since` (the `If-Modified-Since` header, ISO 8601 with
        offset as Zoho's examples write it), then a `DeletedRecord` per record of
        `/{module}/deleted?type=all` (recycle bin and permanently deleted) since then."""
        headers = {"If-Modified-Since": since.astimezone(dt.UTC).isoformat(timespec="seconds")}
        yield from self._listing(headers)
        for module in MODULES:
            path = f"/crm/{API_VERSION}/{module.api_name}/deleted"
            for page in self.pages(path, params={"type": "all", "per_page": PAGE_SIZE}, headers=headers):
                for item in page:
                    record_id = json_text(item.get("id")) if isinstance(item, dict) else ""
                    if record_id:
                        yield DeletedRecord(id=record_id, type=module.record_type)
                    else:
                        yield SkippedRecord(reason=f"a deleted {module.api_name} record has no id")

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The Contacts, Leads and Accounts Zoho's search finds for `phone=<e164>` (one request
        per module; 204 = none). Raises `ConnectorError` as `HttpConnector.request` does."""
        found: list[CrmRecord] = []
        for module in MODULES:
            response = self.request(
                "GET",
                f"/crm/{API_VERSION}/{module.api_name}/search",
                params={"phone": e164, "fields": module_fields(module)},
            )
            if response.status_code == 204:
                continue
            path = response.request.url.path
            for item in self._items(self.response_json(response), "data", url=path):
                record = self.record(module, item)
                if isinstance(record, CrmRecord):
                    found.append(record)
        return found

    def test_connection(self) -> None:
        """Ask for the first page of Contacts; raise `ConnectorError` saying what is wrong."""
        module = MODULES[0]
        params = {"fields": module_fields(module), "per_page": PAGE_SIZE}
        next(iter(self.pages(f"/crm/{API_VERSION}/{module.api_name}", params=params)), None)


ZOHO_CRM = Preset(
    slug="zoho_crm",
    name="Zoho CRM",
    description=gettext_noop(
        "Zoho CRM contacts, leads and accounts (Records API v8, OAuth 2.0, every data centre)."
    ),
    settings=(
        SettingField(
            "data_centre",
            gettext_noop("Data centre"),
            SettingKind.CHOICE,
            default=DEFAULT_DATA_CENTRE,
            choices=tuple((domain, label) for domain, label, _ in DATA_CENTRES),
            help_text=gettext_noop(
                "Where your Zoho account lives: the domain you sign in at (crm.zoho.eu is Europe)."
            ),
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("Client ID"),
            help_text=gettext_noop(
                "Of a server-based client in the Zoho API console (api-console.zoho.com)."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "org_id",
            gettext_noop("Organization ID"),
            required=False,
            help_text=gettext_noop(
                "Optional: adds /org<id>/ to record links (for users of several Zoho CRM orgs)."
            ),
        ),
    ),
    connector_class=ZohoConnector,
    record_types=("contact", "lead", "company"),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job title")),
        RecordField("RecordType", gettext_noop("Record type")),
    ),
    default_notification_fields=("DisplayName", "Company"),
    default_scripts=(
        DefaultScript("Open record", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),
        DefaultScript(
            "Create contact",
            "https://crm.{data_centre}/crm/tab/Contacts/create?Phone=#(Caller number:E164)",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    keywords=("zoho", "zoho crm", "zoho one", "zohoapis", "crm.zoho"),
    docs_url="https://www.zoho.com/crm/developer/docs/api/v8/get-records.html",
    credentials_url="https://www.zoho.com/crm/developer/docs/api/v8/register-client.html",
    auth_methods=("OAuth 2.0",),
    paging="page token (info.next_page_token), 200 per page",
    category="CRM",
)
