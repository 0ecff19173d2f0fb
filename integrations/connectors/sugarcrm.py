"""SugarCRM (Sugar Sell / Sugar Enterprise, SugarCloud or self-hosted): contacts, leads and accounts
over the REST API v11.

Sources: the Sugar Developer Guide's REST API pages
(https://support.sugarcrm.com/documentation/sugar_developer/sugar_developer_guide_13.2/integration/web_services/rest_api/,
"v10 - v11.22"; endpoints `/oauth2/token POST` and `/<module> GET`), the 14.0 cookbook "How to
Filter a List of Records" (`/rest/v11/oauth2/token`, `/rest/v11/<module>/filter`), and the Sugar
developer blog on the `platform` parameter.

- Base URL: the instance, `https://<instance>.sugarondemand.com` (SugarCloud) or the self-hosted
  address; the API is `{base}/rest/{version}/` with version `v11` (the guide's cookbook uses
  `/rest/v11/`; minor versions such as `v11_20` are accepted the same way, a setting).
- Auth: Sugar has only the OAuth 2.0 password grant ("two-legged OAuth2"): `POST
  /rest/v11/oauth2/token` with `grant_type=password`, `client_id` ("sugar", the built-in key),
  `client_secret` (""), `username`, `password` and `platform`. The answer is `{"access_token",
  "expires_in": 3600, "token_type": "bearer", "scope": null, "refresh_token",
  "refresh_expires_in": 1209600, "download_token"}`; refreshing is `grant_type=refresh_token`
  with the same client and platform. Sugar allows one session per user and platform: logging in
  on "base" (the web UI's platform) logs the user out of the browser, so the integration uses its
  own platform (default "cti"), which the admin registers under Admin → Configure API Platforms
  (Sugar 8+; unknown platforms are refused by default since Winter '18). Requests carry the token
  in the `OAuth-Token` header. The request body may be a form (Sugar's RestService reads `$_POST`
  when it is not JSON).
- Errors are `{"error": "<label>", "error_message": "..."}`: 401 `need_login` (no or invalid
  token), 401 `invalid_grant` (the session is invalid: "get a new token and retry", done once per
  sync with a new password grant), 403 `not_authorized`, 503 `maintenance` (temporary). SugarCloud
  rate limits are not documented; a 429 with Retry-After is handled by the base class.
- Listing: `GET /rest/v11/{Module}?fields=...&max_num=N&offset=n&order_by=date_entered:ASC`
  answers `{"next_offset": n, "records": [{"id", "date_modified", "_acl", "_module", ...}]}`;
  `next_offset` is -1 on the last page. Phone fields: people `phone_work`, `phone_mobile`,
  `phone_home`, `phone_other`, `phone_fax`; accounts `phone_office`, `phone_alternate`,
  `phone_fax`.
- Incremental: `filter[0][date_modified][$gte]=<ISO 8601>` on the same endpoint. The list API
  does not return deleted records, so deletions are only seen by a full sync.
- Record pages in the web UI (Sidecar routes): `{base}/#Contacts/{id}`, `#Leads/{id}`,
  `#Accounts/{id}`; a new contact: `{base}/#Contacts/create` (takes no field values).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext, gettext_noop

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.http_base import HttpConnector
from integrations.oauth import PASSWORD_GRANT, OAuth2, OAuth2Config
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies, SettingField, SettingKind
from integrations.texts import Text

WHAT = "SugarCRM"
DEFAULT_API_VERSION = "v11"
DEFAULT_CLIENT_ID = "sugar"
DEFAULT_PLATFORM = "cti"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
LAST_PAGE = -1  # `next_offset` of the last page
DOCS_URL = (
    "https://support.sugarcrm.com/documentation/sugar_developer/sugar_developer_guide_13.2/"
    "integration/web_services/rest_api/"
)
PLATFORMS_URL = "https://sugarclub.sugarcrm.com/dev-club/b/dev-blog/posts/how-platform-parameter-works-in-sugar-v10-rest-api"

_PERSON_PHONES = (
    ("phone_work", "work"),
    ("phone_mobile", "mobile"),
    ("phone_home", "home"),
    ("phone_other", "other"),
    ("phone_fax", "fax"),
)
_PERSON_FIELDS = {
    "Email": "email1",
    "Company": "account_name",
    "JobTitle": "title",
    "City": "primary_address_city",
}

# The password grant at `{base_url}/rest/{api_version}/oauth2/token` (both normalised by
# `SugarCrmConnector.auth_settings`); Sugar reads the client from the form body.
SUGARCRM_OAUTH = OAuth2Config(
    authorize_url="",
    token_url="{base_url}/rest/{api_version}/oauth2/token",  # noqa: S106 (a URL template)
    token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    grant=PASSWORD_GRANT,
    token_params=(("platform", "{platform}"),),
)


@dataclass(frozen=True)
class SugarModule:
    """A Sugar module we list: its API name, our record type, the fields that make the name, its
    phone fields (field, type label) and extra fields (our label -> Sugar field)."""

    name: str
    record_type: str
    name_fields: tuple[str, ...]
    phones: tuple[tuple[str, str], ...]
    extra: Mapping[str, str]

    @property
    def fields(self) -> str:
        """The `fields` parameter: every field we read, comma separated, in a stable order."""
        wanted = [*self.name_fields, *(f for f, _ in self.phones), *self.extra.values()]
        return ",".join(dict.fromkeys(wanted))


MODULES = (
    SugarModule("Contacts", "contact", ("first_name", "last_name"), _PERSON_PHONES, _PERSON_FIELDS),
    SugarModule("Leads", "lead", ("first_name", "last_name"), _PERSON_PHONES, _PERSON_FIELDS),
    SugarModule(
        "Accounts",
        "company",
        ("name",),
        (("phone_office", "work"), ("phone_alternate", "other"), ("phone_fax", "fax")),
        {"Email": "email1", "Company": "name", "City": "billing_address_city"},
    ),
)


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def sugarcrm_settings_problems(settings: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a SugarCRM integration's settings, by setting name ({} when usable)."""
    problems: dict[str, str] = {}
    size = (settings.get("page_size") or "").strip() or str(DEFAULT_PAGE_SIZE)
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        problems["page_size"] = gettext("enter a whole number from 1 to %(max_page_size)s.") % {
            "max_page_size": MAX_PAGE_SIZE
        }
    version = (settings.get("api_version") or "").strip() or DEFAULT_API_VERSION
    if not version.startswith("v") or not version[1:].replace("_", "").isdigit():
        problems["api_version"] = gettext(
            'enter the REST API version as Sugar writes it, e.g. "v11" or "v11_20".'
        )
    platform = (settings.get("platform") or "").strip()
    if platform and not all(c.isascii() and (c.isalnum() or c in "-_") for c in platform):
        problems["platform"] = gettext("a platform name has only letters, digits, - and _.")
    return problems


