"""Salesforce: Contacts, Leads and Accounts through the REST API (SOQL query, SOSL search).

Auth is OAuth 2.0 web server flow (authorization code with PKCE) against the login host the
admin picks (login.salesforce.com, test.salesforce.com for sandboxes, or the org's My Domain);
the token answer's `instance_url` is the API host every request goes to.
Listing: `GET {instance_url}/services/data/v{version}/query?q=SELECT ... FROM Contact`, then the
`nextRecordsUrl` of each batch until `done` is true (up to 2,000 records a batch).
Changes: the same queries with `WHERE SystemModstamp >= {since}`, and deletions from
`GET /sobjects/{Object}/deleted/?start=&end=` (the delete log, at most 15 days back).
Throttling: the org's daily API allocation used up is HTTP 403 with
`[{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]`; an expired session is HTTP 401 with
`[{"errorCode": "INVALID_SESSION_ID"}]`. Salesforce tokens carry no `expires_in`, so the
connector refreshes the token once when the session is reported expired.

Sources:
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html ,
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.html ,
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-search.html ,
https://developer.salesforce.com/docs/platform/api-rest/guide/errorcodes.html ,
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm .
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import phonenumbers
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_path_first, json_text
from integrations.oauth import INTEGRATION_ID_SETTING, OAuth2, OAuth2Config, refresh_access_token
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Salesforce"
DEFAULT_API_VERSION = "66.0"
MY_DOMAIN = "my_domain"
LOGIN_HOSTS = (
    ("https://login.salesforce.com", "Production (login.salesforce.com)"),
    ("https://test.salesforce.com", "Sandbox (test.salesforce.com)"),
    (MY_DOMAIN, "My Domain (the Salesforce address below)"),
)
# getDeleted answers for no more than 15 days before the day of the call; stay inside that.
DELETED_LOG_DAYS = 14
_API_VERSION = re.compile(r"^\d{2,3}\.0$")


@dataclass(frozen=True)
class SObject:
    """A Salesforce object the connector lists: its API name, our record type, its phone fields
    with their type labels, the other fields it selects, and a SOQL condition ("" for none)."""

    name: str
    record_type: str
    phones: tuple[tuple[str, str], ...]
    select: tuple[str, ...]
    company: str
    where: str = ""


# Standard fields per the Object Reference (Contact, Lead, Account); match order.
SOBJECTS: tuple[SObject, ...] = (
    SObject(
        "Contact",
        "contact",
        phones=(
            ("Phone", "work"),
            ("MobilePhone", "mobile"),
            ("HomePhone", "home"),
            ("OtherPhone", "other"),
            ("AssistantPhone", "assistant"),
        ),
        select=("Email", "Title", "Account.Name"),
        company="Account.Name",
    ),
    # Converted leads live on as contacts/accounts: only open leads are listed.
    SObject(
        "Lead",
        "lead",
        phones=(("Phone", "work"), ("MobilePhone", "mobile")),
        select=("Email", "Title", "Company", "IsConverted"),
        company="Company",
        where="IsConverted = false",
    ),
    SObject("Account", "company", phones=(("Phone", "work"),), select=(), company="Name"),
)
_BY_NAME = {sobject.name: sobject for sobject in SOBJECTS}


def soql(sobject: SObject, *, since: dt.datetime | None = None) -> str:
    """The SOQL query listing `sobject` ("SELECT Id, Name, ... FROM Contact"), changed at or after
    `since` (aware) when given: `SystemModstamp >= 2026-03-10T09:00:00Z` (SOQL dateTime literal)."""
    fields = ", ".join(("Id", "Name", *(f for f, _ in sobject.phones), *sobject.select, "SystemModstamp"))
    conditions = [c for c in (sobject.where,) if c]
    if since is not None:
        if sobject.where:
            conditions = []  # a lead converted since then is reported deleted (see iter_changes)
        conditions.append(f"SystemModstamp >= {_stamp(since)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # SOQL from our own constants and a formatted time: nothing from outside goes in.
    return f"SELECT {fields} FROM {sobject.name}{where}"  # noqa: S608


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sosl_phone_search(e164: str) -> str:
    """The SOSL statement finding `e164` in the phone fields of contacts, open leads and accounts.

    Searches the E.164 digits and the national form's digits ("31201234567" OR "0201234567"),
    as stored values are free text. Reserved SOSL characters cannot occur (digits only).
    """
    digits = re.sub(r"\D", "", e164)
    terms = [digits]
    try:
        national = re.sub(
            r"\D",
            "",
            phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL),
        )
    except phonenumbers.NumberParseException:
        national = ""
    if national and national != digits:
        terms.append(national)
    returning = ", ".join(
        f"{s.name}({', '.join(('Id', 'Name', *(f for f, _ in s.phones), *s.select))}"
        f"{' WHERE ' + s.where if s.where else ''})"
        for s in SOBJECTS
    )
    return f"FIND {{{' OR '.join(terms)}}} IN PHONE FIELDS RETURNING {returning}"


def _error_codes(response: httpx.Response) -> set[str]:
    """The `errorCode`s of a Salesforce error answer (`[{"message": ..., "errorCode": ...}]`)."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return set()
    items = body if isinstance(body, list) else [body]
    return {str(item.get("errorCode", "")) for item in items if isinstance(item, dict)}


