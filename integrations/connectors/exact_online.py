"""Exact Online: CRM contacts and accounts of one division (administration), REST/OData, OAuth 2.0.

Exact Online runs one site per country (start.exactonline.nl, .be, .de, .fr, .co.uk, .com, .es;
the admin picks it). OAuth 2.0 authorization code at `{site}/api/oauth2/auth` and
`{site}/api/oauth2/token`; the API is `{site}/api/v1/{division}/...`, the division being the
setting when given, else the user's current division from `GET /api/v1/current/Me`
(`d.results[0].CurrentDivision`).

Listing: `GET /api/v1/{division}/crm/Contacts` and `crm/Accounts` with `$select`, answers
`{"d": {"results": [...], "__next": "<absolute URL of the next page>"}}` (60 rows per page).
Incremental: the same with `$filter=Modified ge datetime'...'` (deletions are not listed; the
nightly full sync removes them). Rate limits: a daily and a minutely window, announced on every
answer by `X-RateLimit-Remaining`/`-Reset` and `X-RateLimit-Minutely-Remaining`/`-Reset`, the
resets as Unix times in MILLISECONDS (not the seconds `http_base.rate_limit_wait` reads): when
a window is used up the next request waits for its reset, or the sync stops with that
`retry_after` (`exact_rate_limit_wait`). Over a limit Exact answers 429.
Sources: https://start.exactonline.nl/docs/HlpRestAPIResources.aspx (resources),
https://support.exactonline.com/community/s/knowledge-base#All-All-DNO-Simulation-gen-apilimits
(limits); the field names, hosts and header units as the picqer/exact-php-client SDK uses them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector, json_path_first, json_text
from integrations.oauth import OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "Exact Online"
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("nl", "Netherlands (start.exactonline.nl)"),
    ("be", "Belgium (start.exactonline.be)"),
    ("de", "Germany (start.exactonline.de)"),
    ("fr", "France (start.exactonline.fr)"),
    ("co.uk", "United Kingdom (start.exactonline.co.uk)"),
    ("com", "United States (start.exactonline.com)"),
    ("es", "Spain (start.exactonline.es)"),
)
DEFAULT_COUNTRY = "nl"
SITE = "https://start.exactonline.{country}"

EXACT_OAUTH = OAuth2Config(
    authorize_url=SITE + "/api/oauth2/auth",
    token_url=SITE + "/api/oauth2/token",
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
)


@dataclass(frozen=True)
class Entity:
    """An Exact CRM entity we list: its path below the division, our record type, `$select`,
    the phone fields with type labels, the name, company and job title fields, and the web UI
    card (page and id parameter)."""

    path: str
    record_type: str
    select: str
    phones: tuple[tuple[str, str], ...]
    name_field: str
    company_field: str
    title_field: str
    card: str
    card_id: str


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "crm/Contacts",
        "contact",
        select="ID,FullName,Phone,Mobile,BusinessPhone,BusinessMobile,Email,AccountName,JobTitleDescription",
        phones=(
            ("Phone", "work"),
            ("Mobile", "mobile"),
            ("BusinessPhone", "work"),
            ("BusinessMobile", "mobile"),
        ),
        name_field="FullName",
        company_field="AccountName",
        title_field="JobTitleDescription",
        card="CRMContactCard.aspx",
        card_id="ContactID",
    ),
    Entity(
        "crm/Accounts",
        "company",
        select="ID,Name,Phone,Email",
        phones=(("Phone", "work"),),
        name_field="Name",
        company_field="Name",
        title_field="",
        card="CRMAccountCard.aspx",
        card_id="AccountID",
    ),
)


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None


def exact_rate_limit_wait(response: httpx.Response, *, now: dt.datetime | None = None) -> float | None:
    """Seconds until Exact's used-up window resets, None when both have requests left.

    Reads `X-RateLimit-Minutely-Remaining`/`-Reset` and the daily `X-RateLimit-Remaining`/`-Reset`;
    the resets are Unix times in milliseconds. With both used up, the longer wait wins.
    """
    now_ms = (now or dt.datetime.now(dt.UTC)).timestamp() * 1000
    waits = []
    for prefix in ("X-RateLimit-Minutely-", "X-RateLimit-"):
        remaining = _number(response.headers.get(prefix + "Remaining"))
        reset = _number(response.headers.get(prefix + "Reset"))
        if remaining is not None and remaining <= 0 and reset is not None:
            waits.append(max(0.0, (reset - now_ms) / 1000))
    return max(waits) if waits else None


def card_url(site: str, division: str, entity: Entity, record_id: str) -> str:
    """The record's card in Exact Online's web UI:
    `{site}/docs/CRMAccountCard.aspx?_Division_={division}&AccountID=%7b{guid}%7d` (contacts:
    `CRMContactCard.aspx` with `ContactID`)."""
    return f"{site}/docs/{entity.card}?_Division_={division}&{entity.card_id}=%7b{record_id}%7d"


class ExactOnlineConnector(HttpConnector):
    """Lists the Exact Online contacts and accounts of one division that have phone numbers."""

    what = WHAT
    auth = OAuth2(EXACT_OAUTH)
    base_url_setting = "_exact_site"
    page_size = 60
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        country = (self.settings.get("country") or DEFAULT_COUNTRY).strip()
        self.site = SITE.format(country=country)
        self.settings = {**self.settings, self.base_url_setting: self.site}
        self._division = (self.settings.get("division") or "").strip()

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """OAuth 2.0 authorization code at the chosen country's site."""
        return EXACT_OAUTH

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """A country that is not one of `COUNTRIES`, a division that is not a number."""
        problems: dict[str, str] = {}
        country = (settings.get("country") or DEFAULT_COUNTRY).strip()
        if country not in dict(COUNTRIES):
            problems["country"] = gettext(
                '"%(country)s" is not an Exact Online country; choose one of %(value)s.'
            ) % {"country": country, "value": ", ".join(dict(COUNTRIES))}
        division = (settings.get("division") or "").strip()
        if division and not division.isdigit():
            problems["division"] = gettext(
                "the division is a number (the code shown before the company name)."
            )
        return problems

    # --- Exact's rate limits

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """`HttpConnector.request`, then the wait Exact's own rate-limit headers announce
        (`exact_rate_limit_wait`, millisecond resets) in place of the generic reading."""
        response = super().request(method, path_or_url, params=params, json=json, headers=headers)
        self._pending_wait = exact_rate_limit_wait(response)
        return response

    def _requested_wait(self, response: httpx.Response) -> float | None:
        """Retry-After when given, else the reset of Exact's used-up window."""
        asked = super()._requested_wait(response) if "Retry-After" in response.headers else None
        return asked if asked is not None else exact_rate_limit_wait(response)

    # --- Listing

    @property
    def division(self) -> str:
        """The division to read: the setting, else `CurrentDivision` of `GET /api/v1/current/Me`.

        Raises `ConnectorError` (permanent) when Me has no current division.
        """
        if not self._division:
            document = self.get_json("/api/v1/current/Me", params={"$select": "CurrentDivision"})
            current = json_text(json_path_first(document, "d.results[0].CurrentDivision"))
            if not current.isdigit():
                raise ConnectorError(
                    Text(
                        gettext_noop(
                            "%(what)s did not say which division (administration) the user works "
                            "in; set the division in the settings."
                        ),
                        what=WHAT,
                    ),
                    permanent=True,
                )
            self._division = current
        return self._division

    def record(self, entity: Entity, item: Any) -> CrmRecord | SkippedRecord | None:
        """An Exact contact or account as a `CrmRecord`; None without numbers; a `SkippedRecord`
        when it is not an object with an `ID`."""
        if not isinstance(item, dict):
            return SkippedRecord(reason=f"an item of {entity.path} is not an object")
        record_id = json_text(item.get("ID"))
        if not record_id:
            return SkippedRecord(reason=f"a record of {entity.path} has no ID")
        phones: list[RecordPhone] = []
        for field, label in entity.phones:
            number = json_text(item.get(field))
            if number and number not in [phone.number for phone in phones]:
                phones.append(RecordPhone(number=number, type=label))
        if not phones:
            return None
        name = json_text(item.get(entity.name_field))
        return CrmRecord(
            id=record_id,
            type=entity.record_type,
            display_name=name or record_id,
            phones=tuple(phones),
            url=card_url(self.site, self.division, entity, record_id),
            fields={
                "Email": json_text(item.get("Email")),
                "Company": json_text(item.get(entity.company_field)),
                "JobTitle": json_text(item.get(entity.title_field)) if entity.title_field else "",
            },
        )

    def _listing(self, odata_filter: str = "") -> Iterator[CrmRecord | SkippedRecord]:
        for entity in ENTITIES:
            params = {"$select": entity.select}
            if odata_filter:
                params["$filter"] = odata_filter
            path = f"/api/v1/{self.division}/{entity.path}"
            for page in self.pages_by_next_link(path, items="d.results", next_link="d.__next", params=params):
                for item in page:
                    record = self.record(entity, item)
                    if record is not None:
                        yield record

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact and account with a phone number, following `d.__next`."""
        return self._listing()

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Contacts and accounts modified at or after `since`: `$filter=Modified ge
        datetime'YYYY-MM-DDTHH:MM:SS'` with `since` in UTC and no zone (Exact reads zone-less
        times as its own local time, ahead of UTC in every country it runs, so this can only
        list more, never fewer)."""
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._listing(f"Modified ge datetime'{stamp}'")

    def test_connection(self) -> None:
        """One authenticated request: the current division (`current/Me`), or with the division
        set the first page of its contacts. Raises `ConnectorError` saying what is wrong."""
        if not self._division:
            _ = self.division
            return
        entity = ENTITIES[0]
        path = f"/api/v1/{self._division}/{entity.path}"
        pages = self.pages_by_next_link(
            path, items="d.results", next_link="d.__next", params={"$select": entity.select}
        )
        next(iter(pages), None)


