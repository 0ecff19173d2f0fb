"""Pipedrive: persons and organizations of the API v2, with an API token or OAuth 2.0.

API (https://developers.pipedrive.com/docs/api/v1 and the v2 reference; the official SDK's
docs github.com/pipedrive/client-php `docs/versions/v2/Api/PersonsApi.md`, `Model/PersonItem.md`):

- Host per company: `https://{company domain}.pipedrive.com/api/v2/...`. With OAuth 2.0 the token
  answer's `api_domain` ("https://acme.pipedrive.com") is the host to call
  (https://developers.pipedrive.com/changelog/post/new-parameter-in-oauth-oauthtoken-responses).
- Auth: the personal API token in the `x-api-token` header
  (https://pipedrive.readme.io/docs/core-api-concepts-authentication), or an OAuth access token as
  `Authorization: Bearer` (authorize/token on https://oauth.pipedrive.com, client id and secret as
  HTTP Basic; scopes are chosen in the app's Developer Hub settings, not asked for).
- Listing: `GET /api/v2/persons?limit=100&cursor=...` answers `{"success": true, "data": [...],
  "additional_data": {"next_cursor": "..." | null}}`. A person has `id, name, first_name,
  last_name, org_id, emails[{value, primary, label}], phones[{value, primary, label}], job_title,
  update_time`. Organizations (`GET /api/v2/organizations`) have no standard phone field: their
  numbers live in custom fields of type phone. Their keys (40-character hashes) come from
  `GET /api/v2/organizationFields` (`data[].field_code` where `field_type` is "phone") unless the
  admin lists them in a setting; they are asked for with `custom_fields=` (at most 15 keys).
  Without such fields organizations are not listed.
- Incremental: `updated_since` (RFC 3339) with `sort_by=update_time&sort_direction=asc`.
  Deleted persons are not listed by v2, so deletions are left to the nightly full sync.
- Lookup: `GET /api/v2/persons/search?term=...&fields=phone` (a wrapper of v1 itemSearch) answers
  `{"data": {"items": [{"result_score", "item": {"id", "name", "phones": ["..."], "emails",
  "organization": {"name"}}}]}}`; the national number is the term (not exact: Pipedrive keeps
  numbers as typed).
- Rate limits: a daily token budget per company plus a burst window; over it a 429 with
  `Retry-After` and `X-RateLimit-Limit/-Remaining/-Reset` (seconds) headers
  (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting); the HTTP base honours both.
- Record pages: `https://{company domain}.pipedrive.com/person/{id}` and `/organization/{id}`.
  Pipedrive has no web URL for a new person with a number filled in: no "Create contact" script.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import phonenumbers
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import ApiKeyHeader, HttpConnector, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind

DOCS_URL = "https://developers.pipedrive.com/docs/api/v1"

AUTH_KINDS = (
    ("api_token", "Personal API token"),
    ("oauth2", "OAuth 2.0 (Connect button, Marketplace app)"),
)

# https://developers.pipedrive.com/docs/api/v1/Oauth
PIPEDRIVE_OAUTH = OAuth2Config(
    authorize_url="https://oauth.pipedrive.com/oauth/authorize",
    token_url="https://oauth.pipedrive.com/oauth/token",  # noqa: S106 (a URL)
    token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
    instance_url_field="api_domain",
)

_API_URL_SETTING = "_pipedrive_api_url"
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FIELD_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MAX_CUSTOM_FIELDS = 15
_OBJECTS = {"person": "persons", "organization": "organizations"}


def company_domain(settings: Mapping[str, str]) -> str:
    """The company domain ("acme") from the setting, also when written as a host or URL
    ("acme.pipedrive.com", "https://acme.pipedrive.com/")."""
    text = (settings.get("company_domain") or "").strip().lower()
    text = re.sub(r"^https?://", "", text).split("/", 1)[0]
    return text.removesuffix(".pipedrive.com")


def pipedrive_record_url(domain: str, record_type: str, record_id: str) -> str:
    """`https://{domain}.pipedrive.com/person/{id}` (or `/organization/{id}`); "" without a domain."""
    return f"https://{domain}.pipedrive.com/{record_type}/{record_id}" if domain else ""


def _phone_fields(settings: Mapping[str, str]) -> list[str]:
    text = settings.get("organization_phone_fields") or ""
    return [key for key in (part.strip() for part in text.split(",")) if key]


def _values(value: Any) -> list[str]:
    """The numbers of a phone value: a string, a list of strings or of `{value}` objects."""
    if isinstance(value, list):
        return [number for entry in value for number in _values(entry)]
    if isinstance(value, dict):
        return _values(value.get("value"))
    text = json_text(value)
    return [text] if text else []


class PipedriveConnector(HttpConnector):
    """Lists Pipedrive persons, then organizations (with phone custom fields), see the module doc."""

    what = "Pipedrive"
    supports_incremental = True
    supports_lookup = True
    base_url_setting = _API_URL_SETTING

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        domain = company_domain(self.settings)
        # The API host for the API token; with OAuth the token's `api_domain` takes its place.
        self.settings = {**self.settings, _API_URL_SETTING: f"https://{domain}.pipedrive.com"}
        config = self.oauth_config(self.settings)
        self.auth = OAuth2(config) if config is not None else ApiKeyHeader("x-api-token", setting="api_token")
        self._phone_keys: list[str] | None = None

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config | None:
        """`PIPEDRIVE_OAUTH` when the auth kind is "oauth2", else None (API token)."""
        return PIPEDRIVE_OAUTH if (settings.get("auth_kind") or "").strip() == "oauth2" else None

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A company domain that is not one, a missing API token or OAuth client id, phone field
        keys that are not keys or more than 15 of them."""
        problems: dict[str, str] = {}
        if not _DOMAIN.match(company_domain(settings)):
            problems["company_domain"] = gettext(
                "enter the part before .pipedrive.com of your Pipedrive address."
            )
        kind = (settings.get("auth_kind") or "api_token").strip()
        if kind not in dict(AUTH_KINDS):
            problems["auth_kind"] = gettext("choose one of %(value)s.") % {
                "value": ", ".join(dict(AUTH_KINDS))
            }
        elif kind == "api_token" and not (settings.get("api_token") or "").strip():
            problems["api_token"] = gettext("enter the personal API token (Personal preferences > API).")
        elif kind == "oauth2" and not (settings.get("oauth_client_id") or "").strip():
            problems["oauth_client_id"] = gettext("OAuth 2.0 needs the app's client id.")
        keys = _phone_fields(settings)
        if any(not _FIELD_KEY.match(key) for key in keys) or len(keys) > MAX_CUSTOM_FIELDS:
            problems["organization_phone_fields"] = gettext(
                "give at most %(max_custom_fields)s field keys (letters and digits), comma-separated."
            ) % {"max_custom_fields": MAX_CUSTOM_FIELDS}
        return problems

    # --- records

    def record(self, record_type: str, item: Any) -> CrmRecord | SkippedRecord | None:
        """A person or organization as a `CrmRecord`; a `SkippedRecord` when it is not an object
        with an id; None when it has no phone number. Person phones keep Pipedrive's label (work,
        home, mobile, other); organization phones are typed "work"."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"the {record_type} is not a JSON object")
        record_id = json_text(item.get("id"))
        if not record_id:
            return SkippedRecord(reason=f"the {record_type} has no id")
        phones: list[RecordPhone] = []
        if record_type == "person":
            entries = item.get("phones")
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    phones += [
                        RecordPhone(n, json_text(entry.get("label"))) for n in _values(entry.get("value"))
                    ]
                else:
                    phones += [RecordPhone(n) for n in _values(entry)]  # search results: plain strings
        else:
            custom = item.get("custom_fields")
            custom = custom if isinstance(custom, dict) else {}
            for key in self.organization_phone_fields():
                phones += [RecordPhone(n, "work") for n in _values(custom.get(key))]
        if not phones:
            return None
        name = json_text(item.get("name")) or " ".join(
            t for t in (json_text(item.get("first_name")), json_text(item.get("last_name"))) if t
        )
        url = pipedrive_record_url(company_domain(self.settings), record_type, record_id)
        organization = item.get("organization")
        company = (json_text(organization.get("name")) if isinstance(organization, dict) else "") or (
            name if record_type == "organization" else ""
        )
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": _primary_email(item.get("emails")),
            "Company": company,
            "JobTitle": json_text(item.get("job_title")),
        }
        return CrmRecord(
            id=record_id, type=record_type, display_name=name, phones=tuple(phones), url=url, fields=fields
        )

    def organization_phone_fields(self) -> list[str]:
        """The keys of the organizations' phone fields: the setting's, else those of the custom
        fields of type "phone" that `/api/v2/organizationFields` lists (asked once, at most 15)."""
        if self._phone_keys is None:
            keys = _phone_fields(self.settings)
            if not keys:
                pages = self.pages_by_cursor(
                    "/api/v2/organizationFields",
                    items="data",
                    cursor="additional_data.next_cursor",
                    cursor_param="cursor",
                    size_param="limit",
                )
                keys = [
                    json_text(field.get("field_code"))
                    for page in pages
                    for field in page
                    if isinstance(field, dict)
                    and json_text(field.get("field_type")) == "phone"
                    and json_text(field.get("field_code"))
                ]
            self._phone_keys = keys[:MAX_CUSTOM_FIELDS]
        return self._phone_keys

    def _types(self) -> Iterator[str]:
        yield "person"
        if self.organization_phone_fields():
            yield "organization"

    def pages(self, record_type: str, params: Mapping[str, str] | None = None) -> Iterator[list[Any]]:
        """The v2 list endpoint's pages (`cursor` from `additional_data.next_cursor`)."""
        query = dict(params or {})
        if record_type == "organization":
            query["custom_fields"] = ",".join(self.organization_phone_fields())
        return self.pages_by_cursor(
            f"/api/v2/{_OBJECTS[record_type]}",
            items="data",
            cursor="additional_data.next_cursor",
            cursor_param="cursor",
            size_param="limit",
            params=query,
        )

    def _listing(self, params: Mapping[str, str] | None = None) -> Iterator[CrmRecord | SkippedRecord]:
        for record_type in self._types():
            for page in self.pages(record_type, params):
                for item in page:
                    record = self.record(record_type, item)
                    if record is not None:
                        yield record

    def test_connection(self) -> None:
        """One request: the first page of persons. Raises `ConnectorError` as `request` does."""
        next(self.pages("person"), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every person, then (when organizations have phone fields) every organization, with a
        phone number.

        Raises `ConnectorError` as `HttpConnector.request` and `pages_by_cursor` do.
        """
        return self._listing()

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Persons and organizations updated at or after `since` (`updated_since`, RFC 3339 in
        UTC, sorted by `update_time`). No deletions: v2 does not list deleted records."""
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._listing({"updated_since": stamp, "sort_by": "update_time", "sort_direction": "asc"})

    def lookup(self, e164: str) -> list[CrmRecord]:
        """Persons whose phone holds the caller's national number (`/api/v2/persons/search`,
        `fields=phone`). Raises `ConnectorError` as `request` does, or when the answer has no
        `data.items` list."""
        try:
            term = str(phonenumbers.parse(e164).national_number)
        except phonenumbers.NumberParseException:
            term = re.sub(r"\D", "", e164)
        document = self.get_json(
            "/api/v2/persons/search", params={"term": term, "fields": "phone", "limit": 20}
        )
        found: list[CrmRecord] = []
        for entry in self._items(document, "data.items", url="/api/v2/persons/search"):
            record = self.record("person", entry.get("item") if isinstance(entry, dict) else entry)
            if isinstance(record, CrmRecord):
                found.append(record)
        return found


def _primary_email(emails: Any) -> str:
    if not isinstance(emails, list):
        return ""
    values = [(bool(e.get("primary")), json_text(e.get("value"))) for e in emails if isinstance(e, dict)]
    values += [(False, json_text(e)) for e in emails if isinstance(e, str)]
    values = [v for v in values if v[1]]
    return max(values, key=lambda v: v[0])[1] if values else ""


PIPEDRIVE = Preset(
    slug="pipedrive",
    name="Pipedrive",
    description=gettext_noop("Pipedrive persons and organizations (API v2), with an API token or OAuth 2.0."),
    settings=(
        SettingField(
            "company_domain",
            gettext_noop("Company domain"),
            placeholder="acme",
            help_text=gettext_noop("The part before .pipedrive.com in your Pipedrive address."),
        ),
        SettingField(
            "auth_kind",
            gettext_noop("Authentication"),
            SettingKind.CHOICE,
            default="api_token",
            choices=AUTH_KINDS,
        ),
        SettingField(
            "api_token",
            gettext_noop("Personal API token"),
            SettingKind.SECRET,
            required=False,
            help_text=gettext_noop("Personal preferences > API in Pipedrive."),
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
            "organization_phone_fields",
            gettext_noop("Organization phone fields"),
            required=False,
            placeholder="a1b2c3...",
            help_text=gettext_noop(
                "API keys of organizations' phone custom fields, comma-separated (Company settings "
                "> Data fields); empty: every custom field of type phone."
            ),
        ),
    ),
    default_scripts=(DefaultScript("Open in Pipedrive", "$(PopUpUri)", ScriptApplies.ON_MATCH),),
    connector_class=PipedriveConnector,
    record_types=("person", "organization"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Organization")),
        RecordField("JobTitle", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company",),
    keywords=("pipedrive", "pipe drive", "crm", "sales"),
    docs_url=DOCS_URL,
    credentials_url="https://pipedrive.readme.io/docs/how-to-find-the-api-token",
    auth_methods=("API token", "OAuth 2.0"),
    paging="cursor (next_cursor)",
    category="CRM",
)