def _login_host(settings: Mapping[str, Any]) -> str:
    chosen = str(settings.get("login_host", "") or "").strip()
    if chosen == MY_DOMAIN:
        return str(settings.get("my_domain_url", "") or "").strip().rstrip("/")
    known = {value for value, _ in LOGIN_HOSTS}
    return chosen if chosen in known else LOGIN_HOSTS[0][0]


class SalesforceConnector(HttpConnector):
    """Lists Salesforce Contacts, open Leads and Accounts with their phone numbers (see module)."""

    what = WHAT
    base_url_setting = "my_domain_url"
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = self.oauth_config(self.settings)
        self.oauth = OAuth2(self.config)
        self.auth = self.oauth
        version = (self.settings.get("api_version") or "").strip() or DEFAULT_API_VERSION
        self.api = f"/services/data/v{version.removeprefix('v')}"
        self._session_expired = False
        self._refreshed = False

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """OAuth 2.0 web server flow at the chosen login host; the token answer's `instance_url`
        is the API host. Scopes `api refresh_token`; client id and secret (the connected app's
        consumer key and secret) sent in the form (`client_secret_post`)."""
        host = _login_host(settings).replace("{", "{{").replace("}", "}}")
        return OAuth2Config(
            authorize_url=f"{host}/services/oauth2/authorize",
            token_url=f"{host}/services/oauth2/token",
            scopes=("api", "refresh_token"),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            instance_url_field="instance_url",
        )

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """The API version must look like "66.0"; the Salesforce address must be an https address
        without a path (it prefixes the screen-pop scripts' links)."""
        problems: dict[str, str] = {}
        version = (settings.get("api_version") or "").strip().removeprefix("v")
        if version and not _API_VERSION.match(version):
            problems["api_version"] = gettext('write the REST API version like "66.0".')
        address = urlsplit((settings.get("my_domain_url") or "").strip())
        if address.scheme != "https" or not address.hostname or address.path or address.query:
            problems["my_domain_url"] = gettext(
                "give only the https address, like https://acme.my.salesforce.com."
            )
        return problems

    # --- Salesforce's own signals

    def is_throttled(self, response: httpx.Response) -> bool:
        """HTTP 403 with errorCode `REQUEST_LIMIT_EXCEEDED`: the org's API allocation (24 h) or
        its concurrent long-running request limit is used up."""
        return response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in _error_codes(response)

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        self._session_expired = response.status_code == 401 and "INVALID_SESSION_ID" in _error_codes(response)
        return super()._response_error(response, retry_after=retry_after)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """`HttpConnector.request`, and once per connector: after a 401 `INVALID_SESSION_ID` (the
        session timed out; Salesforce's token answer has no lifetime) the token is refreshed and
        the request sent again. Raises `ConnectorError` as `HttpConnector.request` does."""
        try:
            return super().request(method, path_or_url, params=params, json=json, headers=headers)
        except ConnectorError:
            expired, self._session_expired = self._session_expired, False
            if not expired or self._refreshed or not self._refresh_session():
                raise
        return super().request(method, path_or_url, params=params, json=json, headers=headers)

    def _refresh_session(self) -> bool:
        """Refresh the stored token of this integration; False without one (the wizard's test)."""
        integration_id = str(self.settings.get(INTEGRATION_ID_SETTING, "") or "")
        if not integration_id.isdigit():
            return False
        self._refreshed = True
        stale = self.oauth.token(self.auth_settings())
        refresh_access_token(int(integration_id), self.config, settings=self.settings, stale=stale)
        return True

    def _items(self, document: Any, items: str, *, url: str) -> list[Any]:
        """The batch's `records`; a batch that says `done: false` without a `nextRecordsUrl` is
        not a Salesforce answer (temporary `ConnectorError`: the listing is incomplete)."""
        page = super()._items(document, items, url=url)
        if items == "records" and document.get("done") is False and not document.get("nextRecordsUrl"):
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s said more records follow but sent no nextRecordsUrl (%(url)s)."),
                    what=WHAT,
                    url=url,
                )
            )
        return page

    # --- Listing

    def pages(self, sobject: SObject, *, since: dt.datetime | None = None) -> Iterator[list[Any]]:
        """The query batches of `sobject` (see `soql`), following `nextRecordsUrl`."""
        return self.pages_by_next_link(
            f"{self.api}/query",
            params={"q": soql(sobject, since=since)},
            items="records",
            next_link="nextRecordsUrl",
        )

    def test_connection(self) -> None:
        """Run the Contact query's first batch. Raises `ConnectorError` (see `request`)."""
        next(self.pages(SOBJECTS[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield every Contact, open Lead and Account with a phone number (see `record`).

        Raises `ConnectorError` as `request` and `pages_by_next_link` do.
        """
        for sobject in SOBJECTS:
            for page in self.pages(sobject):
                for item in page:
                    record = self.record(item, sobject)
                    if record is not None:
                        yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Records whose `SystemModstamp` is at or after `since`; a converted lead as a
        `DeletedRecord` (it lives on as a contact); then the delete log of each object from
        `since` (at most 14 days back; older deletions are left to the nightly full sync) to now.
        Raises `ConnectorError` as `iter_records` does, and for a delete log answer that is not
        `{"deletedRecords": [...]}`."""
        for sobject in SOBJECTS:
            for page in self.pages(sobject, since=since):
                for item in page:
                    converted = sobject.where and isinstance(item, dict) and item.get("IsConverted") is True
                    if converted and isinstance(item, dict) and json_text(item.get("Id")):
                        yield DeletedRecord(id=json_text(item.get("Id")), type=sobject.record_type)
                        continue
                    record = self.record(item, sobject)
                    if record is not None:
                        yield record
        now = dt.datetime.now(dt.UTC)
        # The delete log ignores seconds and wants end after start: ask at least the last minute.
        start = max(since.astimezone(dt.UTC), now - dt.timedelta(days=DELETED_LOG_DAYS))
        start = min(start, now - dt.timedelta(minutes=1))
        window = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "end": now.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        }
        for sobject in SOBJECTS:
            path = f"{self.api}/sobjects/{sobject.name}/deleted/"
            for item in self._items(self.get_json(path, params=window), "deletedRecords", url=path):
                record_id = json_text(item.get("id")) if isinstance(item, dict) else ""
                if record_id:
                    yield DeletedRecord(id=record_id, type=sobject.record_type)
                else:
                    yield SkippedRecord(reason=f"a deleted {sobject.name} has no id")

    def lookup(self, e164: str) -> list[CrmRecord]:
        """SOSL `FIND {digits OR national} IN PHONE FIELDS RETURNING Contact(...), Lead(...),
        Account(...)` (see `sosl_phone_search`); the `searchRecords` as records.
        Raises `ConnectorError` as `request` does."""
        path = f"{self.api}/search/"
        document = self.get_json(path, params={"q": sosl_phone_search(e164)})
        found: list[CrmRecord] = []
        for item in self._items(document, "searchRecords", url=path):
            kind = json_text(json_path_first(item, "attributes.type")) if isinstance(item, dict) else ""
            sobject = _BY_NAME.get(kind)
            record = self.record(item, sobject) if sobject else None
            if isinstance(record, CrmRecord):
                found.append(record)
        return found

    def record(self, item: Any, sobject: SObject) -> CrmRecord | SkippedRecord | None:
        """One query record: `Id`, `Name`, the phone fields with their labels (work, mobile, home,
        other, assistant); fields Email, Company (the contact's Account.Name, the lead's Company,
        the account's Name), JobTitle (Title), SalesforceObject. URL: the Lightning record page
        `{instance_url}/lightning/r/{Object}/{Id}/view`. None for a record without numbers."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a {sobject.name} is not a JSON object but {type(item).__name__}")
        record_id = json_text(item.get("Id"))
        if not record_id or not re.fullmatch(r"[A-Za-z0-9]{15}|[A-Za-z0-9]{18}", record_id):
            return SkippedRecord(reason=f"a {sobject.name} has no valid Id", id=record_id)
        phones = tuple(
            RecordPhone(number=json_text(item.get(name)), type=label)
            for name, label in sobject.phones
            if json_text(item.get(name))
        )
        if not phones:
            return None
        name = json_text(item.get("Name"))
        url = f"{self.base_url.rstrip('/')}/lightning/r/{sobject.name}/{record_id}/view"
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": json_text(item.get("Email")),
            "Company": json_text(json_path_first(item, sobject.company)),
            "JobTitle": json_text(item.get("Title")),
            "SalesforceObject": sobject.name,
        }
        return CrmRecord(
            id=record_id, type=sobject.record_type, display_name=name, phones=phones, url=url, fields=fields
        )


SALESFORCE = Preset(
    slug="salesforce",
    name="Salesforce",
    description=gettext_noop(
        "Salesforce Sales Cloud / Service Cloud: contacts, open leads and accounts (OAuth 2.0)."
    ),
    settings=(
        SettingField(
            "my_domain_url",
            gettext_noop("Salesforce address (My Domain)"),
            SettingKind.URL,
            placeholder="https://acme.my.salesforce.com",
            help_text=gettext_noop(
                "Setup > My Domain shows it. The screen pop and the Create contact link open here."
            ),
        ),
        SettingField(
            "login_host",
            gettext_noop("Log in at"),
            SettingKind.CHOICE,
            default=LOGIN_HOSTS[0][0],
            choices=LOGIN_HOSTS,
            help_text=gettext_noop(
                "Sandboxes log in at test.salesforce.com; orgs that block it, at their My Domain."
            ),
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("Consumer key"),
            help_text=gettext_noop(
                "Of the connected app (or external client app) with the scopes api and refresh_token."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Consumer secret"), SettingKind.SECRET),
        SettingField(
            "api_version",
            gettext_noop("REST API version"),
            required=False,
            default=DEFAULT_API_VERSION,
            help_text=gettext_noop("Like 66.0; every org supports the versions of the last years."),
        ),
    ),
    default_scripts=(
        DefaultScript("Open in Salesforce", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        DefaultScript(
            "Create contact in Salesforce",
            "{my_domain_url}/lightning/o/Contact/new?defaultFieldValues=Phone=#(Caller number:E164)",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    connector_class=SalesforceConnector,
    record_types=("contact", "lead", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company (account)")),
        RecordField("JobTitle", gettext_noop("Title")),
        RecordField("SalesforceObject", gettext_noop("Salesforce object (Contact, Lead, Account)")),
    ),
    default_notification_fields=("Company", "JobTitle"),
    keywords=("salesforce", "sfdc", "sales cloud", "service cloud", "force.com", "lightning", "crm"),
    docs_url="https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html",
    credentials_url="https://help.salesforce.com/s/articleView?id=sf.connected_app_create_api_integration.htm",
    auth_methods=("OAuth 2.0",),
    paging="query locator (nextRecordsUrl until done)",
    category="CRM",
)
