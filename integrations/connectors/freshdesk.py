"""Freshdesk: the contacts (customers) of a Freshdesk account with their phone and mobile numbers.

Follows the Freshdesk API v2 (https://developers.freshdesk.com/api/):

- Host: `https://{domain}.freshdesk.com/api/v2/` (the domain setting).
- Auth: HTTP Basic with the API key as user name and `X` as password.
- Listing: `GET /api/v2/contacts?per_page=100` (a bare JSON array; `per_page` at most 100), the
  next page announced in the `Link: <...>; rel="next"` header, absent on the last page.
- Phone fields: `phone` (work) and `mobile`. Companies have no phone field, so only contacts are
  listed; agents are staff, not callers.
- Incremental: the same list with `_updated_since=2026-03-10T09:00:00Z`; soft-deleted contacts
  from `state=deleted` (every one, as a `DeletedRecord`: the filter is documented alone).
- Live lookup: `GET /api/v2/search/contacts?query="phone:'...' OR mobile:'...'"` (the whole
  query in double quotes; answer `{"results": [...], "total": n}`), with the number in E.164 and
  in national digits, as Freshdesk compares the stored text.
- Rate limits: per minute per account; 429 with `Retry-After` (seconds) and
  `X-RateLimit-Total`/`X-RateLimit-Remaining`, which the HTTP base honours.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import phonenumbers
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, DeletedRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import Basic, HttpConnector, json_text
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Freshdesk"
CONTACT = "contact"
CONTACTS_PATH = "/api/v2/contacts"
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# (field, type label) of a contact's numbers, in the order Freshdesk's contact form shows them.
PHONE_FIELDS = (("phone", "work"), ("mobile", "mobile"))


def freshdesk_domain(settings: Mapping[str, str]) -> str:
    """The account's name ("acme" of acme.freshdesk.com), lower-cased; "" when it is not a bare
    name (the create-contact script builds its URL from it too)."""
    value = (settings.get("domain") or "").strip().lower()
    return value if _DOMAIN.match(value) else ""


class FreshdeskConnector(HttpConnector):
    """Lists a Freshdesk account's contacts with a phone or mobile number (see the module docstring).

    Record shape: `id` the contact id, `type` "contact", `display_name` its `name`, phones
    `phone` (type "work") and `mobile` (type "mobile"); `url`
    `https://{domain}.freshdesk.com/a/contacts/{id}`; fields Email, JobTitle, CompanyId.
    """

    what = WHAT
    auth = Basic(username_setting="api_key", password="X")  # noqa: S106 (Freshdesk's fixed password)
    supports_incremental = True
    supports_lookup = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        domain = freshdesk_domain(self.settings)
        self.instance_url = f"https://{domain}.freshdesk.com" if domain else ""

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A domain that is not an account name of freshdesk.com."""
        if freshdesk_domain(settings):
            return {}
        return {"domain": 'Give your Freshdesk name: "acme" for https://acme.freshdesk.com.'}

    @property
    def base_url(self) -> str:
        """`https://{domain}.freshdesk.com`; a permanent `ConnectorError` without a valid domain."""
        if not self.instance_url:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        'The Freshdesk domain is missing or not an account name ("acme" for '
                        "https://acme.freshdesk.com)."
                    )
                ),
                permanent=True,
            )
        return super().base_url

    def _pages(self, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        return self.pages_by_next_link(
            CONTACTS_PATH, items="$", params={"per_page": self.page_size, **params}
        )

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact with a phone or mobile number, following the `Link` header's next page.

        Raises `ConnectorError` as `HttpConnector.request` does, a permanent one when a page is
        not a JSON array, a temporary one when a next link repeats.
        """
        for page in self._pages({}):
            for item in page:
                record = self.record(item)
                if record is not None:
                    yield record

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord | DeletedRecord]:
        """The contacts updated at or after `since` (`_updated_since`, UTC, ISO 8601), then a
        `DeletedRecord` per soft-deleted contact (`state=deleted`). A listed contact marked
        `deleted: true` is reported deleted too. Raises `ConnectorError` like `iter_records`.
        """
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for page in self._pages({"_updated_since": stamp}):
            for item in page:
                if isinstance(item, dict) and item.get("deleted") is True and json_text(item.get("id")):
                    yield DeletedRecord(id=json_text(item.get("id")), type=CONTACT)
                    continue
                record = self.record(item)
                if record is not None:
                    yield record
        for page in self._pages({"state": "deleted"}):
            for item in page:
                contact_id = json_text(item.get("id")) if isinstance(item, dict) else ""
                if contact_id:
                    yield DeletedRecord(id=contact_id, type=CONTACT)
                else:
                    yield SkippedRecord(reason="a deleted contact has no id")

    def lookup(self, e164: str) -> list[CrmRecord]:
        """The contacts whose phone or mobile is the caller number `e164`, written as E.164 or
        as national digits ("0201234567"), from the contact search (first page, 30 results).
        Raises `ConnectorError` as `HttpConnector.request` does, a permanent one when the answer
        has no `results` list.
        """
        forms = _written_forms(e164)
        terms = " OR ".join(f"{name}:'{form}'" for form in forms for name, _ in PHONE_FIELDS)
        document = self.get_json("/api/v2/search/contacts", params={"query": f'"{terms}"'})
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise ConnectorError(
                Text(
                    gettext_noop('%(what)s answered its contact search without a "results" list.'), what=WHAT
                ),
                permanent=True,
            )
        found = [self.record(item) for item in document["results"]]
        return [record for record in found if isinstance(record, CrmRecord)]

    def test_connection(self) -> None:
        """Read the first page of contacts (one request); raises `ConnectorError` as listing does."""
        next(self._pages({}), None)

    def record(self, item: Any) -> CrmRecord | SkippedRecord | None:
        """One contact as a record (see the class docstring); None without a number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"a contact is not a JSON object but {type(item).__name__}")
        contact_id = json_text(item.get("id"))
        if not contact_id:
            return SkippedRecord(reason="a contact has no id")
        phones = tuple(
            RecordPhone(number, label)
            for name, label in PHONE_FIELDS
            if (number := json_text(item.get(name)))
        )
        if not phones:
            return None
        name = json_text(item.get("name"))
        url = f"{self.base_url}/a/contacts/{contact_id}"
        fields = {
            "DisplayName": name,
            "Identifier": contact_id,
            "PopUpUri": url,
            "Email": json_text(item.get("email")),
            "JobTitle": json_text(item.get("job_title")),
            "CompanyId": json_text(item.get("company_id")),
        }
        return CrmRecord(
            id=contact_id, type=CONTACT, display_name=name, phones=phones, url=url, fields=fields
        )


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


