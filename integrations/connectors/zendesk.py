"""Zendesk Support: the users (end users and agents) with their phone numbers.

Follows the Zendesk Support API (https://developer.zendesk.com/api-reference/ticketing/users/users/):

- Host: `https://{subdomain}.zendesk.com/api/v2/` (the subdomain setting).
- Auth: an API token as HTTP Basic `{email}/token:{api_token}`, or an OAuth access token as
  `Authorization: Bearer` (https://support.zendesk.com/hc/en-us/articles/4408831452954).
- Full listing: `GET /api/v2/users.json?page[size]=100&include=identities`, cursor pagination
  (`meta.has_more`, `meta.after_cursor` sent back as `page[after]`;
  https://developer.zendesk.com/api-reference/introduction/pagination/). The sideloaded
  `identities` of type `phone_number` carry a user's further numbers.
- Incremental: the cursor-based incremental user export
  `GET /api/v2/incremental/users/cursor.json?start_time={unix}` then `cursor={after_cursor}`
  until `end_of_stream` is true; a deleted user comes back with `active: false`
  (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
- Live lookup: `GET /api/v2/search.json?query=type:user phone:*{digits}`: digits only, a leading
  `*` matches any formatting before them
  (https://developer.zendesk.com/documentation/voice/talk-partner-edition/retrieving-the-zendesk-user-id-of-a-caller/).
- Rate limits: 429 with `Retry-After` (seconds), and `ratelimit-remaining`/`ratelimit-reset` on
  list endpoints (https://developer.zendesk.com/api-reference/introduction/rate-limits/); the
  HTTP base honours both. Organizations carry no phone field, so only users are listed.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import phonenumbers
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import (
    ConnectorError,
    CrmRecord,
    DeletedRecord,
    RecordPhone,
    SkippedRecord,
)
from integrations.connectors.http_base import Basic, HttpConnector, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Zendesk"
USER = "user"
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# The incremental export leaves out what changed in the last minute and wants a start time
# before it (Using the Incremental Export API).
_EXPORT_LAG_SECONDS = 60

AUTH_KINDS = (
    ("api_token", "API token (agent email + token)"),
    ("oauth", "OAuth 2.0 (Connect button)"),
)

# https://developer.zendesk.com/documentation/ticketing/working-with-oauth/creating-and-using-oauth-tokens-with-the-api/
ZENDESK_OAUTH = OAuth2Config(
    authorize_url="https://{subdomain}.zendesk.com/oauth/authorizations/new",
    token_url="https://{subdomain}.zendesk.com/oauth/tokens",  # noqa: S106 (a URL)
    scopes=("read",),
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)


def zendesk_subdomain(settings: Mapping[str, str]) -> str:
    """The account's subdomain ("acme"), lower-cased; "" when the setting is not a bare label."""
    value = (settings.get("subdomain") or "").strip().lower()
    return value if _SUBDOMAIN.match(value) else ""


