"""Insightly CRM (API v3.1): contacts, organisations and leads with their phone numbers.

API: https://api.na1.insightly.com/v3.1/ (the pod's own copy of the v3.1 reference).

- Auth: HTTP Basic with the user's API key as the user name and an empty password (User
  Settings -> API shows the key and the API URL `https://api.{pod}.insightly.com/v3.1/`).
- Host: per pod (`na1`, `eu1`, `au1`): a CHOICE setting; the web UI of the same pod is
  `https://crm.{pod}.insightly.com`.
- Listing: `GET /v3.1/Contacts|Organisations|Leads?brief=true&top=N&skip=M`, answered with a bare
  JSON array (at most 500 records, 100 by default); the last page is the short one.
- Changes: `GET /v3.1/{Object}/Search?updated_after_utc=2026-03-10T09:00:00Z&top=&skip=`; the API
  reports no deletions (the nightly full sync removes deleted records).
- Limits: about 10 requests per second and a daily allowance per plan, both answered with HTTP
  429 and `X-RateLimit-Limit`/`X-RateLimit-Remaining` headers; when the daily allowance is used
  up (`X-RateLimit-Remaining: 0`, no `Retry-After`) nothing succeeds until the next day, so
  the sync is rescheduled for the next UTC midnight instead of being retried now.
- Screen pop: `https://crm.{pod}.insightly.com/details/{Contact|Organisation|Lead}/{id}`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import Basic, HttpConnector, json_text
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Insightly"
DOCS_URL = "https://api.na1.insightly.com/v3.1/"
CREDENTIALS_URL = "https://support.insight.ly/en-US/Knowledge/article/2775"
PODS = (
    ("na1", "North America (na1)"),
    ("eu1", "Europe (eu1)"),
    ("au1", "Australia (au1)"),
)
MAX_PAGE_SIZE = 500  # Insightly answers at most 500 records per request.
_POD = re.compile(r"^[a-z]{2,4}[0-9]{1,2}$")


@dataclass(frozen=True)
class InsightlyObject:
    """One listed Insightly object: its endpoint, id key, record type and phone keys with labels."""

    endpoint: str
    id_key: str
    record_type: str
    web_name: str
    phones: tuple[tuple[str, str], ...]


# Phone keys per object (API v3.1 models): contacts have six, organisations two, leads three.
OBJECTS: tuple[InsightlyObject, ...] = (
    InsightlyObject(
        "Contacts",
        "CONTACT_ID",
        "contact",
        "Contact",
        (
            ("PHONE", "work"),
            ("PHONE_MOBILE", "mobile"),
            ("PHONE_HOME", "home"),
            ("PHONE_OTHER", "other"),
            ("PHONE_ASSISTANT", "assistant"),
            ("PHONE_FAX", "fax"),
        ),
    ),
    InsightlyObject(
        "Organisations",
        "ORGANISATION_ID",
        "organisation",
        "Organisation",
        (("PHONE", "work"), ("PHONE_FAX", "fax")),
    ),
    InsightlyObject(
        "Leads", "LEAD_ID", "lead", "Lead", (("PHONE", "work"), ("MOBILE", "mobile"), ("FAX", "fax"))
    ),
)


def insightly_pod(settings: Mapping[str, str]) -> str:
    """The pod setting ("na1"), lower-cased; a permanent `ConnectorError` when it is not a pod name."""
    pod = (settings.get("pod") or "").strip().lower()
    if not _POD.match(pod):
        raise ConnectorError(
            Text(
                gettext_noop(
                    '"%(pod)s" is not an Insightly pod: it is the part after "api." in the '
                    "API URL that User Settings shows (na1 in "
                    "https://api.na1.insightly.com/v3.1/)."
                ),
                pod=pod,
            ),
            permanent=True,
        )
    return pod


def page_size_of(settings: Mapping[str, str]) -> int:
    """The page size setting (1..500, default 500); a permanent `ConnectorError` otherwise."""
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


def seconds_to_next_utc_day(now: dt.datetime | None = None) -> float:
    """Seconds from `now` (default: the current time) until the next midnight UTC."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