EXACT_ONLINE = Preset(
    slug="exact_online",
    name="Exact Online",
    description=gettext_noop(
        "Exact Online CRM contacts and accounts of one division (REST API, OAuth 2.0, per country)."
    ),
    settings=(
        SettingField(
            "country", gettext_noop("Country"), SettingKind.CHOICE, default=DEFAULT_COUNTRY, choices=COUNTRIES
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("Client ID"),
            help_text=gettext_noop(
                "Of an app registered in the Exact Online App Center (apps.exactonline.com)."
            ),
        ),
        SettingField("oauth_client_secret", gettext_noop("Client secret"), SettingKind.SECRET),
        SettingField(
            "division",
            gettext_noop("Division"),
            required=False,
            help_text=gettext_noop(
                "Optional: the division (administration) number; empty = the user's current division."
            ),
        ),
    ),
    connector_class=ExactOnlineConnector,
    record_types=("contact", "company"),
    fields=(
        RecordField("Email", gettext_noop("Email")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("JobTitle", gettext_noop("Job title")),
    ),
    default_notification_fields=("DisplayName", "Company"),
    default_scripts=(DefaultScript("Open record", "$(PopUpUri)", ScriptApplies.ON_MATCH, auto_open=True),),
    keywords=("exact", "exact online", "eol", "boekhouding", "accounting", "administratie"),
    docs_url="https://start.exactonline.nl/docs/HlpRestAPIResources.aspx",
    credentials_url="https://support.exactonline.com/community/s/knowledge-base#All-All-DNO-Content-oauth-eol-oauth-dev-impleovervw",
    auth_methods=("OAuth 2.0",),
    paging="next link (d.__next), 60 per page",
    category="CRM",
)
