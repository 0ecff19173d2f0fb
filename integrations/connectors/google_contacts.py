"""Google Contacts: the signed-in user's contacts through the People API, OAuth 2.0.

Listing: `GET https://people.googleapis.com/v1/people/me/connections?personFields=...&pageSize=1000`,
`nextPageToken` sent back as `pageToken` with every other parameter unchanged; a page without
people omits `connections` (https://developers.google.com/people/api/rest/v1/people.connections/list).

Incremental: the People API's own incremental form is the sync token (`requestSyncToken` /
`syncToken`), but it must be kept between syncs and the platform gives a connector only the
moment of the last sync. So changes are listed by `sortOrder=LAST_MODIFIED_DESCENDING` with
`metadata` in `personFields`, stopping at the first person whose sources were all updated
before `since` (`metadata.sources[].updateTime`). Deletions are not reported that way: the
nightly full sync removes deleted people's numbers.

Throttling: quota errors are HTTP 429 `RESOURCE_EXHAUSTED` (the first page of a full sync has a
fixed extra quota); Google's older 403 `rateLimitExceeded`/`userRateLimitExceeded` answers are
treated the same (`is_throttled`). Auth: Google OAuth 2.0 authorization code with offline access
(https://developers.google.com/identity/protocols/oauth2/web-server), scope `contacts.readonly`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_path_first, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Google Contacts"
API_HOST = "https://people.googleapis.com"
CONNECTIONS_PATH = "/v1/people/me/connections"
PERSON_FIELDS = "names,phoneNumbers,emailAddresses,organizations"
PAGE_SIZE = 1000  # the maximum of `pageSize`
CONTACT_URL = "https://contacts.google.com/person/{id}"

# `access_type=offline` gets a refresh token, `prompt=consent` a new one on every Connect.
GOOGLE_OAUTH = OAuth2Config(
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent",
    token_url="https://oauth2.googleapis.com/token",  # noqa: S106 (a URL)
    scopes=("https://www.googleapis.com/auth/contacts.readonly",),
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)

# Google's phone types (Person.phoneNumbers[].type) as our type labels; others pass as written.
_PHONE_TYPES = {
    "mobile": "mobile",
    "workMobile": "mobile",
    "work": "work",
    "main": "work",
    "home": "home",
    "other": "other",
    "pager": "pager",
    "workPager": "pager",
    "googleVoice": "other",
}
_THROTTLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


def phone_type(value: Any) -> str:
    """Our type label for a People API phone `type` ("workMobile" -> "mobile"; custom labels as
    written, lower-case; "" for none)."""
    text = json_text(value)
    return _PHONE_TYPES.get(text, text.lower())


def person_id(resource_name: str) -> str:
    """The id in `people/c1234567890` ("c1234567890"), "" when it is not a person's name."""
    prefix, _, identifier = resource_name.partition("/")
    return identifier if prefix == "people" and identifier and "/" not in identifier else ""


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def person_updated(person: Mapping[str, Any]) -> dt.datetime | None:
    """The latest `metadata.sources[].updateTime` of a person (RFC 3339), None when there is none."""
    sources = json_path_first(person, "metadata.sources")
    times = [
        moment
        for source in (sources if isinstance(sources, list) else [])
        if isinstance(source, dict)
        for moment in [_parse_time(json_text(source.get("updateTime")))]
        if moment is not None
    ]
    return max(times) if times else None


