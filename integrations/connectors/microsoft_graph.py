"""Microsoft 365 contacts (Outlook / Exchange Online) through Microsoft Graph.

What a tenant admin usually wants on the phone system is the contacts of one or a few
mailboxes, typically a shared "company contacts" mailbox, without anyone signing in: app-only
access (client credentials, application permission `Contacts.Read`, which Exchange application
access policies or RBAC for Applications can narrow to those mailboxes) reading
`GET /v1.0/users/{mailbox}/contacts`. The alternative is one user's own contacts with delegated
access (authorization code, `Contacts.Read offline_access`, Connect) reading `/me/contacts`.
Only the default Contacts folder is listed (not its subfolders).

Paging follows `@odata.nextLink`; phone numbers are `businessPhones[]`, `homePhones[]` and
`mobilePhone` (v1.0 contact resource). Throttling is HTTP 429 with `Retry-After` (handled by the
HTTP base). Incremental sync: contacts delta queries need a stored delta token per folder, which
the platform's `iter_changes(since)` does not carry, so only nightly full syncs run. Outlook on
the web has no documented link to one contact, so records have no URL; the default script
opens Outlook's People page.

Sources: https://learn.microsoft.com/graph/api/user-list-contacts ,
https://learn.microsoft.com/graph/api/resources/contact ,
https://learn.microsoft.com/graph/paging , https://learn.microsoft.com/graph/throttling ,
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow ,
https://learn.microsoft.com/graph/deployments (national cloud hosts).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_text
from integrations.oauth import CLIENT_CREDENTIALS, OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Microsoft Graph"
PAGE_SIZE = 100
SELECT = ",".join(
    [
        "id",
        "displayName",
        "givenName",
        "surname",
        "companyName",
        "jobTitle",
        "emailAddresses",
        "businessPhones",
        "homePhones",
        "mobilePhone",
    ]
)
AUTH_KINDS = (
    (CLIENT_CREDENTIALS, "App-only (client credentials): the contacts of the mailboxes below"),
    ("authorization_code", "Signed-in user (authorization code, Connect): that user's contacts"),
)
# National clouds: the sign-in authority and the Graph host of each (learn.microsoft.com/graph/deployments).
CLOUDS = {
    "global": ("login.microsoftonline.com", "graph.microsoft.com"),
    "usgov": ("login.microsoftonline.us", "graph.microsoft.us"),
    "usgov_dod": ("login.microsoftonline.us", "dod-graph.microsoft.us"),
    "china": ("login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn"),
}
CLOUD_CHOICES = (
    ("global", "Global (graph.microsoft.com)"),
    ("usgov", "US Government L4 / GCC High (graph.microsoft.us)"),
    ("usgov_dod", "US Government L5 / DoD (dod-graph.microsoft.us)"),
    ("china", "China, operated by 21Vianet (microsoftgraph.chinacloudapi.cn)"),
)
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
_MAILBOX = re.compile(r"^[^\s/?#@]+@[A-Za-z0-9.-]+$|^[0-9a-fA-F-]{36}$")


def _cloud(settings: Mapping[str, Any]) -> tuple[str, str]:
    return CLOUDS.get(str(settings.get("cloud", "") or "").strip(), CLOUDS["global"])


def mailboxes(settings: Mapping[str, Any]) -> list[str]:
    """The mailboxes of the `mailboxes` setting (user principal names or object ids), in order."""
    text = str(settings.get("mailboxes", "") or "")
    return list(dict.fromkeys(part.strip() for part in re.split(r"[,;\s]+", text) if part.strip()))


class MicrosoftGraphConnector(HttpConnector):
    """Lists the Outlook contacts of the configured mailboxes (or the signed-in user's)."""

    what = WHAT

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = self.oauth_config(self.settings)
        self.auth = OAuth2(self.config)
        self.instance_url = f"https://{_cloud(self.settings)[1]}"
        self.app_only = not self.config.needs_connect

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """Microsoft identity platform v2.0 endpoints of the tenant in the chosen cloud. App-only:
        scope `https://{graph}/.default` (the application permissions granted, Contacts.Read);
        signed-in user: `https://{graph}/Contacts.Read offline_access`. Secret in the form."""
        login, graph = _cloud(settings)
        tenant = str(settings.get("tenant_id", "") or "").strip()
        tenant = tenant if _TENANT.match(tenant) else "invalid-tenant"
        config = OAuth2Config(
            authorize_url=f"https://{login}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"https://{login}/{tenant}/oauth2/v2.0/token",
            scopes=(f"https://{graph}/Contacts.Read", "offline_access"),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
        )
        if str(settings.get("auth_kind", "") or "").strip() == "authorization_code":
            return config
        return dataclasses.replace(config, scopes=(f"https://{graph}/.default",), grant=CLIENT_CREDENTIALS)

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """App-only access needs at least one mailbox, each a user principal name or object id;
        the tenant is a GUID or a domain."""
        problems: dict[str, str] = {}
        if not _TENANT.match((settings.get("tenant_id") or "").strip()):
            problems["tenant_id"] = gettext(
                "give the directory (tenant) id, a GUID, or a domain like contoso.onmicrosoft.com."
            )
        if (settings.get("auth_kind") or CLIENT_CREDENTIALS).strip() == CLIENT_CREDENTIALS:
            boxes = mailboxes(settings)
            if not boxes:
                problems["mailboxes"] = gettext(
                    "app-only access reads the contacts of the mailboxes named here."
                )
            elif bad := [m for m in boxes if not _MAILBOX.match(m)]:
                problems["mailboxes"] = gettext(
                    "%(value)s is not a mailbox address like contacts@contoso.com."
                ) % {"value": bad[0]}
        return problems

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        if response.status_code == 404 and self.app_only:
            return ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s found no such mailbox (HTTP 404) at %(path)s: check the "
                        "mailbox addresses in the settings."
                    ),
                    what=WHAT,
                    path=response.request.url.path,
                ),
                permanent=True,
            )
        return super()._response_error(response, retry_after=retry_after)

    def contact_lists(self) -> list[str]:
        """The contacts paths to list: `/v1.0/users/{mailbox}/contacts` per mailbox (app-only),
        else `/v1.0/me/contacts`. Raises a permanent `ConnectorError` for app-only access
        without mailboxes."""
        if not self.app_only:
            return ["/v1.0/me/contacts"]
        boxes = mailboxes(self.settings)
        if not boxes:
            raise ConnectorError(
                Text(gettext_noop("%(what)s: name the mailboxes whose contacts to read."), what=WHAT),
                permanent=True,
            )
        return [f"/v1.0/users/{quote(box, safe='@')}/contacts" for box in boxes]

    def pages(self, path: str) -> Iterator[list[Any]]:
        """The contact pages of `path`, following `@odata.nextLink`."""
        return self.pages_by_next_link(
            path, params={"$select": SELECT, "$top": PAGE_SIZE}, items="value", next_link="@odata.nextLink"
        )

    def test_connection(self) -> None:
        """Read the first contact page of the first mailbox. Raises `ConnectorError`."""
        next(self.pages(self.contact_lists()[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield every contact with a phone number of each mailbox in turn (see `record`).
        Raises `ConnectorError` as `request` and `pages_by_next_link` do."""
        for path in self.contact_lists():
            for page in self.pages(path):
                for item in page:
                    record = self.record(item)
                    if record is not None:
                        yield record

    def record(self, item: Any) -> CrmRecord | SkippedRecord | None:
        """One contact: `id`, `displayName` (else given name and surname), phones
        `businessPhones[]` (work), `mobilePhone` (mobile), `homePhones[]` (home); fields Email
        (the first of `emailAddresses`), Company (`companyName`), JobTitle. No URL (see module)."""
        if not isinstance(item, dict):
            return SkippedRecord(reason="a contact is not a JSON object")
        contact_id = json_text(item.get("id"))
        if not contact_id:
            return SkippedRecord(reason="a contact has no id")
        numbers: list[tuple[Any, str]] = [(n, "work") for n in _list(item.get("businessPhones"))]
        numbers.append((item.get("mobilePhone"), "mobile"))
        numbers += [(n, "home") for n in _list(item.get("homePhones"))]
        phones = tuple(RecordPhone(number=json_text(n), type=label) for n, label in numbers if json_text(n))
        if not phones:
            return None
        name = json_text(item.get("displayName")) or " ".join(
            t for t in (json_text(item.get("givenName")), json_text(item.get("surname"))) if t
        )
        emails = _list(item.get("emailAddresses"))
        email = json_text(emails[0].get("address")) if emails and isinstance(emails[0], dict) else ""
        fields = {
            "DisplayName": name,
            "Identifier": contact_id,
            "PopUpUri": "",
            "Email": email,
            "Company": json_text(item.get("companyName")),
            "JobTitle": json_text(item.get("jobTitle")),
        }
        return CrmRecord(id=contact_id, type="contact", display_name=name, phones=phones, fields=fields)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


MICROSOFT_GRAPH = Preset(
    slug="microsoft365_contacts",
    name="Microsoft 365 contacts (Outlook)",
    description=gettext_noop(
        "Outlook / Exchange Online contacts of shared or user mailboxes, through Microsoft Graph."
    ),
    settings=(
        SettingField(
            "auth_kind",
            gettext_noop("Access"),
            SettingKind.CHOICE,
            default=CLIENT_CREDENTIALS,
            choices=AUTH_KINDS,
        ),
        SettingField(
            "mailboxes",
            gettext_noop("Mailboxes"),
            required=False,
            placeholder="contacts@contoso.com, reception@contoso.com",
            help_text=gettext_noop(
                "For app-only access: the mailboxes whose Contacts folder is synced, comma-separated. "
                "Limit the app to them with an Exchange application access policy."
            ),
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
                "Of the app registration with the Microsoft Graph permission Contacts.Read "
                "(application permission with admin consent for app-only access)."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "cloud",
            gettext_noop("Microsoft cloud"),
            SettingKind.CHOICE,
            required=False,
            default="global",
            choices=CLOUD_CHOICES,
        ),
    ),
    default_scripts=(
        # Outlook on the web documents no link to one contact: open its People page.
        DefaultScript("Open Outlook People", "https://outlook.office.com/people/", ScriptApplies.ON_MATCH),
    ),
    connector_class=MicrosoftGraphConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company",),
    keywords=(
        "microsoft 365",
        "office 365",
        "m365",
        "o365",
        "outlook",
        "exchange",
        "exchange online",
        "graph",
        "contacts",
        "address book",
        "shared mailbox",
    ),
    docs_url="https://learn.microsoft.com/graph/api/user-list-contacts",
    credentials_url="https://learn.microsoft.com/graph/auth-v2-service",
    auth_methods=("OAuth 2.0 client credentials (app-only)", "OAuth 2.0 authorization code"),
    paging="@odata.nextLink",
    category="Address book",
)
