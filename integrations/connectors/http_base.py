"""The HTTP connector base: what every JSON/REST CRM connector shares.

`HttpConnector` adds to `Connector.send` (retries, back-off, Retry-After):

- `request()`: joins paths to the base URL (a setting, or a host the CRM handed back such as
  Salesforce's `instance_url`), applies the preset's declared auth (`ApiKeyHeader`,
  `ApiKeyQuery`, `Basic`, `Bearer`, or `integrations.oauth.OAuth2`: a stored OAuth 2.0 token,
  refreshed before it expires), refuses links to other hosts (credentials stay with the
  CRM), counts requests against a per-sync budget (`max_requests`, default `SYNC_MAX_REQUESTS`),
  honours rate-limit headers (`Retry-After`, `X-RateLimit-Remaining`/`-Reset`, `RateLimit-*`,
  `RateLimit: remaining=..., reset=...`) and a connector's own throttling signal
  (`is_throttled`, e.g. Salesforce's 403 `REQUEST_LIMIT_EXCEEDED`), and turns failures into
  `ConnectorError`s.
- `response_json()`: the decoded body, or a temporary `ConnectorError` when it is not JSON.
- Paging helpers yielding one list of items per page: `pages_by_cursor` (HubSpot `after`,
  Pipedrive `next_cursor`, Google `nextPageToken`), `pages_by_offset` (Close `_skip/_limit`,
  Odoo `offset/limit`, OData `$skip/$top`), `pages_by_page_number` (`page/per_page`),
  `pages_by_next_link` (`@odata.nextLink`, `links.next`, Salesforce `nextRecordsUrl`, or the
  RFC 8288 `Link: <...>; rel="next"` header). Each stops on a repeated cursor, link or page
  (`ConnectorError`: the listing cannot be completed) and after `max_pages` pages.
- `json_path_values` / `json_path_first`: a small dotted-path reader (`data.items`,
  `phones[*].number`, `properties.phone`, `@odata.nextLink`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_noop

from integrations.connectors.base import (
    Connector,
    ConnectorError,
    RetryPolicy,
    http_error,
    retry_after_seconds,
    transport_error,
)
from integrations.texts import Text

_http_url_validator = URLValidator(schemes=["http", "https"])

# A reset value above this is a Unix time (GitHub, Exact Online), below it a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000
# Above this a reset is a Unix time in milliseconds (Exact Online's X-RateLimit-*-Reset).
_EPOCH_MILLISECONDS_THRESHOLD = 100_000_000_000

DEFAULT_MAX_REQUESTS = 10_000
DEFAULT_MAX_PAGES = 10_000

REPEATED_CURSOR_MESSAGE = gettext_noop("%(what)s repeated a page cursor; the listing cannot be completed.")


# --- Auth, declared by the preset ------------------------------------------------------------


# The translated names of `what`, as they read in the middle of a sentence.
_IN_A_SENTENCE = {"The CRM": gettext_noop("the CRM"), "The REST API": gettext_noop("the REST API")}


class Auth(Protocol):
    """How a connector authenticates: headers and query parameters from the integration's settings."""

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Return (headers, query parameters) to add to every request."""
        ...


@dataclass(frozen=True)
class NoAuth:
    """No authentication (a public or network-protected API)."""

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Nothing to add."""
        return {}, {}


@dataclass(frozen=True)
class ApiKeyHeader:
    """An API key in a header: `ApiKeyHeader("X-Api-Key", setting="api_key")`.

    `prefix` goes before the key: Zammad's `ApiKeyHeader("Authorization", setting="token",
    prefix="Token token=")`, Zoho's `prefix="Zoho-oauthtoken "`. A missing or empty setting adds
    no header (the CRM then answers 401, which says what is wrong).
    """

    header: str
    setting: str
    prefix: str = ""

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The header with the key from `settings[self.setting]`."""
        value = (settings.get(self.setting) or "").strip()
        return ({self.header: f"{self.prefix}{value}"} if value else {}), {}


@dataclass(frozen=True)
class ApiKeyQuery:
    """An API key in a query parameter: Pipedrive's `ApiKeyQuery("api_token", setting="api_token")`."""

    param: str
    setting: str

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The query parameter with the key from `settings[self.setting]`."""
        value = (settings.get(self.setting) or "").strip()
        return {}, ({self.param: value} if value else {})


@dataclass(frozen=True)
class Basic:
    """HTTP Basic (RFC 7617) from two settings, or with a fixed part.

    `Basic("username", "password")`; Freshdesk's "API key as user, X as password" is
    `Basic("api_key", password="X")`; Close's "API key as user, empty password" is
    `Basic("api_key")`. No header when the user name is empty.
    """

    username_setting: str = ""
    password_setting: str = ""
    username: str = ""
    password: str = ""

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The `Authorization: Basic base64(user:password)` header."""
        user = settings.get(self.username_setting, "") if self.username_setting else self.username
        password = settings.get(self.password_setting, "") if self.password_setting else self.password
        if not user:
            return {}, {}
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}, {}