class ZendeskConnector(HttpConnector):
    """Lists a Zendesk Support account's users with a phone number (see the module docstring).

    Record shape: `id` the user id, `type` "user", `display_name` the user's `name`, phones the
    `phone` field (type "phone") and every `phone_number` identity (type "identity"), without
    repeats; `url` `https://{subdomain}.zendesk.com/agent/users/{id}`; fields Email, Role,
    OrganizationId.
    """

    what = WHAT
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        subdomain = zendesk_subdomain(self.settings)
        self.instance_url = f"https://{subdomain}.zendesk.com" if subdomain else ""
        if (self.settings.get("auth_kind") or "api_token").strip() == "oauth":
            self.auth = OAuth2(ZENDESK_OAUTH)
        else:
            self.auth = Basic(username=self._token_user(), password_setting="api_token")  # noqa: S106 (a setting name)

    def _token_user(self) -> str:
        email = (self.settings.get("email") or "").strip()
        return f"{email}/token" if email else ""

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config | None:
        """Zendesk's OAuth 2.0 declaration when the auth kind is "oauth", else None."""
        return ZENDESK_OAUTH if str(settings.get("auth_kind") or "").strip() == "oauth" else None

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A subdomain that is not a bare label, and the credentials each auth kind needs."""
        problems: dict[str, str] = {}
        if not zendesk_subdomain(settings):
            problems["subdomain"] = gettext('Give only the subdomain: "acme" for https://acme.zendesk.com.')
        if (settings.get("auth_kind") or "api_token").strip() == "oauth":
            if not (settings.get("oauth_client_id") or "").strip():
                problems["oauth_client_id"] = gettext("OAuth 2.0 needs the OAuth client's unique identifier.")
        else:
            if not (settings.get("email") or "").strip():
                problems["email"] = gettext("The API token needs the email address of the agent it acts as.")
            if not (settings.get("api_token") or "").strip():
                message = "Give the API token (Admin Center > Apps and integrations > APIs)."
                problems["api_token"] = message
        return problems

    @property
    def base_url(self) -> str:
        """`https://{subdomain}.zendesk.com`; a permanent `ConnectorError` without a valid subdomain."""
        if not self.instance_url:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        'The Zendesk subdomain is missing or not a bare name ("acme" for '
                        "https://acme.zendesk.com)."
                    )
                ),
                permanent=True,
            )
        return super().base_url

    # --- listing

    def _cursor_pages(self, path: str) -> Iterator[dict[str, Any]]:
        """The documents of a cursor-paginated list (`meta.has_more`, `meta.after_cursor`)."""
        query: dict[str, Any] = {"page[size]": self.page_size, "include": "identities"}
        seen: set[str] = set()
        for _ in range(self.max_pages):
            document = self._document(self.get_json(path, params=query), path)
            yield document
            meta = document.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            cursor = json_text(meta.get("after_cursor"))
            if meta.get("has_more") is not True or not cursor:
                return
            if cursor in seen:
                raise self._repeated()
            seen.add(cursor)
            query["page[after]"] = cursor
        raise self._too_many_pages()

    def _document(self, document: Any, path: str) -> dict[str, Any]:
        if not isinstance(document, dict) or not isinstance(document.get("users"), list):
            raise ConnectorError(
                Text(
                    gettext_noop('%(what)s answered %(path)s without a "users" list.'), what=WHAT, path=path
                ),
                permanent=True,
            )
        return document

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every user with a phone number, page by page; a `SkippedRecord` per unreadable item;
        deleted users (`active: false`) are left out.

        Raises `ConnectorError` as `HttpConnector.request` does, a permanent one for an answer
        without a `users` list, and a temporary one when a cursor repeats.
        """
        for document in self._cursor_pages("/api/v2/users.json"):
            identities = _phone_identities(document.get("identities"))
            for item in document["users"]:
                if isinstance(item, dict) and item.get("active") is False:
                    continue  # a deleted user (`active: false`): its numbers are not cached
                record = self.record(item, identities)
                if record is not None:
                    yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """The users created or changed at or after `since` (incremental user export, cursor
        based), and a `DeletedRecord` per user it reports with `active: false` (deleted).

        `start_time` is `since` in Unix seconds, at most one minute before now (the export's own
        lag). Follows `after_cursor` as `cursor` until `end_of_stream` is true. Raises
        `ConnectorError` like `iter_records` (the export allows 10 requests a minute: a 429 with
        Retry-After is waited out per the retry policy).
        """
        start = min(int(since.timestamp()), int(time.time()) - _EXPORT_LAG_SECONDS)
        path = "/api/v2/incremental/users/cursor.json"
        query: dict[str, Any] = {"start_time": start, "include": "identities"}
        seen: set[str] = set()
        for _ in range(self.max_pages):
            document = self._document(self.get_json(path, params=query), path)
            identities = _phone_identities(document.get("identities"))
            for item in document["users"]:
                if isinstance(item, dict) and item.get("active") is False and json_text(item.get("id")):
                    yield DeletedRecord(id=json_text(item.get("id")), type=USER)
                    continue
                record = self.record(item, identities)
                if record is not None:
                    yield record
            cursor = json_text(document.get("after_cursor"))
            if document.get("end_of_stream") is not False or not cursor:
                return
            if cursor in seen:
                raise self._repeated()
            seen.add(cursor)
            query = {"cursor": cursor, "include": "identities"}
        raise self._too_many_pages()

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The users whose phone matches the caller number `e164`, from the search API:
        `query=type:user phone:*{national significant number}` (digits only; the `*` matches
        any country code or trunk prefix written before them). Only the first page (up to 100
        results) is read. Raises `ConnectorError` as `HttpConnector.request` does.
        """
        digits = _search_digits(e164)
        if not digits:
            return []
        document = self.get_json("/api/v2/search.json", params={"query": f"type:user phone:*{digits}"})
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise ConnectorError(
                Text(gettext_noop('%(what)s answered its search without a "results" list.'), what=WHAT),
                permanent=True,
            )
        found = [self.record(item, {}) for item in document["results"]]
        return [record for record in found if isinstance(record, CrmRecord)]

    def test_connection(self) -> None:
        """Read the first page of users (one request); raises `ConnectorError` as listing does."""
        next(self._cursor_pages("/api/v2/users.json"), None)

    def record(
        self, item: Any, identities: Mapping[str, tuple[str, ...]]
    ) -> CrmRecord | SkippedRecord | None:
        """One user as a record (see the class docstring); None without a phone number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a user is not a JSON object but {type(item).__name__}")
        user_id = json_text(item.get("id"))
        if not user_id:
            return SkippedRecord(reason="a user has no id")
        phones: list[RecordPhone] = []
        primary = json_text(item.get("phone"))
        if primary:
            phones.append(RecordPhone(primary, "phone"))
        for number in identities.get(user_id, ()):
            if all(p.number != number for p in phones):
                phones.append(RecordPhone(number, "identity"))
        if not phones:
            return None
        name = json_text(item.get("name"))
        url = f"{self.base_url}/agent/users/{user_id}"
        fields = {
            "DisplayName": name,
            "Identifier": user_id,
            "PopUpUri": url,
            "Email": json_text(item.get("email")),
            "Role": json_text(item.get("role")),
            "OrganizationId": json_text(item.get("organization_id")),
        }
        return CrmRecord(
            id=user_id, type=USER, display_name=name, phones=tuple(phones), url=url, fields=fields
        )