class InsightlyConnector(HttpConnector):
    """Lists Insightly contacts, organisations and leads (see the module docstring)."""

    what = WHAT
    auth = Basic("api_key")  # the API key as user name, empty password
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pod = insightly_pod(self.settings)
        self.page_size = page_size_of(self.settings)
        self.instance_url = f"https://api.{self.pod}.insightly.com/v3.1/"

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """An unusable pod or page size, by setting name."""
        problems: dict[str, str] = {}
        for name, check in (("pod", insightly_pod), ("page_size", page_size_of)):
            try:
                check(settings)
            except ConnectorError as exc:
                problems[name] = exc.message
        return problems

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """The base's wait (Retry-After, X-RateLimit-Reset); for a 429 that used up the daily
        allowance (`X-RateLimit-Remaining: 0` and neither header), the time to the next UTC day."""
        asked = super()._requested_wait(response)
        if asked is None and response.status_code == 429:
            remaining = response.headers.get("X-RateLimit-Remaining", "").strip()
            if remaining == "0":
                return seconds_to_next_utc_day()
        return asked

    def pages(self, obj: InsightlyObject, *, since: dt.datetime | None = None) -> Iterator[list[Any]]:
        """The pages (bare JSON arrays) of one object, or of its `/Search` changed since `since`."""
        params: dict[str, Any] = {"brief": "true"}
        path = obj.endpoint
        if since is not None:
            path = f"{obj.endpoint}/Search"
            params["updated_after_utc"] = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.pages_by_offset(
            path, items="", offset_param="skip", limit_param="top", params=params, page_size=self.page_size
        )

    def test_connection(self) -> None:
        """Fetch the first page of contacts; raises `ConnectorError` as `HttpConnector.request`."""
        next(self.pages(OBJECTS[0]), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Contacts, then organisations, then leads that have a phone number.

        Record shape: `id` the object's id, `type` "contact"/"organisation"/"lead", `phones`
        every non-empty phone key with its label (PHONE "work", PHONE_MOBILE/MOBILE "mobile",
        PHONE_HOME "home", PHONE_OTHER "other", PHONE_ASSISTANT "assistant", PHONE_FAX/FAX
        "fax"), `url` the record in the pod's web UI. Items that are not objects or have no id
        are `SkippedRecord`s. Raises `ConnectorError` as `HttpConnector.request`/`pages_by_offset`.
        """
        for obj in OBJECTS:
            yield from self._records(obj, since=None)

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """The records updated after `since` (each object's `/Search?updated_after_utc=`), mapped
        like `iter_records`; Insightly reports no deletions."""
        for obj in OBJECTS:
            yield from self._records(obj, since=since)

    def _records(
        self, obj: InsightlyObject, *, since: dt.datetime | None
    ) -> Iterator[CrmRecord | SkippedRecord]:
        for page in self.pages(obj, since=since):
            for item in page:
                record = self.record(obj, item)
                if record is not None:
                    yield record

    def record(self, obj: InsightlyObject, item: Any) -> CrmRecord | SkippedRecord | None:
        """One listed item as a record, a `SkippedRecord`, or None when it has no phone number."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"an Insightly {obj.record_type} is not a JSON object")
        record_id = json_text(item.get(obj.id_key))
        if not record_id:
            return SkippedRecord(reason=f"an Insightly {obj.record_type} has no {obj.id_key}")
        phones = tuple(
            RecordPhone(number=number, type=label)
            for key, label in obj.phones
            if (number := json_text(item.get(key)))
        )
        if not phones:
            return None
        person = " ".join(
            t for t in (json_text(item.get("FIRST_NAME")), json_text(item.get("LAST_NAME"))) if t
        )
        organisation = json_text(item.get("ORGANISATION_NAME"))
        name = organisation if obj.record_type == "organisation" else person or organisation
        email = json_text(item.get("EMAIL_ADDRESS") if obj.record_type == "contact" else item.get("EMAIL"))
        url = f"https://crm.{self.pod}.insightly.com/details/{obj.web_name}/{record_id}"
        fields = {
            "DisplayName": name,
            "Identifier": record_id,
            "PopUpUri": url,
            "Email": email,
            "Company": organisation,
            "JobTitle": json_text(item.get("TITLE")),
        }
        return CrmRecord(
            id=record_id, type=obj.record_type, display_name=name, phones=phones, url=url, fields=fields
        )


INSIGHTLY = Preset(
    slug="insightly",
    name="Insightly",
    description=gettext_noop(
        "Insightly CRM: contacts, organisations and leads, synced nightly with hourly changes."
    ),
    settings=(
        SettingField(
            "pod",
            gettext_noop("Pod (data centre)"),
            SettingKind.CHOICE,
            default="na1",
            choices=PODS,
            help_text=gettext_noop(
                'The part after "api." in the API URL under User Settings -> API '
                "(na1 in https://api.na1.insightly.com/v3.1/)."
            ),
        ),
        SettingField(
            "api_key",
            gettext_noop("API key"),
            SettingKind.SECRET,
            help_text=gettext_noop(
                "User Settings -> API -> API key; records are read with that user's permissions."
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
    default_scripts=(
        DefaultScript("Open in Insightly", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),
    ),
    connector_class=InsightlyConnector,
    record_types=("contact", "organisation", "lead"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Organisation")),
        RecordField("JobTitle", gettext_noop("Title")),
    ),
    default_notification_fields=("Company", "JobTitle"),
    keywords=("insightly", "insight.ly", "crm", "leads", "organisations"),
    docs_url=DOCS_URL,
    credentials_url=CREDENTIALS_URL,
    auth_methods=("API key (HTTP Basic)",),
    paging="offset (skip/top, 500 per page)",
    category="CRM",
)