@dataclass(frozen=True)
class Bearer:
    """A bearer token (RFC 6750 §2.1) from a setting; `prefix` for CRMs that spell it differently
    (Zoho: `Bearer(setting="access_token", prefix="Zoho-oauthtoken")`)."""

    setting: str
    prefix: str = "Bearer"

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The `Authorization: <prefix> <token>` header."""
        value = (settings.get(self.setting) or "").strip()
        return ({"Authorization": f"{self.prefix} {value}"} if value else {}), {}


# --- JSON paths -------------------------------------------------------------------------------

_SEGMENT = re.compile(r"^(?P<key>[^\[\]]*)(?P<indexes>(\[(\*|-?\d+)\])*)$")
_INDEX = re.compile(r"\[(\*|-?\d+)\]")


class JsonPathError(ValueError):
    """A JSON path that cannot be read ("a.b[x]"); the message names it."""


def json_path_check(path: str) -> None:
    """Raise `JsonPathError` unless `path` is a path `json_path_values` reads.

    Syntax: keys separated by dots, each optionally followed by `[n]` (an index, negative from
    the end) or `[*]` (every element); `*` alone is every value; "" or "$" is the document itself.
    """
    for segment in _segments(path):
        if not _SEGMENT.match(segment):
            raise JsonPathError(f'"{path}" is not a JSON path (like data.items or phones[*].number).')


def _segments(path: str) -> list[str]:
    path = path.strip()
    if path.startswith("$"):
        path = path[1:].lstrip(".")
    return path.split(".") if path else []


def json_path_values(document: Any, path: str) -> list[Any]:
    """Every value `path` finds in `document` (decoded JSON); [] when nothing is there.

    Keys may contain dots: at each object the longest run of segments that is a key wins, so
    `@odata.nextLink` and `a.b` (key "a.b") are found as written. Raises `JsonPathError` for a
    path that is not one (see `json_path_check`).
    """
    json_path_check(path)
    return _walk([document], _segments(path))


def json_path_first(document: Any, path: str) -> Any:
    """The first value `path` finds in `document`, None when nothing (or null) is there."""
    values = json_path_values(document, path)
    return values[0] if values else None


def _walk(nodes: list[Any], segments: list[str]) -> list[Any]:
    if not segments:
        return nodes
    found: list[Any] = []
    for node in nodes:
        if isinstance(node, dict):
            for length in range(len(segments), 0, -1):
                key = ".".join(segments[:length])
                if key in node:
                    found.extend(_walk([node[key]], segments[length:]))
                    break
            else:
                found.extend(_walk_segment(node, segments))
        else:
            found.extend(_walk_segment(node, segments))
    return found


def _walk_segment(node: Any, segments: list[str]) -> list[Any]:
    """Walk `segments[0]` with its indexes from `node`, then the rest."""
    match = _SEGMENT.match(segments[0])
    assert match is not None  # checked by json_path_check
    key, indexes = match["key"], _INDEX.findall(match["indexes"])
    current: list[Any]
    if key == "*":
        current = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else []
    elif key:
        current = [node[key]] if isinstance(node, dict) and key in node else []
    else:
        current = [node]
    for index in indexes:
        following: list[Any] = []
        for value in current:
            if not isinstance(value, list):
                continue
            if index == "*":
                following.extend(value)
            elif -len(value) <= int(index) < len(value):
                following.append(value[int(index)])
        current = following
    return _walk(current, segments[1:])


def json_text(value: Any) -> str:
    """A JSON scalar as text ("" for null, objects and lists; numbers without a trailing ".0")."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- Rate-limit headers -----------------------------------------------------------------------