class _TokenRefused(ConnectorError):
    """Sugar answered 401 `invalid_grant`: the session behind the token is gone."""


class SugarOAuthToken:
    """`HttpConnector` auth: the password-grant token (see `integrations.oauth.OAuth2`) in Sugar's
    `OAuth-Token` header. `renewed`, when set, is a token this sync asked for after Sugar refused
    the stored one."""

    def __init__(self, config: OAuth2Config) -> None:
        self.oauth = OAuth2(config)
        self.renewed: dict[str, Any] | None = None

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The `OAuth-Token` header."""
        token = self.renewed or self.oauth.token(settings)
        return {"OAuth-Token": str(token["access_token"])}, {}


class SugarCrmConnector(HttpConnector):
    """SugarCRM: lists Contacts, Leads and Accounts (in that order) page by page.

    Settings: `base_url` (the instance's address), `username`, `password` (secret), `platform`
    (default "cti"), `oauth_client_id` (default "sugar"), `oauth_client_secret` (secret, default
    ""), `api_version` (default "v11"), `page_size` (`max_num`, default 100). Raises
    `ConnectorError` as `HttpConnector.request` does, naming Sugar's `error_message` for a 401,
    and a permanent one for a page without a `records` list.
    """

    what = WHAT
    supports_incremental = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        problems = sugarcrm_settings_problems(self.settings)
        if problems:
            name, problem = next(iter(problems.items()))
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s's setting %(name)s is not usable: %(problem)s"),
                    what=WHAT,
                    name=name,
                    problem=problem,
                ),
                permanent=True,
            )
        self.token_auth = SugarOAuthToken(SUGARCRM_OAUTH)
        self.auth = self.token_auth
        self.page_size = int((self.settings.get("page_size") or "").strip() or DEFAULT_PAGE_SIZE)
        self.api_version = (self.settings.get("api_version") or "").strip() or DEFAULT_API_VERSION

    @classmethod
    def oauth_config(cls, settings: Mapping[str, Any]) -> OAuth2Config:
        """The password grant at the instance's `oauth2/token` endpoint (no Connect button)."""
        return SUGARCRM_OAUTH

    @classmethod
    def settings_problems(cls, settings: Mapping[str, str]) -> dict[str, str]:
        """See `sugarcrm_settings_problems`."""
        return sugarcrm_settings_problems(settings)

    def auth_settings(self) -> Mapping[str, str]:
        """The settings with the defaults the token request needs: `base_url` without a trailing
        slash, `api_version`, `platform`, `oauth_client_id` "sugar", `oauth_client_secret` ""."""

        def value(name: str, default: str) -> str:
            return (self.settings.get(name) or "").strip() or default

        return {
            **self.settings,
            "base_url": value("base_url", "").rstrip("/"),
            "api_version": value("api_version", DEFAULT_API_VERSION),
            "platform": value("platform", DEFAULT_PLATFORM),
            "oauth_client_id": value("oauth_client_id", DEFAULT_CLIENT_ID),
            "oauth_client_secret": self.settings.get("oauth_client_secret") or "",
        }

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """`HttpConnector.request`; when Sugar answers 401 `invalid_grant` (the session was ended,
        e.g. by another login on the same platform) a new token is asked once by the password
        grant and the request sent again."""
        try:
            return super().request(method, path_or_url, params=params, json=json, headers=headers)
        except _TokenRefused:
            if self.token_auth.renewed is not None:
                raise
        self.token_auth.renewed = self.new_token()
        return super().request(method, path_or_url, params=params, json=json, headers=headers)

    def new_token(self) -> dict[str, Any]:
        """A token by a new password grant over this connector's client, not stored (the stored
        one is replaced when it expires). Raises `ConnectorError` as
        `integrations.oauth.token_request` does; a refused password names Sugar's reason."""
        settings = self.auth_settings()
        data = {
            "grant_type": PASSWORD_GRANT,
            "username": (settings.get("username") or "").strip(),
            "password": settings.get("password") or "",
        }
        try:
            return oauth.token_request(SUGARCRM_OAUTH, settings=settings, data=data, client=self.client)
        except oauth.InvalidGrantError as exc:
            raise ConnectorError(
                Text(
                    gettext_noop("%(what)s refused the user name and password: %(value)s"),
                    what=WHAT,
                    value=exc.reason or "invalid_grant",
                ),
                permanent=True,
            ) from exc

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        """Sugar's 401 bodies: `invalid_grant` (retried once with a new token) and `need_login`,
        both naming Sugar's `error_message`; other answers as the base class does."""
        if response.status_code == 401:
            error, message = _sugar_error(response)
            if error:
                described = f"{WHAT} refused the session (HTTP 401 {error}: {message or 'no message'})."
                if error == "invalid_grant":
                    return _TokenRefused(described, permanent=True)
                return ConnectorError(described, permanent=True)
        return super()._response_error(response, retry_after=retry_after)

    def record_url(self, module: SugarModule, record_id: str) -> str:
        """The record's page in Sugar's web UI: `{base}/#{Module}/{id}`."""
        return f"{self.base_url.rstrip('/')}/#{module.name}/{record_id}"

    def test_connection(self) -> None:
        """The first page of Contacts."""
        next(iter(self._pages(MODULES[0], {})), None)

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Every contact, lead and account with a number."""
        for module in MODULES:
            yield from self._records(module, {})

    def iter_changes(self, since: dt.datetime) -> Iterator[CrmRecord | SkippedRecord]:
        """Records modified at or after `since` (`filter[0][date_modified][$gte]`, ISO 8601 UTC).
        Sugar's list API leaves deleted records out, so no `DeletedRecord`s come from here."""
        stamp = since.astimezone(dt.UTC).isoformat(timespec="seconds")
        for module in MODULES:
            yield from self._records(module, {"filter[0][date_modified][$gte]": stamp})

    def _records(
        self, module: SugarModule, filters: Mapping[str, str]
    ) -> Iterator[CrmRecord | SkippedRecord]:
        for page in self._pages(module, filters):
            for item in page:
                record = self.record(module, item)
                if record is not None:
                    yield record

    def _pages(self, module: SugarModule, filters: Mapping[str, str]) -> Iterator[list[Any]]:
        """Pages of `GET /rest/{version}/{Module}`, following `next_offset` until it is -1.

        Raises `ConnectorError` when `next_offset` is missing or not a number (permanent), does
        not move forward (the CRM repeats itself), or there are more than `max_pages` pages.
        """
        path = f"rest/{self.api_version}/{module.name}"
        query: dict[str, Any] = {
            "fields": module.fields,
            "max_num": self.page_size,
            "order_by": "date_entered:ASC",
            **filters,
        }
        offset = 0
        for _ in range(self.max_pages):
            query["offset"] = offset
            document = self.get_json(path, params=query)
            yield self._items(document, "records", url=path)
            following = document.get("next_offset") if isinstance(document, dict) else None
            if isinstance(following, bool) or not isinstance(following, int):
                raise ConnectorError(
                    Text(
                        gettext_noop("%(what)s answered a page of %(name)s without a numeric next_offset."),
                        what=WHAT,
                        name=module.name,
                    ),
                    permanent=True,
                )
            if following == LAST_PAGE:
                return
            if following <= offset:
                raise self._repeated()
            offset = following
        raise self._too_many_pages()

    def record(self, module: SugarModule, item: Any) -> CrmRecord | SkippedRecord | None:
        """A Sugar record (a flat JSON object) as a record; `SkippedRecord` when it is not an
        object with an id, None when it has no number."""
        if not isinstance(item, dict) or not _text(item.get("id")):
            return SkippedRecord(reason=f"a {module.name} record without an id")
        record_id = _text(item["id"])
        phones = tuple(
            RecordPhone(number, label) for field, label in module.phones if (number := _text(item.get(field)))
        )
        if not phones:
            return None
        name = " ".join(part for f in module.name_fields if (part := _text(item.get(f))))
        fields = {label: value for label, f in module.extra.items() if (value := _text(item.get(f)))}
        return CrmRecord(
            id=record_id,
            type=module.record_type,
            display_name=name,
            phones=phones,
            url=self.record_url(module, record_id),
            fields=fields,
        )


def _sugar_error(response: httpx.Response) -> tuple[str, str]:
    """Sugar's `(error, error_message)` of an error answer, ("", "") when it has none."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return _text(body.get("error")), _text(body.get("error_message"))


SUGARCRM = Preset(
    slug="sugarcrm",
    name="SugarCRM",
    description=gettext_noop(
        "SugarCRM (Sugar Sell/Enterprise, SugarCloud or self-hosted) contacts, leads and accounts."
    ),
    settings=(
        SettingField(
            "base_url",
            gettext_noop("Sugar address"),
            SettingKind.URL,
            placeholder="https://example.sugarondemand.com",
            help_text=gettext_noop("The address you open Sugar at (SugarCloud or your own server)."),
        ),
        SettingField(
            "username",
            gettext_noop("User name"),
            help_text=gettext_noop("A Sugar user who may read contacts, leads and accounts."),
        ),
        SettingField("password", gettext_noop("Password"), SettingKind.SECRET),
        SettingField(
            "platform",
            gettext_noop("API platform"),
            required=False,
            default=DEFAULT_PLATFORM,
            help_text=gettext_noop(
                'Register this name under Admin → Configure API Platforms. Do not use "base": '
                "it would log the user out of Sugar in the browser."
            ),
        ),
        SettingField(
            "oauth_client_id",
            gettext_noop("OAuth client ID"),
            required=False,
            default=DEFAULT_CLIENT_ID,
            help_text=gettext_noop(
                '"sugar" (built in) or the consumer key of an OAuth key under Admin → OAuth Keys.'
            ),
        ),
        SettingField(
            "oauth_client_secret", gettext_noop("OAuth client secret"), SettingKind.SECRET, required=False
        ),
        SettingField(
            "api_version",
            gettext_noop("REST API version"),
            required=False,
            default=DEFAULT_API_VERSION,
            help_text=gettext_noop('As in /rest/<version>/, e.g. "v11" or "v11_20".'),
        ),
        SettingField(
            "page_size",
            gettext_noop("Records per request"),
            required=False,
            default=str(DEFAULT_PAGE_SIZE),
            help_text=gettext_noop("max_num of the REST API."),
        ),
    ),
    connector_class=SugarCrmConnector,
    record_types=("contact", "lead", "company"),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Account")),
        RecordField("JobTitle", gettext_noop("Title")),
        RecordField("City", gettext_noop("City")),
    ),
    default_notification_fields=("DisplayName", "Company", "JobTitle"),
    default_scripts=(
        DefaultScript("Open record in SugarCRM", "$(PopUpUri)", ScriptApplies.ON_MATCH),
        # Sugar's create route takes no field values from the URL.
        DefaultScript("Create contact in SugarCRM", "{base_url}/#Contacts/create", ScriptApplies.ON_NO_MATCH),
    ),
    keywords=(
        "sugarcrm",
        "sugar crm",
        "sugar",
        "sugar sell",
        "sugar enterprise",
        "sugarcloud",
        "sugarondemand",
    ),
    docs_url=DOCS_URL,
    credentials_url=PLATFORMS_URL,
    auth_methods=("OAuth 2.0 (password grant: user name and password)",),
    paging="offset (offset/max_num, next_offset -1 at the end)",
    category="CRM",
)
