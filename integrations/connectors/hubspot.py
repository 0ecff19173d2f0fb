"""HubSpot: contacts and companies of the CRM v3 objects API, with a private app token or OAuth 2.0.

API (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide,
https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm):

- One global API host, `https://api.hubapi.com`; the account is implied by the token.
- Auth: a private (legacy) app's access token, or an OAuth 2.0 access token, both as
  `Authorization: Bearer <token>` (https://developers.hubspot.com/docs/methods/OAuth2/using-access-tokens).
- Listing: `GET /crm/v3/objects/{contacts|companies}?limit=100&properties=...&archived=false`
  answers `{"results": [{"id", "properties": {...}, "createdAt", "updatedAt", "archived"}],
  "paging": {"next": {"after", "link"}}}`; the last page has no `paging.next`. Property values are
  strings or null. Phone properties: contacts `phone` (work) and `mobilephone`, companies `phone`.
- Incremental: the list endpoint has no modified-since filter, so changes come from the search
  endpoint `POST /crm/v3/objects/{type}/search` filtered on `lastmodifieddate` (contacts) /
  `hs_lastmodifieddate` (companies) `GTE` the time in epoch milliseconds, sorted ascending. A
  filtered search returns at most 10,000 results: when the paging reaches that cap, the search
  starts again from the last modification time seen (a new window; the records at that exact
  time come twice, which the sync tolerates). Deletions: archived records (`archived=true` on the
  list endpoint) whose `archivedAt` is at or after `since` are reported as `DeletedRecord`s.
- Rate limits: a 429 answers JSON `{"status": "error", "errorType": "RATE_LIMIT",
  "policyName": "DAILY" | "TEN_SECONDLY_ROLLING" | ..., ...}` with `X-HubSpot-RateLimit-*`
  headers and, per the docs, no Retry-After; the secondly window is waited out (10 s), the daily
  limit ends the sync with a retry an hour later (it resets at midnight in the account's zone).
- Record pages in the web UI: `https://{ui domain}/contacts/{hub id}/record/0-1/{id}` (contacts,
  object type 0-1) and `.../record/0-2/{id}` (companies). The hub id (portal id) and the UI
  domain (`app.hubspot.com`, EU-hosted accounts `app-eu1.hubspot.com`) are settings: the admin
  sees both in the browser's address bar; `GET /account-info/v3/details` would return them
  (`portalId`, `uiDomain`) but costs a request and a scope, so it is not called.
- HubSpot has no web URL that opens a new contact form with a number filled in, so the preset
  has no "Create contact" script.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import phonenumbers
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import Bearer, HttpConnector, json_path_first, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

API_URL = "https://api.hubapi.com"
DOCS_URL = "https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide"

AUTH_KINDS = (
    ("private_app", "Private app access token"),
    ("oauth2", "OAuth 2.0 (Connect button, public app)"),
)
UI_DOMAINS = (
    ("app.hubspot.com", "app.hubspot.com (accounts hosted in the US)"),
    ("app-eu1.hubspot.com", "app-eu1.hubspot.com (accounts hosted in the EU)"),
)

# https://developers.hubspot.com/docs/apps/legacy-apps/authentication/working-with-oauth: the
# authorize URL on app.hubspot.com, for one account with its id between /oauth/ and /authorize;
# the token on api.hubapi.com/oauth/v1/token with the client id and secret in the form body. The
# scopes asked for must include every scope the app requires: the fixed ones plus the setting.
HUBSPOT_OAUTH = OAuth2Config(
    authorize_url="https://app.hubspot.com/oauth/{hub_id}/authorize",
    token_url="https://api.hubapi.com/oauth/v1/token",  # noqa: S106 (a URL)
    scopes=("oauth", "crm.objects.contacts.read", "crm.objects.companies.read"),
    scopes_setting="oauth_scopes",
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)

# What each record type lists: the API's object name, the web UI's object type id, the property
# of the last modification, the properties asked for, and the phone properties with their labels.
_TYPES: dict[str, dict[str, Any]] = {
    "contact": {
        "object": "contacts",
        "type_id": "0-1",
        "modified": "lastmodifieddate",
        "properties": ("firstname", "lastname", "email", "phone", "mobilephone", "company", "jobtitle"),
        "phones": (("phone", "work"), ("mobilephone", "mobile")),
    },
    "company": {
        "object": "companies",
        "type_id": "0-2",
        "modified": "hs_lastmodifieddate",
        "properties": ("name", "domain", "phone"),
        "phones": (("phone", "work"),),
    },
}

# A filtered or sorted search returns at most this many results (paging stops there).
SEARCH_RESULT_CAP = 10_000
SEARCH_PAGE_SIZE = 200
# The secondly limit is a rolling 10-second window; the daily one resets at midnight.
SECONDLY_WAIT = 10.0
DAILY_WAIT = 3600.0
_HUB_ID = re.compile(r"^\d{1,12}$")


def hubspot_record_url(*, ui_domain: str, hub_id: str, record_type: str, record_id: str) -> str:
    """The record's page in HubSpot's web UI, e.g.
    `https://app.hubspot.com/contacts/4711/record/0-1/101` ("" without a hub id)."""
    if not hub_id:
        return ""
    type_id = _TYPES[record_type]["type_id"]
    return f"https://{ui_domain or UI_DOMAINS[0][0]}/contacts/{hub_id}/record/{type_id}/{record_id}"


def _millis(moment: dt.datetime) -> str:
    return str(int(moment.astimezone(dt.UTC).timestamp() * 1000))


def _parse_time(text: str) -> dt.datetime | None:
    """An ISO 8601 time of HubSpot ("2026-03-01T09:00:00.000Z") or epoch milliseconds, else None."""
    text = text.strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class HubSpotConnector(HttpConnector):
    """Lists HubSpot contacts, then companies, with their phone numbers (see the module doc)."""

    what = "HubSpot"
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance_url = API_URL
        config = self.oauth_config(self.settings)
        self.auth = OAuth2(config) if config is not None else Bearer(setting="access_token")

    # --- declarations

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config | None:
        """`HUBSPOT_OAUTH` when the auth kind is "oauth2", else None (private app token)."""
        return HUBSPOT_OAUTH if (settings.get("auth_kind") or "").strip() == "oauth2" else None

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A missing private app token, OAuth client id, or a hub id that is not a number."""
        problems: dict[str, str] = {}
        kind = (settings.get("auth_kind") or "private_app").strip()
        if kind not in dict(AUTH_KINDS):
            problems["auth_kind"] = gettext("choose one of %(value)s.") % {
                "value": ", ".join(dict(AUTH_KINDS))
            }
        elif kind == "private_app" and not (settings.get("access_token") or "").strip():
            problems["access_token"] = gettext("a private app needs its access token (pat-...).")
        elif kind == "oauth2" and not (settings.get("oauth_client_id") or "").strip():
            problems["oauth_client_id"] = gettext("OAuth 2.0 needs the app's client id.")
        if not _HUB_ID.match((settings.get("hub_id") or "").strip()):
            problems["hub_id"] = gettext(
                "enter the HubSpot account id (the number after /contacts/ in its URL)."
            )
        return problems

    # --- HubSpot's 429s

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """Retry-After or rate-limit headers when sent; else for a 429 by its `policyName`:
        the daily limit waits `DAILY_WAIT` (more than a sync may, so the sync is retried later),
        the secondly ones `SECONDLY_WAIT`."""
        asked = super()._requested_wait(response)
        if asked is not None or response.status_code != 429:
            return asked
        policy = _policy_name(response)
        if policy == "DAILY":
            return DAILY_WAIT
        return SECONDLY_WAIT if policy else None

    # --- records

    def record(self, record_type: str, item: Any) -> CrmRecord | SkippedRecord | None:
        """One listed or searched object as a `CrmRecord`; a `SkippedRecord` when it is not an
        object with an id and a `properties` object; None when it has no phone number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"the {record_type} is not a JSON object")
        record_id = json_text(item.get("id"))
        properties = item.get("properties")
        if not record_id or not isinstance(properties, dict):
            return SkippedRecord(reason=f"the {record_type} has no id or no properties", id=record_id)

        def text(name: str) -> str:
            return json_text(properties.get(name))

        phones = tuple(
            RecordPhone(number=text(name), type=label)
            for name, label in _TYPES[record_type]["phones"]
            if text(name)
        )
        if not phones:
            return None
        if record_type == "contact":
            name = " ".join(t for t in (text("firstname"), text("lastname")) if t) or text("email")
            company = text("company")
        else:
            name = text("name") or text("domain")
            company = text("name")
        url = hubspot_record_url(
            ui_domain=(self.settings.get("ui_domain") or "").strip(),
            hub_id=(self.settings.get("hub_id") or "").strip(),
            record_type=record_type,
            record_id=record_id,
        )
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": text("email"),
            "Company": company,
            "JobTitle": text("jobtitle"),
        }
        return CrmRecord(
            id=record_id, type=record_type, display_name=name, phones=phones, url=url, fields=fields
        )

    def pages(self, record_type: str, *, archived: bool = False) -> Iterator[list[Any]]:
        """The list endpoint's pages of one record type (`archived` lists the deleted ones)."""
        spec = _TYPES[record_type]
        return self.pages_by_cursor(
            f"/crm/v3/objects/{spec['object']}",
            items="results",
            cursor="paging.next.after",
            cursor_param="after",
            size_param="limit",
            params={"properties": ",".join(spec["properties"]), "archived": "true" if archived else "false"},
        )

    def test_connection(self) -> None:
        """One request: the first page of contacts. Raises `ConnectorError` as `request` does."""
        next(self.pages("contact"), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact, then every company, with a phone number (see `record`).

        Raises `ConnectorError` as `HttpConnector.request` and `pages_by_cursor` do.
        """
        for record_type in _TYPES:
            for page in self.pages(record_type):
                for item in page:
                    record = self.record(record_type, item)
                    if record is not None:
                        yield record

    def search(self, record_type: str, body: Mapping[str, Any]) -> Any:
        """`POST /crm/v3/objects/{type}/search` with `body`; the decoded answer."""
        path = f"/crm/v3/objects/{_TYPES[record_type]['object']}/search"
        return self.response_json(self.request("POST", path, json=dict(body)))

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """Contacts, then companies, modified at or after `since` (search API, sorted by the
        modification time, restarted from the last time seen when paging reaches the 10,000
        result cap), then a `DeletedRecord` per archived record archived at or after `since`.

        Raises `ConnectorError` as `request` does, when a search page has no `results` list,
        or when more than 10,000 records share one modification time (no window can pass them).
        """
        for record_type in _TYPES:
            yield from self._changed(record_type, since)
        for record_type in _TYPES:
            for page in self.pages(record_type, archived=True):
                for item in page:
                    archived_at = (
                        _parse_time(json_text(item.get("archivedAt"))) if isinstance(item, dict) else None
                    )
                    record_id = json_text(item.get("id")) if isinstance(item, dict) else ""
                    if record_id and archived_at is not None and archived_at >= since:
                        yield DeletedRecord(id=record_id, type=record_type)

    def _changed(self, record_type: str, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        spec = _TYPES[record_type]
        modified = spec["modified"]
        window = _millis(since)
        after = ""
        seen: set[tuple[str, str]] = set()
        last_time = ""
        for _ in range(self.max_pages):
            body: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": modified, "operator": "GTE", "value": window}]}
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": [*spec["properties"], modified],
                "limit": SEARCH_PAGE_SIZE,
            }
            if after:
                body["after"] = after
            document = self.search(record_type, body)
            for item in self._items(document, "results", url=f"{spec['object']}/search"):
                record = self.record(record_type, item)
                if record is not None:
                    yield record
                if isinstance(item, dict) and isinstance(item.get("properties"), dict):
                    stamp = _parse_time(json_text(item["properties"].get(modified)))
                    if stamp is not None:
                        last_time = _millis(stamp)
            after = json_text(json_path_first(document, "paging.next.after"))
            if not after:
                return
            if after.isdigit() and int(after) + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP:
                # The next page would pass the cap: a new window from the last time seen.
                if not last_time or int(last_time) <= int(window):
                    raise ConnectorError(
                        Text(
                            gettext_noop(
                                "%(what)s has more than %(search_result_cap)s %(object)s changed at "
                                "the same moment; the changes cannot be listed, the nightly full sync "
                                "lists them."
                            ),
                            what=self.what,
                            search_result_cap=SEARCH_RESULT_CAP,
                            object=spec["object"],
                        ),
                    )
                window, after = last_time, ""
            if (window, after) in seen:
                raise self._repeated()
            seen.add((window, after))
        raise self._too_many_pages()

    def lookup(self, e164: str) -> list[CrmRecord]:
        """Contacts, then companies, whose phone properties hold `e164`: one search per type with
        OR-ed filter groups, `phone`/`mobilephone` equal to the E.164 text and HubSpot's
        calculated `hs_searchable_calculated_phone_number`/`..._mobile_number` (digits without
        the country code) equal to the national number. Records with other formatting may be
        missed (the phone cache finds them). Raises `ConnectorError` as `request` does.
        """
        try:
            national = str(phonenumbers.parse(e164).national_number)
        except phonenumbers.NumberParseException:
            national = re.sub(r"\D", "", e164)
        found: list[CrmRecord] = []
        for record_type, spec in _TYPES.items():
            groups = [
                {"filters": [{"propertyName": name, "operator": "EQ", "value": e164}]}
                for name, _ in spec["phones"]
            ]
            calculated = ["hs_searchable_calculated_phone_number"]
            if record_type == "contact":
                calculated.append("hs_searchable_calculated_mobile_number")
            groups += [
                {"filters": [{"propertyName": name, "operator": "EQ", "value": national}]}
                for name in calculated
            ]
            body = {"filterGroups": groups, "properties": list(spec["properties"]), "limit": 20}
            document = self.search(record_type, body)
            for item in self._items(document, "results", url=f"{spec['object']}/search"):
                record = self.record(record_type, item)
                if isinstance(record, CrmRecord):
                    found.append(record)
        return found


def _policy_name(response: httpx.Response) -> str:
    """The `policyName` of HubSpot's 429 body ("DAILY", "TEN_SECONDLY_ROLLING"...), "" if none."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ""
    return json_text(body.get("policyName")) if isinstance(body, dict) else ""


HUBSPOT = Preset(
    slug="hubspot",
    name="HubSpot",
    description=gettext_noop("HubSpot CRM contacts and companies, with a private app token or OAuth 2.0."),
    settings=(
        SettingField(
            "auth_kind",
            gettext_noop("Authentication"),
            SettingKind.CHOICE,
            default="private_app",
            choices=AUTH_KINDS,
        ),
        SettingField(
            "access_token",
            gettext_noop("Private app access token"),
            SettingKind.SECRET,
            required=False,
            placeholder="pat-eu1-...",
            help_text=gettext_noop(
                "Settings > Integrations > Private apps; scopes crm.objects.contacts.read and "
                "crm.objects.companies.read."
            ),
        ),
        SettingField(
            "hub_id",
            gettext_noop("HubSpot account id (Hub ID)"),
            placeholder="4711",
            help_text=gettext_noop(
                "The number after /contacts/ in HubSpot's address bar; used for links to records."
            ),
        ),
        SettingField(
            "ui_domain",
            gettext_noop("HubSpot web address"),
            SettingKind.CHOICE,
            default="app.hubspot.com",
            choices=UI_DOMAINS,
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("OAuth client id"),
            required=False,
            help_text=gettext_noop("For OAuth 2.0."),
        ),
        SettingField(
            "oauth_client_secret", gettext_noop("OAuth client secret"), SettingKind.SECRET, required=False
        ),
        SettingField(
            "oauth_scopes",
            gettext_noop("More OAuth scopes"),
            required=False,
            help_text=gettext_noop(
                "Other scopes your HubSpot app requires, space-separated (the contact and company "
                "read scopes and oauth are always asked for)."
            ),
        ),
    ),
    default_scripts=(DefaultScript("Open in HubSpot", "$(PopUpUri)", ScriptApplies.ON_MATCH),),
    connector_class=HubSpotConnector,
    record_types=("contact", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company",),
    keywords=("hubspot", "hub spot", "hubapi", "sales hub", "crm"),
    docs_url=DOCS_URL,
    credentials_url="https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview",
    auth_methods=("Private app token", "OAuth 2.0"),
    paging="cursor (after)",
    category="CRM",
)
