"""Close (close.com): the contacts of every lead, with an API key.

API (https://developer.close.com/api/overview/llms.txt and the pages named below):

- One host, `https://api.close.com/api/v1/`. Auth: the API key as the HTTP Basic user name with an
  empty password (https://developer.close.com/api/overview/authentication-with-api-keys), or an
  OAuth 2.0 access token as a bearer token: authorize on `https://app.close.com/oauth2/authorize/`,
  token `POST https://api.close.com/oauth2/token/` with the client id and secret in the form body;
  the scopes (`all.full_access offline_access`) come with every app and are not asked for
  (https://developer.close.com/api/overview/oauth-authentication).
- A lead is the company/account; its contacts are the people, and the phone numbers belong to
  the contacts: `phones[{phone: "+19045551234", phone_formatted, type: "office"|"mobile"|
  "home"|"direct"|"fax"|"other"}]`. Close has no page of its own for a contact: a contact is shown
  on its lead's page, the lead's `html_url` (`https://app.close.com/lead/lead_.../`), which the
  connector uses as the record URL (the host Close hands back).
- Listing: `GET /api/v1/lead/?_fields=id,display_name,html_url,contacts&_limit=100&_skip=N`
  answers `{"data": [...], "has_more": bool}` (https://developer.close.com/api/overview/pagination,
  https://developer.close.com/api/resources/leads/list). Each contact with a number becomes a
  record of type "contact" (Company = the lead's `display_name`).
- Incremental: the Advanced Filtering API `POST /api/v1/data/search/` (cursor paging: `cursor`
  in the body and the answer) finds the leads whose `date_updated`, or one of whose contacts'
  `date_updated`, is on or after `since` (`moment_range` with `on_or_after` a `fixed_utc` time),
  with `_fields` asking for the same lead fields
  (https://developer.close.com/api/resources/advanced-filtering). Deleted contacts come from the
  event log `GET /api/v1/event/?object_type=contact&action=deleted&date_updated__gte=...`
  (`data[].object_id`, paged with `_cursor`/`cursor_next`; 30 days of history,
  https://developer.close.com/api/resources/events).
- Rate limits: per endpoint group and API key; a 429 when exceeded, with the header
  `RateLimit: limit=..., remaining=..., reset=...` (seconds; the HTTP base reads it). The
  deprecated body `{"error": {"rate_reset": ...}}` is read when no header says how long
  (https://developer.close.com/api/overview/rate-limits).
- No live lookup (phone search needs the Advanced Filtering API's phone conditions, not
  confirmed) and no web URL that opens a new lead with a number filled in (no "Create contact"
  script).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext_noop

from integrations.connectors.base import CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import Basic, HttpConnector, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind

API_URL = "https://api.close.com"
APP_URL = "https://app.close.com"
DOCS_URL = "https://developer.close.com/api/overview/llms.txt"
LEAD_FIELDS = "id,display_name,html_url,contacts"
SEARCH_PAGE_SIZE = 200

AUTH_KINDS = (
    ("api_key", "API key"),
    ("oauth2", "OAuth 2.0 (Connect button, OAuth app)"),
)
CLOSE_OAUTH = OAuth2Config(
    authorize_url="https://app.close.com/oauth2/authorize/",
    token_url="https://api.close.com/oauth2/token/",  # noqa: S106 (a URL)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)


def _date_updated(object_type: str, since: str) -> dict[str, Any]:
    """An Advanced Filtering condition: `object_type`'s `date_updated` on or after `since`."""
    return {
        "type": "field_condition",
        "field": {"type": "regular_field", "object_type": object_type, "field_name": "date_updated"},
        "condition": {"type": "moment_range", "on_or_after": {"type": "fixed_utc", "value": since}},
    }


def changed_leads_query(since: str) -> dict[str, Any]:
    """The Advanced Filtering query of leads changed on or after `since` (ISO 8601 UTC): the
    lead's own `date_updated` or that of one of its contacts."""
    return {
        "type": "and",
        "queries": [
            {"type": "object_type", "object_type": "lead"},
            {
                "type": "or",
                "queries": [
                    _date_updated("lead", since),
                    {
                        "type": "has_related",
                        "this_object_type": "lead",
                        "related_object_type": "contact",
                        "related_query": _date_updated("contact", since),
                    },
                ],
            },
        ],
    }


