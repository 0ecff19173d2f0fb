"""Microsoft Dynamics 365 / Dataverse: contacts, open leads and accounts through the Web API.

Every environment has its own organization URL (`https://contoso.crm4.dynamics.com`); the Web
API is `{org}/api/data/v9.2/`. Auth is OAuth 2.0 through the Microsoft identity platform:
client credentials for an application user (`scope={org}/.default`, no Connect), or the
authorization code flow for a signed-in user (Connect). Listing: `GET /contacts?$select=...` with
`Prefer: odata.maxpagesize=500`, following `@odata.nextLink` (the `$skiptoken` paging cookie;
`$skip` is not supported). Changes: `$filter=modifiedon ge {since}`. Throttling: the service
protection limits answer HTTP 429 with `Retry-After` (handled by the HTTP base).

Sources: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results ,
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits ,
https://learn.microsoft.com/power-apps/developer/data-platform/authenticate-oauth ,
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow ,
https://learn.microsoft.com/dynamics365/customer-engagement/developer/
set-field-values-using-parameters-passed-form (the create-contact link).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_text
from integrations.oauth import CLIENT_CREDENTIALS, OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind

WHAT = "Dynamics 365"
API = "/api/data/v9.2"
PAGE_SIZE = 500  # odata.maxpagesize: default and maximum 5,000; smaller pages keep answers light
FORMATTED = "OData.Community.Display.V1.FormattedValue"
HEADERS = {
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "Prefer": f'odata.include-annotations="{FORMATTED}",odata.maxpagesize={PAGE_SIZE}',
}
AUTH_KINDS = (
    (CLIENT_CREDENTIALS, "Application user (client credentials, server to server)"),
    ("authorization_code", "Signed-in user (authorization code, Connect button)"),
)
# Microsoft identity platform authorities: global, US Government (GCC High/DoD), 21Vianet (China).
LOGIN_HOSTS = (
    ("login.microsoftonline.com", "Global (login.microsoftonline.com)"),
    ("login.microsoftonline.us", "US Government (login.microsoftonline.us)"),
    ("login.chinacloudapi.cn", "China, operated by 21Vianet (login.chinacloudapi.cn)"),
)
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Table:
    """A Dataverse table the connector lists: entity set, logical name (`etn`), id and name
    columns, phone columns with type labels, the other columns, our record type."""

    entity_set: str
    logical_name: str
    record_type: str
    id_column: str
    name_column: str
    phones: tuple[tuple[str, str], ...]
    email: str = "emailaddress1"
    job_title: str = ""
    company: str = ""

    @property
    def select(self) -> str:
        """The `$select` list."""
        columns = [self.id_column, self.name_column, *(c for c, _ in self.phones), self.email]
        columns += [c for c in (self.job_title, self.company) if c]
        return ",".join([*columns, "modifiedon", "statecode"])


TABLES: tuple[Table, ...] = (
    Table(
        "contacts",
        "contact",
        "contact",
        "contactid",
        "fullname",
        phones=(
            ("telephone1", "work"),
            ("mobilephone", "mobile"),
            ("telephone2", "home"),
            ("telephone3", "other"),
            ("assistantphone", "assistant"),
            ("managerphone", "manager"),
        ),
        job_title="jobtitle",
        company="_parentcustomerid_value",
    ),
    Table(
        "leads",
        "lead",
        "lead",
        "leadid",
        "fullname",
        phones=(
            ("telephone1", "work"),
            ("mobilephone", "mobile"),
            ("telephone2", "home"),
            ("telephone3", "other"),
        ),
        job_title="jobtitle",
        company="companyname",
    ),
    Table(
        "accounts",
        "account",
        "company",
        "accountid",
        "name",
        phones=(("telephone1", "work"), ("telephone2", "other"), ("telephone3", "other")),
    ),
)


def _org_url(settings: Mapping[str, Any]) -> str:
    return str(settings.get("org_url", "") or "").strip().rstrip("/")


class DynamicsConnector(HttpConnector):
    """Lists active Dataverse contacts, open leads and active accounts (see module)."""

    what = WHAT
    base_url_setting = "org_url"
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth = OAuth2(self.oauth_config(self.settings))
        self.org = _org_url(self.settings)

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """Microsoft identity platform v2.0 endpoints of the tenant at the chosen authority; scope
        `{org}/.default` (plus `offline_access` for a refresh token with the authorization code
        grant); client secret in the form (`client_secret_post`)."""
        known = {value for value, _ in LOGIN_HOSTS}
        host = str(settings.get("login_host", "") or "").strip()
        host = host if host in known else LOGIN_HOSTS[0][0]
        tenant = str(settings.get("tenant_id", "") or "").strip()
        tenant = tenant if _TENANT.match(tenant) else "invalid-tenant"
        org = _org_url(settings).replace("{", "").replace("}", "")
        grant = str(settings.get("auth_kind", "") or "").strip()
        config = OAuth2Config(
            authorize_url=f"https://{host}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"https://{host}/{tenant}/oauth2/v2.0/token",
            scopes=(f"{org}/.default", "offline_access"),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
        )
        if grant == "authorization_code":
            return config
        return dataclasses.replace(config, scopes=(f"{org}/.default",), grant=CLIENT_CREDENTIALS)

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """The organization URL must be an https address without a path; the tenant a GUID or
        a domain name (contoso.onmicrosoft.com)."""
        problems: dict[str, str] = {}
        address = urlsplit((settings.get("org_url") or "").strip())
        if address.scheme != "https" or not address.hostname or address.path.strip("/") or address.query:
            problems["org_url"] = gettext(
                "give only the https address, like https://contoso.crm4.dynamics.com."
            )
        if not _TENANT.match((settings.get("tenant_id") or "").strip()):
            problems["tenant_id"] = gettext(
                "give the directory (tenant) id, a GUID, or a domain like contoso.onmicrosoft.com."
            )
        return problems

    def pages(self, table: Table, *, since: dt.datetime | None = None) -> Iterator[list[Any]]:
        """The pages of `table`'s active rows (changed at or after `since`, any state, when
        given), following `@odata.nextLink`."""
        if since is None:
            condition = "statecode eq 0"
        else:
            condition = f"modifiedon ge {since.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return self.pages_by_next_link(
            f"{API}/{table.entity_set}",
            params={"$select": table.select, "$filter": condition},
            items="value",
            next_link="@odata.nextLink",
            headers=HEADERS,
        )

    def test_connection(self) -> None:
        """Read the first page of contacts. Raises `ConnectorError` (see `request`)."""
        next(self.pages(TABLES[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield every active contact, open lead and active account (`statecode eq 0`) with a
        phone number (see `record`). Raises `ConnectorError` as `request` and
        `pages_by_next_link` do."""
        for table in TABLES:
            for page in self.pages(table):
                for item in page:
                    record = self.record(item, table)
                    if record is not None:
                        yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Rows with `modifiedon` at or after `since`; a row no longer active (deactivated
        contact or account, qualified or disqualified lead) as a `DeletedRecord`. Deleted rows
        are not reported by this filter: the nightly full sync removes them."""
        for table in TABLES:
            for page in self.pages(table, since=since):
                for item in page:
                    row_id = json_text(item.get(table.id_column)) if isinstance(item, dict) else ""
                    if row_id and isinstance(item, dict) and item.get("statecode") not in (0, None):
                        yield DeletedRecord(id=row_id, type=table.record_type)
                        continue
                    record = self.record(item, table)
                    if record is not None:
                        yield record

    def record(self, item: Any, table: Table) -> CrmRecord | SkippedRecord | None:
        """One row: id (a GUID), name, phone columns with labels (work, mobile, home, other,
        assistant, manager); fields Email (emailaddress1), Company (the contact's parent
        customer's formatted name, the lead's companyname, the account's name), JobTitle.
        URL: `{org}/main.aspx?pagetype=entityrecord&etn={table}&id={guid}`."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a {table.logical_name} row is not a JSON object")
        row_id = json_text(item.get(table.id_column))
        if not _GUID.match(row_id):
            return SkippedRecord(reason=f"a {table.logical_name} row has no {table.id_column}", id=row_id)
        phones = tuple(
            RecordPhone(number=json_text(item.get(column)), type=label)
            for column, label in table.phones
            if json_text(item.get(column))
        )
        if not phones:
            return None
        name = json_text(item.get(table.name_column))
        url = f"{self.org}/main.aspx?pagetype=entityrecord&etn={table.logical_name}&id={quote(row_id)}"
        if table.company.startswith("_"):
            company = json_text(item.get(f"{table.company}@{FORMATTED}"))
        else:
            company = json_text(item.get(table.company or table.name_column))
        fields = {
            "DisplayName": name,
            "Identifier": row_id,
            "PopUpUri": url,
            "Email": json_text(item.get(table.email)),
            "Company": company,
            "JobTitle": json_text(item.get(table.job_title)) if table.job_title else "",
            "DataverseTable": table.logical_name,
        }
        return CrmRecord(
            id=row_id, type=table.record_type, display_name=name, phones=phones, url=url, fields=fields
        )


