"""Zammad: the users (customers and agents) of a Zammad helpdesk with their phone and mobile numbers.

Follows the Zammad REST API (https://docs.zammad.org/en/latest/api/intro.html and
https://docs.zammad.org/en/latest/api/user.html):

- Host: the helpdesk's address, self-hosted or `https://{name}.zammad.com` (the base URL setting).
- Auth: an access token as `Authorization: Token token={token}` (the user's Profile > Token
  Access; the token's user needs `ticket.agent` or `admin.user` to read every user).
- Listing: `GET /api/v1/users?page=N&per_page=100&expand=true`, a bare JSON array; Zammad gives
  no total, so the listing ends at the first page shorter than `per_page`. `expand=true` adds
  the organization's name. Organizations have no phone field, so only users are listed.
- Phone fields: `phone` (work) and `mobile`.
- Incremental: the user search `GET /api/v1/users/search?query=updated_at:[{date} TO *]` sorted
  by `updated_at` (Elasticsearch query syntax of Zammad's search, day precision, so a few
  unchanged users of that day come along); Zammad reports no deletions (the nightly full sync
  removes them).
- Live lookup: the same search with `phone:"..." OR mobile:"..."` for the number in E.164 and
  in national digits (Zammad compares the stored text).
- Rate limits: none documented; a 429 with Retry-After is honoured by the HTTP base.
- Screen pop: `{base}/#user/profile/{id}` (the web client's route `user/profile/:user_id`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import phonenumbers
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import ApiKeyHeader, HttpConnector, json_text
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Zammad"
USER = "user"
USERS_PATH = "api/v1/users"  # relative: a Zammad below a path (https://example.com/zammad/) keeps it
SEARCH_PATH = "api/v1/users/search"
# (field, type label) of a user's numbers; `fax` is left out (no caller).
PHONE_FIELDS = (("phone", "work"), ("mobile", "mobile"))


class ZammadConnector(HttpConnector):
    """Lists a Zammad helpdesk's users with a phone or mobile number (see the module docstring).

    Record shape: `id` the user id, `type` "user", `display_name` `firstname lastname` (else
    the email or login), phones `phone` (type "work") and `mobile` (type "mobile"); `url`
    `{base}/#user/profile/{id}`; fields Email, Company (the organization, from `expand=true`),
    Department.
    """

    what = WHAT
    auth = ApiKeyHeader("Authorization", setting="api_token", prefix="Token token=")
    supports_incremental = True
    supports_lookup = True

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        return self.pages_by_page_number(path, items="$", params={**params, "expand": "true"})

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every user with a phone or mobile number, page by page until a short page.

        Raises `ConnectorError` as `HttpConnector.request` does, a permanent one when a page is
        not a JSON array, a temporary one when a page repeats the previous one.
        """
        for page in self._pages(USERS_PATH, {}):
            for item in page:
                record = self.record(item)
                if record is not None:
                    yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """The users updated on or after the UTC day of `since`, from the user search
        (`query=updated_at:[YYYY-MM-DD TO *]`, `sort_by=updated_at`, `order_by=asc`), paged like
        `iter_records`. No `DeletedRecord`s: Zammad does not list deleted users.
        """
        day = since.astimezone(dt.UTC).strftime("%Y-%m-%d")
        params = {"query": f"updated_at:[{day} TO *]", "sort_by": "updated_at", "order_by": "asc"}
        for page in self._pages(SEARCH_PATH, params):
            for item in page:
                record = self.record(item)
                if record is not None:
                    yield record

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The users whose phone or mobile is the caller number `e164` written as E.164 or as
        national digits, from the user search (first answer only, `limit=20`). Raises
        `ConnectorError` as `HttpConnector.request` does, a permanent one when the answer is not
        a JSON array.
        """
        terms = " OR ".join(f'{name}:"{form}"' for form in _written_forms(e164) for name, _ in PHONE_FIELDS)
        document = self.get_json(SEARCH_PATH, params={"query": terms, "limit": 20, "expand": "true"})
        if not isinstance(document, list):
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s answered its user search with something other than a list."),
                    what=WHAT,
                ),
                permanent=True,
            )
        found = [self.record(item) for item in document]
        return [record for record in found if isinstance(record, CrmRecord)]

    def test_connection(self) -> None:
        """Read the first page of users (one request); raises `ConnectorError` as listing does."""
        next(self._pages(USERS_PATH, {}), None)

    def record(self, item: Any) -> CrmRecord | SkippedRecord | None:
        """One user as a record (see the class docstring); None without a number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a user is not a JSON object but {type(item).__name__}")
        user_id = json_text(item.get("id"))
        if not user_id:
            return SkippedRecord(reason="a user has no id")
        phones = tuple(
            RecordPhone(number, label)
            for name, label in PHONE_FIELDS
            if (number := json_text(item.get(name)))
        )
        if not phones:
            return None
        full_name = " ".join(
            t for t in (json_text(item.get("firstname")), json_text(item.get("lastname"))) if t
        )
        name = full_name or json_text(item.get("email")) or json_text(item.get("login"))
        url = f"{self.base_url.rstrip('/')}/#user/profile/{user_id}"
        fields = {
            "DisplayName": name,
            "Identifier": user_id,
            "PopUpUri": url,
            "Email": json_text(item.get("email")),
            "Company": json_text(item.get("organization")),
            "Department": json_text(item.get("department")),
        }
        return CrmRecord(id=user_id, type=USER, display_name=name, phones=phones, url=url, fields=fields)


def _written_forms(e164: str) -> tuple[str, ...]:
    """`e164` and its national digits ("+31201234567", "0201234567"); only `e164` when it does
    not parse."""
    try:
        national = phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    except phonenumbers.NumberParseException:
        return (e164,)
    digits = re.sub(r"\D", "", national)
    return (e164, digits) if digits and digits != e164 else (e164,)


ZAMMAD = Preset(
    slug="zammad",
    name="Zammad",
    description=gettext_noop(
        "The users (customers and agents) of a Zammad helpdesk with their phone and mobile numbers."
    ),
    settings=(
        SettingField(
            "base_url",
            gettext_noop("Zammad address"),
            SettingKind.URL,
            placeholder="https://helpdesk.example.com",
            help_text=gettext_noop("Your Zammad's address, self-hosted or https://<name>.zammad.com."),
        ),
        SettingField(
            "api_token",
            gettext_noop("Access token"),
            SettingKind.SECRET,
            help_text=(
                gettext_noop(
                    "Avatar > Profile > Token Access > Create, with the ticket.agent permission "
                    "(an agent's token can read every user)."
                )
            ),
        ),
    ),
    connector_class=ZammadConnector,
    record_types=(USER,),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("Company", gettext_noop("Organization")),
        RecordField("Department", gettext_noop("Department")),
    ),
    default_notification_fields=("DisplayName", "Company"),
    default_scripts=(DefaultScript("Open user in Zammad", "$(PopUpUri)", ScriptApplies.ON_MATCH),),
    keywords=("zammad", "helpdesk", "tickets", "support", "open source", "service desk"),
    docs_url="https://docs.zammad.org/en/latest/api/user.html",
    credentials_url="https://docs.zammad.org/en/latest/api/intro.html#authentication",
    auth_methods=("Access token",),
    paging="page number (page, per_page 100)",
    category="Helpdesk",
)
