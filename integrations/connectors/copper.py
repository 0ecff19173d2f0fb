"""Copper CRM (Developer API v1): people, companies and leads with their phone numbers.

API: https://developer.copper.com/ (introduction/authentication.html, introduction/requests.html
for the headers and the rate limit, people/list-people-search.html, leads/list-leads-search.html;
the introduction's "Search by Phone Number" and "Paginating search results").

- Auth: three headers on every call: `X-PW-AccessToken` (an API key made under System settings ->
  API Keys), `X-PW-Application: developer_api` and `X-PW-UserEmail` (the key owner's e-mail).
- Listing: `POST https://api.copper.com/developer_api/v1/{people|companies|leads}/search` with a
  JSON body `{"page_size": 1..200, "page_number": 1.., "sort_by": ..., "sort_direction": "asc"}`;
  the answer is a bare JSON array (header `X-PW-TOTAL`: an upper bound of the total), the short
  page is the last. Sorted by `date_created` (it does not change, so numbered pages stay stable).
  A search returns at most its first 100,000 records.
- Changes: `"minimum_modified_date": <Unix seconds>` with `sort_by: date_modified`; deletions are
  not listed (the nightly full sync removes them).
- Numbers: `phone_numbers: [{"number": "...", "category": "mobile"|"work"|"home"|"other"}]`.
- Live lookup: the search body `{"phone_number": {"value": <digits>, "match": "partial"}}` finds
  numbers ending in the digits (non-digits stripped); we send the caller's national significant
  number, so "020 123 4567", "+31 20 123 4567" and "0031201234567" all match.
- Limits: 180 requests per minute, rolling window, then HTTP 429 (a `Retry-After` is not
  documented: without one the connector waits `THROTTLE_WAIT_SECONDS`).
- Screen pop: `https://app.copper.com/companies/{account id}/app#/contact/{id}`
  (`#/organization/{id}`, `#/lead/{id}`); the account id is the number in the web app's address.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import phonenumbers
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import REPEATED_CURSOR_MESSAGE, HttpConnector, json_text
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Copper"
API_URL = "https://api.copper.com/developer_api/v1/"
DOCS_URL = "https://developer.copper.com/"
CREDENTIALS_URL = "https://developer.copper.com/introduction/authentication.html"
MAX_PAGE_SIZE = 200
# Seconds to wait after a 429 that names no wait: the limit is 180 per rolling minute, so after
# 10 s about 30 requests have left the window.
THROTTLE_WAIT_SECONDS = 10.0
LOOKUP_PAGE_SIZE = 25
_ACCOUNT_ID = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class CopperAuth:
    """Copper's three authentication headers from the `api_key` and `user_email` settings.

    A missing key or e-mail leaves its header out (Copper then answers 401).
    """

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """`X-PW-AccessToken`, `X-PW-Application: developer_api`, `X-PW-UserEmail`."""
        headers = {"X-PW-Application": "developer_api"}
        key = (settings.get("api_key") or "").strip()
        email = (settings.get("user_email") or "").strip()
        if key:
            headers["X-PW-AccessToken"] = key
        if email:
            headers["X-PW-UserEmail"] = email
        return headers, {}


@dataclass(frozen=True)
class CopperEntity:
    """One searched Copper entity: its endpoint, record type and web app route."""

    endpoint: str
    record_type: str
    route: str


ENTITIES: tuple[CopperEntity, ...] = (
    CopperEntity("people/search", "person", "contact"),
    CopperEntity("companies/search", "company", "organization"),
    CopperEntity("leads/search", "lead", "lead"),
)


def account_id_of(settings: Mapping[str, str]) -> str:
    """The Copper account id setting (digits); a permanent `ConnectorError` otherwise."""
    value = (settings.get("account_id") or "").strip()
    if not _ACCOUNT_ID.match(value):
        raise ConnectorError(
            Text(
                gettext_noop(
                    "The Copper account ID is the number in the web app's address (562111 "
                    "in https://app.copper.com/companies/562111/app)."
                )
            ),
            permanent=True,
        )
    return value


def page_size_of(settings: Mapping[str, str]) -> int:
    """The page size setting (1..200, default 200); a permanent `ConnectorError` otherwise."""
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


def lookup_digits(e164: str) -> str:
    """The digits Copper's partial phone search gets for `e164`: the national significant number
    ("201234567" for "+31201234567", ITU-T E.164 without country code and trunk prefix); all
    digits when the number does not parse."""
    try:
        return str(phonenumbers.national_significant_number(phonenumbers.parse(e164)))
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", e164)


class CopperConnector(HttpConnector):
    """Lists Copper people, companies and leads; searches them by phone (see the module docstring)."""

    what = WHAT
    auth = CopperAuth()
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id_of(self.settings)
        self.page_size = page_size_of(self.settings)
        self.instance_url = API_URL  # one API host for every account

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """An unusable account id or page size, by setting name."""
        problems: dict[str, str] = {}
        for name, check in (("account_id", account_id_of), ("page_size", page_size_of)):
            try:
                check(settings)
            except ConnectorError as exc:
                problems[name] = exc.message
        return problems

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """The base's wait (Retry-After, X-RateLimit-*); `THROTTLE_WAIT_SECONDS` for a 429 without."""
        asked = super()._requested_wait(response)
        if asked is None and response.status_code == 429:
            return THROTTLE_WAIT_SECONDS
        return asked

    def search(self, entity: CopperEntity, body: Mapping[str, Any]) -> list[Any]:
        """One `POST /{entity}/search` with `body`; the answer's list (a permanent
        `ConnectorError` when it is not one; otherwise as `HttpConnector.request`)."""
        response = self.request("POST", entity.endpoint, json=dict(body))
        return self._items(self.response_json(response), "", url=entity.endpoint)

    def pages(self, entity: CopperEntity, *, since: dt.datetime | None = None) -> Iterator[list[Any]]:
        """The pages of one entity's search (`page_number` 1, 2...), all records sorted by
        `date_created`, or with `since` those with `minimum_modified_date` (Unix seconds) sorted
        by `date_modified`. Stops after a short page; raises `ConnectorError` when a page
        repeats the previous one or there are more than `max_pages`."""
        body: dict[str, Any] = {
            "page_size": self.page_size,
            "sort_by": "date_created",
            "sort_direction": "asc",
        }
        if since is not None:
            body.update(sort_by="date_modified", minimum_modified_date=int(since.timestamp()))
        previous: list[Any] | None = None
        for number in range(1, self.max_pages + 1):
            page = self.search(entity, {**body, "page_number": number})
            if page and page == previous:
                raise ConnectorError(Text(REPEATED_CURSOR_MESSAGE, what=self.what))
            yield page
            if len(page) < self.page_size:
                return
            previous = page
        raise self._too_many_pages()

    def test_connection(self) -> None:
        """Fetch the first page of people; raises `ConnectorError` as `HttpConnector.request`."""
        next(self.pages(ENTITIES[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """People, then companies, then leads that have a phone number.

        Record shape: `id` Copper's id (unique per entity type), `type` "person"/"company"/
        "lead", `display_name` the `name`, `phones` every `phone_numbers[]` number with its
        `category`, `url` the record in the Copper web app. Items that are not objects or have
        no id are `SkippedRecord`s. Raises `ConnectorError` as `HttpConnector.request`.
        """
        for entity in ENTITIES:
            yield from self._records(entity, since=None)

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """People, companies and leads modified at or after `since` (`minimum_modified_date`),
        mapped like `iter_records`; Copper's search reports no deletions."""
        for entity in ENTITIES:
            yield from self._records(entity, since=since)

    def lookup(self, e164: str) -> list[CrmRecord]:
        """People, companies and leads with a number ending in the caller's national significant
        number (`phone_number` partial match, one search per entity, first `LOOKUP_PAGE_SIZE`).
        Raises `ConnectorError` as `HttpConnector.request`."""
        body = {
            "phone_number": {"value": lookup_digits(e164), "match": "partial"},
            "page_size": LOOKUP_PAGE_SIZE,
            "page_number": 1,
        }
        found: list[CrmRecord] = []
        for entity in ENTITIES:
            for item in self.search(entity, body):
                record = self.record(entity, item)
                if isinstance(record, CrmRecord):
                    found.append(record)
        return found

    def _records(
        self, entity: CopperEntity, *, since: dt.datetime | None
    ) -> Iterator[CrmRecord | SkippedRecord]:
        for page in self.pages(entity, since=since):
            for item in page:
                record = self.record(entity, item)
                if record is not None:
                    yield record

    def record(self, entity: CopperEntity, item: Any) -> CrmRecord | SkippedRecord | None:
        """One searched item as a record, a `SkippedRecord`, or None when it has no number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a Copper {entity.record_type} is not a JSON object")
        record_id = json_text(item.get("id"))
        if not record_id:
            return SkippedRecord(reason=f"a Copper {entity.record_type} has no id")
        numbers = item.get("phone_numbers")
        if numbers is not None and not isinstance(numbers, list):
            return SkippedRecord(
                reason=f"the phone_numbers of Copper {entity.record_type} {record_id} are not a list",
                id=record_id,
            )
        phones = tuple(
            RecordPhone(number=number, type=json_text(phone.get("category")))
            for phone in numbers or []
            if isinstance(phone, dict) and (number := json_text(phone.get("number")))
        )
        if not phones:
            return None
        name = json_text(item.get("name")) or " ".join(
            t for t in (json_text(item.get("first_name")), json_text(item.get("last_name"))) if t
        )
        url = f"https://app.copper.com/companies/{self.account_id}/app#/{entity.route}/{record_id}"
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": _email(item),
            "Company": name if entity.record_type == "company" else json_text(item.get("company_name")),
            "JobTitle": json_text(item.get("title")),
        }
        return CrmRecord(
            id=record_id, type=entity.record_type, display_name=name, phones=phones, url=url, fields=fields
        )


def _email(item: Mapping[str, Any]) -> str:
    """People's first `emails[].email`, a lead's `email.email`; "" otherwise."""
    emails = item.get("emails")
    if isinstance(emails, list):
        return next(
            (json_text(e.get("email")) for e in emails if isinstance(e, dict) and json_text(e.get("email"))),
            "",
        )
    email = item.get("email")
    return json_text(email.get("email")) if isinstance(email, dict) else ""


COPPER = Preset(
    slug="copper",
    name="Copper",
    description=gettext_noop(
        "Copper CRM (formerly ProsperWorks): people, companies and leads; live lookup by number."
    ),
    settings=(
        SettingField(
            "api_key",
            gettext_noop("API key"),
            SettingKind.SECRET,
            help_text=gettext_noop(
                "System settings -> API Keys -> Create a key (an admin's key sees every record)."
            ),
        ),
        SettingField(
            "user_email",
            gettext_noop("E-mail of the key's owner"),
            placeholder="admin@example.com",
            help_text=gettext_noop("The Copper user who created the API key."),
        ),
        SettingField(
            "account_id",
            gettext_noop("Copper account ID"),
            placeholder="562111",
            help_text=gettext_noop(
                "The number in the web app's address: https://app.copper.com/companies/<account ID>/app."
            ),
        ),
        SettingField(
            "page_size",
            gettext_noop("Page size"),
            required=False,
            default=str(MAX_PAGE_SIZE),
            help_text=f"Records per request, 1 to {MAX_PAGE_SIZE}.",
        ),
    ),
    default_scripts=(DefaultScript("Open in Copper", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),),
    connector_class=CopperConnector,
    record_types=("person", "company", "lead"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Title")),
    ),
    default_notification_fields=("Company", "JobTitle"),
    keywords=("copper", "prosperworks", "crm", "google workspace"),
    docs_url=DOCS_URL,
    credentials_url=CREDENTIALS_URL,
    auth_methods=("API key + user e-mail (X-PW headers)",),
    paging="page number in the JSON body (page_number/page_size, 200 per page)",
    category="CRM",
)