DYNAMICS = Preset(
    slug="dynamics365",
    name="Microsoft Dynamics 365 (Dataverse)",
    description=gettext_noop(
        "Dynamics 365 Sales, Customer Service and other Dataverse apps: contacts, leads, accounts."
    ),
    settings=(
        SettingField(
            "org_url",
            gettext_noop("Organization URL"),
            SettingKind.URL,
            placeholder="https://contoso.crm4.dynamics.com",
            help_text=gettext_noop(
                "Power Platform admin center > Environments > your environment > Environment URL."
            ),
        ),
        SettingField(
            "auth_kind",
            gettext_noop("Sign-in"),
            SettingKind.CHOICE,
            default=CLIENT_CREDENTIALS,
            choices=AUTH_KINDS,
        ),
        SettingField(
            "tenant_id",
            gettext_noop("Directory (tenant) ID"),
            placeholder="00000000-0000-0000-0000-000000000000",
            help_text=gettext_noop(
                "Microsoft Entra admin center > Overview; contoso.onmicrosoft.com works too."
            ),
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("Application (client) ID"),
            help_text=gettext_noop(
                "Of the app registration; for an application user, add it in the environment's "
                "Settings > Users + permissions > Application users with a read role."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "login_host",
            gettext_noop("Microsoft cloud"),
            SettingKind.CHOICE,
            required=False,
            default=LOGIN_HOSTS[0][0],
            choices=LOGIN_HOSTS,
        ),
    ),
    default_scripts=(
        DefaultScript("Open in Dynamics 365", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        DefaultScript(
            "Create contact in Dynamics 365",
            "{org_url}/main.aspx?etn=contact&pagetype=entityrecord"
            "&extraqs=telephone1%3D#(Caller number:E164)",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    connector_class=DynamicsConnector,
    record_types=("contact", "lead", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company (account)")),
        RecordField("JobTitle", gettext_noop("Job title")),
        RecordField("DataverseTable", gettext_noop("Dataverse table (contact, lead, account)")),
    ),
    default_notification_fields=("Company", "JobTitle"),
    keywords=(
        "dynamics",
        "dynamics 365",
        "d365",
        "dataverse",
        "microsoft",
        "crm",
        "power apps",
        "common data service",
        "customer engagement",
    ),
    docs_url="https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results",
    credentials_url="https://learn.microsoft.com/power-platform/admin/manage-application-users",
    auth_methods=("OAuth 2.0 client credentials (application user)", "OAuth 2.0 authorization code"),
    paging="@odata.nextLink (Prefer: odata.maxpagesize)",
    category="CRM",
)