def rate_limit_wait(response: httpx.Response, *, now: dt.datetime | None = None) -> float | None:
    """Seconds until the CRM's rate-limit window resets when it says none are left, else None.

    Reads `X-RateLimit-Remaining` + `X-RateLimit-Reset` (GitHub, Exact Online, many others),
    `RateLimit-Remaining` + `RateLimit-Reset` and the combined `RateLimit: remaining=0, reset=5`
    or `RateLimit: "default";r=0;t=5` forms (IETF draft-ietf-httpapi-ratelimit-headers, Close).
    A reset above 10^11 is a Unix time in milliseconds (Exact Online), above 10^9 a Unix time in
    seconds, else a number of seconds.
    """
    remaining, reset = _rate_limit_values(response.headers)
    if remaining is None or remaining > 0 or reset is None:
        return None
    if reset > _EPOCH_MILLISECONDS_THRESHOLD:
        reset /= 1000  # a Unix time in milliseconds (Exact Online)
    if reset > _EPOCH_THRESHOLD:
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, reset - now.timestamp())
    return max(0.0, reset)


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").strip().strip('"'))
    except ValueError:
        return None


def _rate_limit_values(headers: httpx.Headers) -> tuple[float | None, float | None]:
    for prefix in ("X-RateLimit-", "RateLimit-", "X-Rate-Limit-"):
        remaining = _number(headers.get(prefix + "Remaining"))
        if remaining is not None:
            return remaining, _number(headers.get(prefix + "Reset"))
    combined = headers.get("RateLimit", "")
    if combined:
        parameters = {
            name.strip().lower(): value.strip()
            for name, _, value in (part.partition("=") for part in re.split(r"[;,]", combined))
        }
        remaining = _number(parameters.get("remaining", parameters.get("r")))
        reset = _number(parameters.get("reset", parameters.get("t")))
        return remaining, reset
    return None, None


# --- The connector ----------------------------------------------------------------------------


