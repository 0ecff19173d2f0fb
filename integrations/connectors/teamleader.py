"""Teamleader Focus: contacts and companies with their telephones (RPC-style JSON API).

API reference: https://developer.focus.teamleader.eu/docs/api (contacts.list, companies.list).

- Auth: OAuth 2.0 authorization code; authorize at https://focus.teamleader.eu/oauth2/authorize,
  token at https://focus.teamleader.eu/oauth2/access_token with client id and secret in the form
  body; the access token is sent as `Authorization: Bearer ...`. Scopes are chosen on the
  integration in the Teamleader Marketplace, not in the request.
- Calls: `POST https://api.focus.teamleader.eu/contacts.list` (and `companies.list`) with a JSON
  body: `{"page": {"size": 1..100, "number": 1..}, "sort": [{"field": "added_at", "order":
  "asc"}]}`; the answer is `{"data": [...]}` without totals, so the short page is the last.
- Changes: the same calls with `"filter": {"updated_since": "2026-03-10T09:00:00+00:00"}`,
  sorted by `updated_at`; deletions are not listed (the nightly full sync removes them).
- Numbers: `telephones: [{"type": "phone"|"mobile"|"fax", "number": "..."}]` (companies: phone, fax).
- Limits: 200 requests per minute; a 429 with `Retry-After` and `X-RateLimit-*` headers.
- Screen pop: the record's `web_url` (`https://focus.teamleader.eu/contact_detail.php?id=...`,
  `company_detail.php?id=...`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import REPEATED_CURSOR_MESSAGE, HttpConnector, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Teamleader Focus"
API_URL = "https://api.focus.teamleader.eu/"
WEB_URL = "https://focus.teamleader.eu"
DOCS_URL = "https://developer.focus.teamleader.eu/docs/api"
CREDENTIALS_URL = "https://marketplace.focus.teamleader.eu/build"
MAX_PAGE_SIZE = 100

TEAMLEADER_OAUTH = OAuth2Config(
    authorize_url="https://focus.teamleader.eu/oauth2/authorize",
    token_url="https://focus.teamleader.eu/oauth2/access_token",  # noqa: S106 (a URL)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)


@dataclass(frozen=True)
class TeamleaderList:
    """One listed Teamleader resource: its RPC method, record type and web page."""

    method: str
    record_type: str
    detail_page: str


LISTS: tuple[TeamleaderList, ...] = (
    TeamleaderList("contacts.list", "contact", "contact_detail.php"),
    TeamleaderList("companies.list", "company", "company_detail.php"),
)


def page_size_of(settings: Mapping[str, str]) -> int:
    """The page size setting (1..100, default 100); a permanent `ConnectorError` otherwise."""
    text = (settings.get("page_size") or "").strip() or str(MAX_PAGE_SIZE)
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ConnectorError(
            Text(
                gettext_noop("The page size must be a whole number from 1 to %(max_page_size)s."),
                max_page_size=MAX_PAGE_SIZE,
            ),
            permanent=True,
        )
    return int(text)


class TeamleaderConnector(HttpConnector):
    """Lists Teamleader Focus contacts and companies (see the module docstring)."""

    what = WHAT
    auth = OAuth2(TEAMLEADER_OAUTH)
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_size = page_size_of(self.settings)
        self.instance_url = API_URL  # one API host for every account

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """Teamleader's OAuth 2.0 declaration (authorization code, client secret in the body)."""
        return TEAMLEADER_OAUTH

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """An unusable page size, by setting name."""
        try:
            page_size_of(settings)
        except ConnectorError as exc:
            return {"page_size": exc.message}
        return {}

    def pages(self, listing: TeamleaderList, *, since: dt.datetime | None = None) -> Iterator[list[Any]]:
        """The `data` lists of one `*.list` method, page by page (`page.number` 1, 2...).

        Sorted by `added_at` (a stable order for numbered pages), or with `since` filtered on
        `updated_since` and sorted by `updated_at`. Stops after a short page. Raises
        `ConnectorError` when a page repeats the previous one or there are more than `max_pages`.
        """
        body: dict[str, Any] = {"sort": [{"field": "added_at", "order": "asc"}]}
        if since is not None:
            stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
            body = {"filter": {"updated_since": stamp}, "sort": [{"field": "updated_at", "order": "asc"}]}
        previous: list[Any] | None = None
        for number in range(1, self.max_pages + 1):
            body["page"] = {"size": self.page_size, "number": number}
            response = self.request("POST", listing.method, json=body)
            page = self._items(self.response_json(response), "data", url=listing.method)
            if page and page == previous:
                raise ConnectorError(Text(REPEATED_CURSOR_MESSAGE, what=self.what))
            yield page
            if len(page) < self.page_size:
                return
            previous = page
        raise self._too_many_pages()

    def test_connection(self) -> None:
        """Fetch the first page of contacts; raises `ConnectorError` as `HttpConnector.request`."""
        next(self.pages(LISTS[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Contacts, then companies, that have a telephone.

        Record shape: `id` the UUID, `type` "contact"/"company", `display_name` first and last
        name (companies: `name`), `phones` every `telephones[]` number with its `type` (phone,
        mobile, fax), `url` the record's `web_url`. Items that are not objects or have no id
        are `SkippedRecord`s. Raises `ConnectorError` as `HttpConnector.request`.
        """
        for listing in LISTS:
            yield from self._records(listing, since=None)

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Contacts and companies updated since `since` (`filter.updated_since`), mapped like
        `iter_records`; Teamleader's lists report no deletions."""
        for listing in LISTS:
            yield from self._records(listing, since=since)

    def _records(
        self, listing: TeamleaderList, *, since: dt.datetime | None
    ) -> Iterator[CrmRecord | SkippedRecord]:
        for page in self.pages(listing, since=since):
            for item in page:
                record = self.record(listing, item)
                if record is not None:
                    yield record

    def record(self, listing: TeamleaderList, item: Any) -> CrmRecord | SkippedRecord | None:
        """One listed item as a record, a `SkippedRecord`, or None when it has no telephone."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a Teamleader {listing.record_type} is not a JSON object")
        record_id = json_text(item.get("id"))
        if not record_id:
            return SkippedRecord(reason=f"a Teamleader {listing.record_type} has no id")
        telephones = item.get("telephones")
        if telephones is not None and not isinstance(telephones, list):
            return SkippedRecord(
                reason=f"the telephones of Teamleader {listing.record_type} {record_id} are not a list",
                id=record_id,
            )
        phones = tuple(
            RecordPhone(number=number, type=json_text(phone.get("type")))
            for phone in telephones or []
            if isinstance(phone, dict) and (number := json_text(phone.get("number")))
        )
        if not phones:
            return None
        if listing.record_type == "company":
            name = json_text(item.get("name"))
        else:
            name = " ".join(
                t for t in (json_text(item.get("first_name")), json_text(item.get("last_name"))) if t
            )
        url = _web_url(item.get("web_url"), listing, record_id)
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": _first_email(item.get("emails")),
            "Company": name if listing.record_type == "company" else "",
            "Website": json_text(item.get("website")),
        }
        return CrmRecord(
            id=record_id, type=listing.record_type, display_name=name, phones=phones, url=url, fields=fields
        )


def _first_email(emails: Any) -> str:
    """The first non-empty `emails[].email`, "" when there is none."""
    if not isinstance(emails, list):
        return ""
    return next((text for e in emails if isinstance(e, dict) and (text := json_text(e.get("email")))), "")


def _web_url(value: Any, listing: TeamleaderList, record_id: str) -> str:
    """The record's `web_url` when it is a Teamleader https link, else the documented detail page."""
    url = json_text(value)
    host = (urlsplit(url).hostname or "").lower() if url.startswith("https://") else ""
    if host == "teamleader.eu" or host.endswith(".teamleader.eu"):
        return url
    return f"{WEB_URL}/{listing.detail_page}?id={quote(record_id, safe='')}"


TEAMLEADER = Preset(
    slug="teamleader",
    name="Teamleader Focus",
    description=gettext_noop(
        "Teamleader Focus CRM: contacts and companies with their telephones, changes hourly."
    ),
    settings=(
        SettingField(
            "oauth_client_id",
            gettext_noop("Client ID"),
            help_text=gettext_noop(
                "From your integration in the Teamleader Marketplace (Build); give it the "
                "contacts and companies scopes and this site's OAuth redirect URL."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "page_size",
            gettext_noop("Page size"),
            required=False,
            default=str(MAX_PAGE_SIZE),
            help_text=f"Records per request, 1 to {MAX_PAGE_SIZE}.",
        ),
    ),
    default_scripts=(
        DefaultScript("Open in Teamleader", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),
    ),
    connector_class=TeamleaderConnector,
    record_types=("contact", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("Website", gettext_noop("Website")),
    ),
    default_notification_fields=("Company", "Email"),
    keywords=("teamleader", "teamleader focus", "focus", "crm", "belgium"),
    docs_url=DOCS_URL,
    credentials_url=CREDENTIALS_URL,
    auth_methods=("OAuth 2.0",),
    paging="page number in the JSON body (page.size/page.number, 100 per page)",
    category="CRM",
)