def _phone_identities(value: Any) -> dict[str, tuple[str, ...]]:
    """Sideloaded identities of type `phone_number` by user id: {"35436": ("+3120...",)}."""
    numbers: dict[str, list[str]] = {}
    for identity in value if isinstance(value, list) else []:
        if not isinstance(identity, dict) or identity.get("type") != "phone_number":
            continue
        user_id, number = json_text(identity.get("user_id")), json_text(identity.get("value"))
        if user_id and number:
            numbers.setdefault(user_id, []).append(number)
    return {user_id: tuple(found) for user_id, found in numbers.items()}


def _search_digits(e164: str) -> str:
    """The national significant number of `e164` ("201234567" for +31201234567); its digits
    without the country code's "+" when it does not parse."""
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", e164)


ZENDESK = Preset(
    slug="zendesk",
    name="Zendesk Support",
    description=gettext_noop(
        "The users (customers and agents) of a Zendesk Support account with their phone numbers."
    ),
    settings=(
        SettingField(
            "subdomain",
            gettext_noop("Zendesk subdomain"),
            placeholder="acme",
            help_text=gettext_noop("The name before .zendesk.com in your Zendesk address."),
        ),
        SettingField(
            "auth_kind",
            gettext_noop("Authentication"),
            SettingKind.CHOICE,
            default="api_token",
            choices=AUTH_KINDS,
        ),
        SettingField(
            "email",
            gettext_noop("Agent email"),
            required=False,
            placeholder="admin@example.com",
            help_text=gettext_noop(
                "For an API token: the email address of the agent or admin the token acts as."
            ),
        ),
        SettingField(
            "api_token",
            gettext_noop("API token"),
            SettingKind.SECRET,
            required=False,
            help_text=(
                gettext_noop(
                    "Admin Center > Apps and integrations > APIs > API tokens > Add API token (API token "
                    "access must be turned on under API configuration)."
                )
            ),
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("OAuth client unique identifier"),
            required=False,
            help_text=gettext_noop("For OAuth: Admin Center > Apps and integrations > APIs > OAuth Clients."),
        ),
        SettingField(
            "oauth_client_secret", gettext_noop("OAuth client secret"), SettingKind.SECRET, required=False
        ),
    ),
    connector_class=ZendeskConnector,
    record_types=(USER,),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("Role", gettext_noop("Role (end-user, agent, admin)")),
        RecordField("OrganizationId", gettext_noop("Organization id")),
    ),
    default_notification_fields=("DisplayName", "Email"),
    default_scripts=(DefaultScript("Open user in Zendesk", "$(PopUpUri)", ScriptApplies.ON_MATCH),),
    keywords=("zendesk", "zendesk support", "helpdesk", "tickets", "talk", "service desk"),
    docs_url="https://developer.zendesk.com/api-reference/ticketing/users/users/",
    credentials_url="https://support.zendesk.com/hc/en-us/articles/4408889192858",
    auth_methods=("API token", "OAuth 2.0"),
    paging="cursor (page[after] from meta.after_cursor); incremental export cursor",
    category="Helpdesk",
)