FRESHDESK = Preset(
    slug="freshdesk",
    name="Freshdesk",
    description=gettext_noop("The contacts of a Freshdesk helpdesk with their work and mobile numbers."),
    settings=(
        SettingField(
            "domain",
            gettext_noop("Freshdesk domain"),
            placeholder="acme",
            help_text=gettext_noop("The name before .freshdesk.com in your helpdesk's address."),
        ),
        SettingField(
            "api_key",
            gettext_noop("API key"),
            SettingKind.SECRET,
            help_text=gettext_noop(
                "Profile picture > Profile settings > View API key (an agent with access to contacts)."
            ),
        ),
    ),
    connector_class=FreshdeskConnector,
    record_types=(CONTACT,),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("JobTitle", gettext_noop("Job title")),
        RecordField("CompanyId", gettext_noop("Company id")),
    ),
    default_notification_fields=("DisplayName", "Email"),
    default_scripts=(
        DefaultScript("Open contact in Freshdesk", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        DefaultScript(
            "Create contact in Freshdesk",
            "https://{domain}.freshdesk.com/a/contacts/new?phone=#(Caller number:e164)",
            ScriptApplies.ON_NO_MATCH,
        ),
    ),
    keywords=("freshdesk", "freshworks", "helpdesk", "tickets", "support", "freshcaller"),
    docs_url="https://developers.freshdesk.com/api/#contacts",
    credentials_url="https://support.freshdesk.com/support/solutions/articles/215517-how-to-find-your-api-key",
    auth_methods=("API key",),
    paging="page number (per_page 100), Link header rel=next",
    category="Helpdesk",
)