class GoogleContactsConnector(HttpConnector):
    """Lists the Google contacts (people/me/connections) that have phone numbers."""

    what = WHAT
    auth = OAuth2(GOOGLE_OAUTH)
    base_url_setting = "_google_api_host"
    page_size = PAGE_SIZE
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = {**self.settings, self.base_url_setting: API_HOST}

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """Google OAuth 2.0, authorization code with offline access."""
        return GOOGLE_OAUTH

    def is_throttled(self, response: httpx.Response) -> bool:
        """A 403 whose Google error says a rate limit (`rateLimitExceeded`, `RESOURCE_EXHAUSTED`)."""
        if response.status_code != 403:
            return False
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return False
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return False
        reasons = {
            json_text(json_path_first(item, "reason"))
            for item in error.get("errors") or []
            if isinstance(item, dict)
        }
        reasons |= {
            json_text(item.get("reason")) for item in error.get("details") or [] if isinstance(item, dict)
        }
        return error.get("status") == "RESOURCE_EXHAUSTED" or bool(reasons & _THROTTLE_REASONS)

    def pages(self, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        """The `connections` of each page (absent = none), following `nextPageToken`.

        Raises `ConnectorError`: an answer that is not an object or whose `connections` is not a
        list (permanent), a repeated page token, more than `max_pages` pages.
        """
        query = {**params, "pageSize": PAGE_SIZE}
        seen: set[str] = set()
        for _ in range(self.max_pages):
            document = self.get_json(CONNECTIONS_PATH, params=query)
            people = document.get("connections", []) if isinstance(document, dict) else None
            if not isinstance(people, list):
                raise ConnectorError(
                    Text(
                        gettext_noop(
                            "%(what)s answered a page without a list of connections (%(connections_path)s)."
                        ),
                        what=WHAT,
                        connections_path=CONNECTIONS_PATH,
                    ),
                    permanent=True,
                )
            yield people
            token = json_text(document.get("nextPageToken"))
            if not token:
                return
            if token in seen:
                raise self._repeated()
            seen.add(token)
            query["pageToken"] = token
        raise self._too_many_pages()

    def record(self, person: Any) -> CrmRecord | SkippedRecord | None:
        """A Person as a `CrmRecord`: `canonicalForm` (E.164, when Google could read it) else the
        number as written; None without numbers; `SkippedRecord` without a `people/...` name."""
        if not isinstance(person, dict):
            return SkippedRecord(reason="a connection is not a person object")
        record_id = person_id(json_text(person.get("resourceName")))
        if not record_id:
            return SkippedRecord(reason="a person has no resourceName")
        phones: list[RecordPhone] = []
        for entry in person.get("phoneNumbers") or []:
            if isinstance(entry, dict):
                number = json_text(entry.get("canonicalForm")) or json_text(entry.get("value"))
                if number:
                    phones.append(RecordPhone(number=number, type=phone_type(entry.get("type"))))
        if not phones:
            return None
        name = json_text(json_path_first(person, "names[0].displayName"))
        company = json_text(json_path_first(person, "organizations[0].name"))
        email = json_text(json_path_first(person, "emailAddresses[0].value"))
        return CrmRecord(
            id=record_id,
            type="contact",
            display_name=name or company or email or record_id,
            phones=tuple(phones),
            url=CONTACT_URL.format(id=record_id),
            fields={
                "Email": email,
                "Company": company,
                "JobTitle": json_text(json_path_first(person, "organizations[0].title")),
            },
        )

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact with a phone number, page by page."""
        for page in self.pages({"personFields": PERSON_FIELDS}):
            for person in page:
                record = self.record(person)
                if record is not None:
                    yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Contacts changed at or after `since` (aware): newest first, until the first person
        updated before it. People without an update time are included (they cannot be placed)."""
        params = {"personFields": PERSON_FIELDS + ",metadata", "sortOrder": "LAST_MODIFIED_DESCENDING"}
        for page in self.pages(params):
            for person in page:
                updated = person_updated(person) if isinstance(person, dict) else None
                if updated is not None and updated < since:
                    return
                record = self.record(person)
                if record is not None:
                    yield record

    def test_connection(self) -> None:
        """Ask for the first page of contacts; raise `ConnectorError` saying what is wrong."""
        next(iter(self.pages({"personFields": PERSON_FIELDS})), None)


GOOGLE_CONTACTS = Preset(
    slug="google_contacts",
    name="Google Contacts",
    description=gettext_noop(
        "The contacts of a Google account or Google Workspace user (People API, OAuth 2.0)."
    ),
    settings=(
        SettingField(
            "oauth_client_id",
            gettext_noop("Client ID"),
            help_text=gettext_noop(
                "Of an OAuth client of type 'Web application' in the Google Cloud console, "
                "with the People API enabled."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
    ),
    connector_class=GoogleContactsConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job title")),
    ),
    default_notification_fields=("DisplayName", "Company"),
    default_scripts=(DefaultScript("Open contact", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),),
    keywords=("google", "google contacts", "gmail", "google workspace", "people api", "g suite"),
    docs_url="https://developers.google.com/people/api/rest/v1/people.connections/list",
    credentials_url="https://developers.google.com/people/v1/how-tos/authorizing",
    auth_methods=("OAuth 2.0",),
    paging="page token (nextPageToken), 1,000 per page",
    category="Address book",
)