class CloseConnector(HttpConnector):
    """Lists the contacts of Close's leads with their phone numbers (see the module doc)."""

    what = "Close"
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance_url = API_URL
        config = self.oauth_config(self.settings)
        self.auth = OAuth2(config) if config is not None else Basic("api_key")

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config | None:
        """`CLOSE_OAUTH` when the auth kind is "oauth2", else None (API key)."""
        return CLOSE_OAUTH if (settings.get("auth_kind") or "").strip() == "oauth2" else None

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A missing API key, or OAuth client id."""
        kind = (settings.get("auth_kind") or "api_key").strip()
        if kind not in dict(AUTH_KINDS):
            return {"auth_kind": f"choose one of {', '.join(dict(AUTH_KINDS))}."}
        if kind == "oauth2":
            if not (settings.get("oauth_client_id") or "").strip():
                return {"oauth_client_id": "OAuth 2.0 needs the app's client id."}
            return {}
        if not (settings.get("api_key") or "").strip():
            return {"api_key": "enter the API key (Settings > Developer > API Keys)."}
        return {}

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """Retry-After or the `RateLimit` header's reset; else the deprecated 429 body's
        `error.rate_reset` (seconds)."""
        asked = super()._requested_wait(response)
        if asked is not None or response.status_code != 429:
            return asked
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return None
        error = body.get("error") if isinstance(body, dict) else None
        reset = error.get("rate_reset") if isinstance(error, dict) else None
        return float(reset) if isinstance(reset, int | float) and reset >= 0 else None

    # --- records

    def lead_records(self, lead: Any) -> Iterator[CrmRecord | SkippedRecord]:
        """The contacts of one lead with a phone number as `CrmRecord`s; a `SkippedRecord` for a
        lead or contact that is not an object with an id. Contacts without numbers are left out."""
        if not isinstance(lead, dict) or not json_text(lead.get("id")):
            yield SkippedRecord(reason="the lead is not a JSON object with an id")
            return
        lead_id = json_text(lead.get("id"))
        company = json_text(lead.get("display_name"))
        url = json_text(lead.get("html_url"))
        if not url.startswith(("https://", "http://")):
            url = f"{APP_URL}/lead/{quote(lead_id, safe='')}/"
        contacts = lead.get("contacts")
        for contact in contacts if isinstance(contacts, list) else []:
            record = self.contact_record(contact, company=company, url=url)
            if record is not None:
                yield record

    def contact_record(self, contact: Any, *, company: str, url: str) -> CrmRecord | SkippedRecord | None:
        """One contact of a lead (see `lead_records`)."""
        if not isinstance(contact, dict) or not json_text(contact.get("id")):
            return SkippedRecord(reason="a contact is not a JSON object with an id")
        contact_id = json_text(contact.get("id"))
        entries = contact.get("phones")
        phones = tuple(
            RecordPhone(number=json_text(entry.get("phone")), type=json_text(entry.get("type")))
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict) and json_text(entry.get("phone"))
        )
        if not phones:
            return None
        name = json_text(contact.get("name")) or company
        emails = contact.get("emails")
        email = next(
            (
                json_text(e.get("email"))
                for e in (emails if isinstance(emails, list) else [])
                if isinstance(e, dict) and json_text(e.get("email"))
            ),
            "",
        )
        fields = {
            "DisplayName": name,
            "Identifier": contact_id,
            "PopUpUri": url,
            "Email": email,
            "Company": company,
            "JobTitle": json_text(contact.get("title")),
        }
        return CrmRecord(
            id=contact_id, type="contact", display_name=name, phones=phones, url=url, fields=fields
        )

    def pages(self) -> Iterator[list[Any]]:
        """The lead list's pages (`_skip`/`_limit`, until `has_more` is false)."""
        return self.pages_by_offset(
            "/api/v1/lead/",
            items="data",
            offset_param="_skip",
            limit_param="_limit",
            has_more="has_more",
            params={"_fields": LEAD_FIELDS},
        )

    def test_connection(self) -> None:
        """One request: the first page of leads. Raises `ConnectorError` as `request` does."""
        next(self.pages(), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact of every lead with a phone number (see `lead_records`).

        Raises `ConnectorError` as `HttpConnector.request` and `pages_by_offset` do (a 400 when
        Close's maximum `_skip` is passed ends the sync as permanent; the old cache is kept).
        """
        for page in self.pages():
            for lead in page:
                yield from self.lead_records(lead)

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """The contacts of leads changed on or after `since` (Advanced Filtering, cursor paged),
        then a `DeletedRecord` per contact deletion in the event log since then.

        Raises `ConnectorError` as `request` does, when a search page has no `data` list or a
        cursor comes back twice.
        """
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        body: dict[str, Any] = {
            "query": changed_leads_query(stamp),
            "_fields": {"lead": LEAD_FIELDS.split(",")},
            "_limit": SEARCH_PAGE_SIZE,
            "sort": [
                {
                    "direction": "asc",
                    "field": {"type": "regular_field", "object_type": "lead", "field_name": "date_updated"},
                }
            ],
        }
        seen: set[str] = set()
        for _ in range(self.max_pages):
            document = self.response_json(self.request("POST", "/api/v1/data/search/", json=body))
            for lead in self._items(document, "data", url="/api/v1/data/search/"):
                yield from self.lead_records(lead)
            cursor = json_text(document.get("cursor")) if isinstance(document, dict) else ""
            if not cursor:
                break
            if cursor in seen:
                raise self._repeated()
            seen.add(cursor)
            body["cursor"] = cursor
        else:
            raise self._too_many_pages()
        events = self.pages_by_cursor(
            "/api/v1/event/",
            items="data",
            cursor="cursor_next",
            cursor_param="_cursor",
            params={"object_type": "contact", "action": "deleted", "date_updated__gte": stamp},
        )
        for page in events:
            for event in page:
                object_id = json_text(event.get("object_id")) if isinstance(event, dict) else ""
                if object_id:
                    yield DeletedRecord(id=object_id, type="contact")


CLOSE = Preset(
    slug="close",
    name="Close",
    description=gettext_noop("Close CRM: the contacts of every lead, with an API key or OAuth 2.0."),
    settings=(
        SettingField(
            "auth_kind",
            gettext_noop("Authentication"),
            SettingKind.CHOICE,
            default="api_key",
            choices=AUTH_KINDS,
        ),
        SettingField(
            "api_key",
            gettext_noop("API key"),
            SettingKind.SECRET,
            required=False,
            placeholder="api_...",
            help_text=gettext_noop("Settings > Developer > API Keys in Close."),
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
    ),
    default_scripts=(DefaultScript("Open lead in Close", "$(PopUpUri)", ScriptApplies.ON_MATCH),),
    connector_class=CloseConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Lead")),
        RecordField("JobTitle", gettext_noop("Title")),
    ),
    default_notification_fields=("Company",),
    keywords=("close", "close.com", "close.io", "closeio", "close crm", "crm", "sales"),
    docs_url=DOCS_URL,
    credentials_url="https://developer.close.com/api/overview/authentication-with-api-keys",
    auth_methods=("API key", "OAuth 2.0"),
    paging="offset (_skip/_limit, has_more)",
    category="CRM",
)