class HttpConnector(Connector):
    """Base of the JSON/REST connectors; a subclass declares, the base does the HTTP.

    Declarations (class attributes): `auth` (an `Auth`, default none), `base_url_setting` (the
    setting holding the API's base URL, default "base_url"), `page_size`, `max_pages`. Hooks:
    `is_throttled(response)` for a CRM's own throttling signal, `auth_settings()` when tokens
    live elsewhere than the settings. `self.instance_url` is the host the CRM handed back
    (Salesforce `instance_url`, Zoho's `api_domain`): an auth with an `instance_url(settings)`
    method (`integrations.oauth.OAuth2` whose config names `instance_url_field`) sets it before
    the first request; a connector may also set it. It replaces the base URL setting.

    `max_requests` (constructor keyword) is the budget of HTTP requests, retries included, for
    one instance (one sync or connection test); default `SYNC_MAX_REQUESTS`. Going over it
    raises a permanent `ConnectorError` naming the setting: the old cache is kept and the sync
    runs again the next night.
    """

    auth: Auth = NoAuth()
    base_url_setting = "base_url"
    page_size = 100
    max_pages = DEFAULT_MAX_PAGES

    def __init__(
        self,
        *,
        settings: Mapping[str, str],
        client: httpx.Client,
        sleep: Callable[[float], None] | None = None,
        retry: RetryPolicy | None = None,
        max_requests: int | None = None,
    ) -> None:
        super().__init__(settings=settings, client=client, sleep=sleep, retry=retry)
        if max_requests is None:
            max_requests = int(getattr(django_settings, "SYNC_MAX_REQUESTS", DEFAULT_MAX_REQUESTS))
        self.max_requests = max_requests
        self.requests_made = 0
        self.instance_url = ""
        self._instance_url_asked = False
        self._pending_wait: float | None = None

    # --- hooks of Connector.send

    def _before_attempt(self) -> None:
        if self.requests_made >= self.max_requests:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "The sync stopped after %(requests_made)s requests to %(what_lower)s: "
                        "that is the limit per sync (SYNC_MAX_REQUESTS). The old phone cache "
                        "is kept; raise the limit if the CRM really needs more."
                    ),
                    requests_made=self.requests_made,
                    what_lower=self.what_lower,
                ),
                permanent=True,
            )
        self.requests_made += 1

    def _should_retry(self, response: httpx.Response) -> bool:
        return super()._should_retry(response) or self.is_throttled(response)

    def _requested_wait(self, response: httpx.Response) -> float | None:
        asked = retry_after_seconds(response)
        return rate_limit_wait(response) if asked is None else asked

    def _response_error(
        self, response: httpx.Response, *, retry_after: float | None = None
    ) -> ConnectorError:
        if self.is_throttled(response) and response.status_code != 429:
            suffix = f"; retry after {retry_after:.0f} s" if retry_after is not None else ""
            return ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s is rate limiting requests (HTTP %(status_code)s, its request "
                        "limit is used up%(suffix)s)."
                    ),
                    what=self.what,
                    status_code=response.status_code,
                    suffix=suffix,
                ),
                retry_after=retry_after,
            )
        if response.is_redirect:
            location = response.headers.get("Location", "")
            return ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s redirects %(path)s (HTTP %(status_code)s) to %(location)s: "
                        "check the address in the settings."
                    ),
                    what=self.what,
                    path=response.request.url.path,
                    status_code=response.status_code,
                    location=location,
                ),
                permanent=True,
            )
        return http_error(response, what=self.what, retry_after=retry_after)

    def is_throttled(self, response: httpx.Response) -> bool:
        """Whether `response` is the CRM's throttling signal beyond HTTP 429; default False.

        Override for CRMs that throttle otherwise, e.g. Salesforce's 403 with
        `[{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]`. A throttled response is retried like a 429
        and, once the retries are used up, fails the sync as temporary (not as "no permission").
        """
        return False

    # --- URLs and auth

    @property
    def what_lower(self) -> str:
        """`what` for the middle of a sentence ("the CRM")."""
        if self.what in _IN_A_SENTENCE:
            return Text(_IN_A_SENTENCE[self.what])
        return self.what[:1].lower() + self.what[1:]

    @property
    def base_url(self) -> str:
        """`instance_url` when the CRM handed one back, else the base URL setting.

        Raises a permanent `ConnectorError` when it is not an http(s) URL.
        """
        if not self.instance_url and not self._instance_url_asked:
            # A host the token endpoint handed back (Salesforce `instance_url`, Zoho `api_domain`).
            self._instance_url_asked = True
            handed_back = getattr(self.auth, "instance_url", None)
            if handed_back is not None:
                self.instance_url = handed_back(self.auth_settings())
        url = (self.instance_url or self.settings.get(self.base_url_setting, "")).strip()
        try:
            _http_url_validator(url)
            _ = urlsplit(url).port  # ValueError when out of range
        except (ValueError, ValidationError):
            message = f'The API address "{url}" is not an http:// or https:// URL.'
            raise ConnectorError(message, permanent=True) from None
        return url

    def url_for(self, path_or_url: str) -> str:
        """The absolute URL of a path ("/api/v1/users", "users") or a link the CRM gave.

        Paths join the base URL (a relative path goes below the base URL's path). Absolute URLs
        must be on the base URL's host (scheme, host and port): the CRM's next-page links are
        followed with the credentials, which must not go anywhere else. Raises a permanent
        `ConnectorError` for a link to another host.
        """
        base = self.base_url
        if "://" not in path_or_url and not path_or_url.startswith("//"):
            if path_or_url.startswith("/"):
                return urljoin(base, path_or_url)
            return urljoin(base if base.endswith("/") else base + "/", path_or_url)
        url = urljoin(base, path_or_url)
        if _origin(url) != _origin(base):
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s sent a link to another host (%(url)s); it is not followed, "
                        "so that the credentials stay with the CRM."
                    ),
                    what=self.what,
                    url=_origin(url),
                ),
                permanent=True,
            )
        return url

    def auth_settings(self) -> Mapping[str, str]:
        """The values the auth reads; default the integration's settings and secrets."""
        return self.settings

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to the CRM and return its successful (2xx) response.

        `path_or_url` as in `url_for`; `params` are added to the URL's query (a next link keeps its
        own); the auth's headers and parameters are added. Retries per the `RetryPolicy`, waits
        for a rate-limit window announced by the previous response when the policy allows.
        Raises `ConnectorError`: from `http_error` for non-2xx answers (401/403/404 permanent,
        429/5xx temporary with `retry_after`), for throttling (temporary), a redirect
        (permanent), network failures (temporary), the request budget (permanent).
        """
        url = self.url_for(path_or_url)
        self._wait_for_rate_limit()
        auth_headers, auth_params = self.auth.apply(self.auth_settings())
        all_headers = {"Accept": "application/json", **auth_headers, **(headers or {})}
        all_params = {**{k: v for k, v in (params or {}).items() if v is not None}, **auth_params}
        kwargs: dict[str, Any] = {"headers": all_headers}
        if json is not None:
            kwargs["json"] = json
        try:
            # Merged into the URL's own query: httpx's `params=` would replace it (a next link's
            # token, a list path written with "?$select=...").
            target = httpx.URL(url).copy_merge_params(all_params) if all_params else url
            response = self.send(method, str(target), **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=self.what) from exc
        except httpx.InvalidURL as exc:
            raise ConnectorError(
                Text(gettext_noop("The address is not a URL we can call: %(exc)s."), exc=exc), permanent=True
            ) from exc
        if not response.is_success:
            asked = self._requested_wait(response) if self._should_retry(response) else None
            raise self._response_error(response, retry_after=asked)
        self._pending_wait = rate_limit_wait(response)
        return response

    def _wait_for_rate_limit(self) -> None:
        """Wait out a window the last response said is used up, or fail with its `retry_after`."""
        wait, self._pending_wait = self._pending_wait, None
        if wait is None:
            return
        if not self._can_wait(wait):
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s said its request limit is used up for %(wait)s s, longer "
                        "than the sync may wait; it is retried then."
                    ),
                    what=self.what,
                    wait=format(wait, ".0f"),
                ),
                retry_after=wait,
            )
        if wait > 0:
            self.sleep(wait)

    def response_json(self, response: httpx.Response) -> Any:
        """The decoded JSON body of `response`; a temporary `ConnectorError` when it is not JSON."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            content_type = response.headers.get("Content-Type", "no content type")
            raise ConnectorError(
                Text(
                    gettext_noop(
                        "%(what)s answered something that is not JSON (HTTP %(status_code)s, "
                        "%(content_type)s) at %(path)s."
                    ),
                    what=self.what,
                    status_code=response.status_code,
                    content_type=content_type,
                    path=response.request.url.path,
                )
            ) from None

    def get_json(self, path_or_url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """`GET` a path and return its decoded JSON (see `request` and `json` for errors)."""
        return self.response_json(self.request("GET", path_or_url, params=params))

    def _items(self, document: Any, items: str, *, url: str) -> list[Any]:
        """The records of a page: the list at `items` (null counts as empty), or every value a
        path with `[*]`/`*` finds. Raises a permanent `ConnectorError` when there is no list."""
        found = json_path_values(document, items)
        if any("*" in segment or "[" in segment for segment in _segments(items)):
            return found
        if not found:
            raise ConnectorError(
                Text(
                    gettext_noop(
                        '%(what)s answered a page without a record list at "%(value)s" '
                        "(%(url)s): check the path of the record list."
                    ),
                    what=self.what,
                    value=items or "$",
                    url=url,
                ),
                permanent=True,
            )
        if found[0] is None:
            return []
        if isinstance(found[0], list):
            return found[0]
        raise ConnectorError(
            Text(
                gettext_noop('%(what)s answered a page whose "%(value)s" is not a list (%(url)s).'),
                what=self.what,
                value=items or "$",
                url=url,
            ),
            permanent=True,
        )

    # --- Paging

    def _repeated(self) -> ConnectorError:
        return ConnectorError(Text(REPEATED_CURSOR_MESSAGE, what=self.what))

    def _too_many_pages(self) -> ConnectorError:
        return ConnectorError(
            Text(
                gettext_noop("%(what)s kept sending pages: more than %(max_pages)s; the listing is stopped."),
                what=self.what,
                max_pages=self.max_pages,
            ),
            permanent=True,
        )

    def pages_by_cursor(
        self,
        path: str,
        *,
        items: str,
        cursor: str,
        cursor_param: str,
        params: Mapping[str, Any] | None = None,
        size_param: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[list[Any]]:
        """Pages of a cursor listing: HubSpot (`after` from `paging.next.after`), Pipedrive v2
        (`cursor` from `additional_data.next_cursor`), Google People (`pageToken` from
        `nextPageToken`), Zendesk (`page[after]` from `meta.after_cursor`).

        `items` is the JSON path of the record list, `cursor` that of the next cursor (absent,
        null or "" on the last page), sent back as `cursor_param`. Raises `ConnectorError` when a
        cursor comes back a second time or there are more than `max_pages` pages.
        """
        query = dict(params or {})
        if size_param:
            query[size_param] = page_size or self.page_size
        seen: set[str] = set()
        for _ in range(self.max_pages):
            document = self.get_json(path, params=query)
            yield self._items(document, items, url=path)
            token = json_text(json_path_first(document, cursor))
            if not token:
                return
            if token in seen:
                raise self._repeated()
            seen.add(token)
            query[cursor_param] = token
        raise self._too_many_pages()

    def pages_by_offset(
        self,
        path: str,
        *,
        items: str,
        offset_param: str = "offset",
        limit_param: str = "limit",
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        has_more: str | None = None,
        start: int = 0,
    ) -> Iterator[list[Any]]:
        """Pages of an offset listing: Close (`_skip`/`_limit`, `has_more`), Odoo and Oracle CRMOD
        (`offset`/`limit`), OData (`$skip`/`$top`), Insightly (`skip`/`top`).

        Stops after a short (or empty) page, or when the boolean at `has_more` is false. Raises
        `ConnectorError` when a page repeats the previous one (the CRM ignores the offset) or
        there are more than `max_pages` pages.
        """
        size = page_size or self.page_size
        query = {**(params or {}), limit_param: size}
        offset = start
        previous: list[Any] | None = None
        for _ in range(self.max_pages):
            query[offset_param] = offset
            document = self.get_json(path, params=query)
            page = self._items(document, items, url=path)
            if page and page == previous:
                raise self._repeated()
            yield page
            more = json_path_first(document, has_more) if has_more else None
            if has_more and more is not None:
                if not more or not page:
                    return
            elif len(page) < size:
                return
            previous = page
            offset += len(page)
        raise self._too_many_pages()

    def pages_by_page_number(
        self,
        path: str,
        *,
        items: str,
        page_param: str = "page",
        size_param: str | None = "per_page",
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        first_page: int = 1,
        has_more: str | None = None,
    ) -> Iterator[list[Any]]:
        """Pages of a numbered listing: Freshdesk, Zammad, Zoho (`page`/`per_page`), Copper
        (`page_number`/`page_size`), SuiteCRM (`page[number]`/`page[size]`).

        Stops after a short (or empty) page or when the boolean at `has_more` (Zoho
        `info.more_records`) is false. Raises `ConnectorError` when a page repeats the previous
        one or there are more than `max_pages` pages.
        """
        size = page_size or self.page_size
        query = dict(params or {})
        if size_param:
            query[size_param] = size
        previous: list[Any] | None = None
        for number in range(first_page, first_page + self.max_pages):
            query[page_param] = number
            document = self.get_json(path, params=query)
            page = self._items(document, items, url=path)
            if page and page == previous:
                raise self._repeated()
            yield page
            more = json_path_first(document, has_more) if has_more else None
            if has_more and more is not None:
                if not more or not page:
                    return
            elif len(page) < size:
                return
            previous = page
        raise self._too_many_pages()

    def pages_by_next_link(
        self,
        path: str,
        *,
        items: str,
        next_link: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[list[Any]]:
        """Pages of a listing whose answers link the next page: the JSON path `next_link`
        (`@odata.nextLink` for Dynamics and Graph, `links.next` for JSON:API, `nextRecordsUrl`
        for Salesforce), or with `next_link` None the `Link` header's `rel="next"` (RFC 8288).

        The first request carries `params`; next links are followed as given (relative links join
        the base URL; links to another host are refused, see `url_for`). Raises `ConnectorError`
        when a link comes back a second time or there are more than `max_pages` pages.
        """
        target = path
        query: Mapping[str, Any] | None = params
        first = httpx.URL(self.url_for(path))
        seen: set[str] = {str(first.copy_merge_params(dict(params)) if params else first)}
        for _ in range(self.max_pages):
            response = self.request("GET", target, params=query, headers=headers)
            document = self.response_json(response)
            yield self._items(document, items, url=target)
            if next_link is None:
                link = response.links.get("next", {}).get("url", "")
            else:
                link = json_text(json_path_first(document, next_link))
            if not link:
                return
            absolute = self.url_for(link)
            if absolute in seen:
                raise self._repeated()
            seen.add(absolute)
            target, query = absolute, None
        raise self._too_many_pages()


def _origin(url: str) -> str:
    """ "https://host:443": scheme, host and port (the default one when not written)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"
