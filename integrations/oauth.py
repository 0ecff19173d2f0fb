"""OAuth 2.0 for connectors: authorization code with PKCE, stored tokens, refresh.

A preset declares an `OAuth2Config` (authorize and token URLs, possibly templates filled from the
integration's settings, scopes, client id/secret settings, token endpoint auth method, the field
of a host the CRM hands back such as Salesforce's `instance_url`). The admin's "Connect" runs the
authorization code flow (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and `state`
(`integrations.oauth_views`); the token is stored encrypted in `Integration.secrets` under
`TOKEN_SECRET`. The `OAuth2` auth hook of `HttpConnector` sends the stored access token as a bearer
token (RFC 6750 §2.1) and refreshes it (RFC 6749 §6) when it expires within
`OAUTH_REFRESH_MARGIN_SECONDS`.

Two workers refreshing at once keep one valid token: the refresh runs under `select_for_update`
on the integration row and re-reads the token first (PostgreSQL), and the new token is saved
with a compare-and-swap on `oauth_token_version`; a worker whose refresh token was already
rotated by another (the CRM answers `invalid_grant`) re-reads and uses the other's token. Only an
`invalid_grant` for the refresh token actually stored marks the integration "reconnect required".
Two grants need no Connect: client credentials (RFC 6749 §4.4) and the resource owner password
credentials grant (RFC 6749 §4.3, SugarCRM's only grant); their tokens are requested when none is
stored or it expires.
Every call to the token endpoint goes through `integrations.http.connector_client()`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings as django_settings
from django.db import transaction
from django.utils.translation import gettext_noop

from integrations.connectors.base import ConnectorError, http_error, transport_error
from integrations.texts import Text

if TYPE_CHECKING:
    from integrations.models import Integration

TOKEN_SECRET = "oauth_token"  # noqa: S105 (the key in Integration.secrets, not a secret)
INTEGRATION_ID_SETTING = "_integration_id"

RECONNECT_MESSAGE = Text(
    gettext_noop("The CRM no longer accepts the app's authorization: reconnect the integration.")
)
CLIENT_CREDENTIALS = "client_credentials"
PASSWORD_GRANT = "password"  # noqa: S105 (a grant type, RFC 6749 §4.3.2)
# The grants a server asks tokens for itself, without the admin's Connect.
SERVER_GRANTS = frozenset({CLIENT_CREDENTIALS, PASSWORD_GRANT})
NOT_CONNECTED_MESSAGE = Text(
    gettext_noop("The integration is not connected to the CRM yet: use Connect on its overview.")
)


@dataclass(frozen=True)
class OAuth2Config:
    """A preset's OAuth 2.0 declaration.

    `authorize_url` and `token_url` are templates filled from the integration's settings
    (`"https://{domain}/oauth/authorize"`, or `"{oauth_authorize_url}"` for a setting holding the
    whole URL). `scopes` are fixed scopes; `scopes_setting` names a setting with more
    (space or comma separated). `token_endpoint_auth_method` is "client_secret_basic" or
    "client_secret_post" (RFC 6749 §2.3.1). `instance_url_field` names a field of the token
    response holding the API host to use (Salesforce `instance_url`, Zoho `api_domain`), "" for
    none; the HTTP connector then calls that host instead of its base URL setting.
    `grant` is "authorization_code" (the admin's Connect, RFC 6749 §4.1, refreshed with the
    refresh token) or "client_credentials" (server to server, RFC 6749 §4.4: Dynamics 365 /
    Dataverse application users, Microsoft Graph app-only, SuiteCRM 8; no Connect, a new token
    is requested when the stored one expires) or "password" (the resource owner password
    credentials grant, RFC 6749 §4.3: SugarCRM; the user name and password are the settings named
    by `username_setting`/`password_setting`; no Connect; refreshed with the refresh token when
    the answer has one, else or when that is refused a new password grant).
    `token_params` are more form fields sent with every token request, (name, template filled
    from the settings) pairs: SugarCRM's `platform`.
    """

    authorize_url: str
    token_url: str
    client_id_setting: str = "oauth_client_id"
    client_secret_setting: str = "oauth_client_secret"  # noqa: S105 (a setting name)
    scopes: tuple[str, ...] = ()
    scopes_setting: str = ""
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105
    instance_url_field: str = ""
    grant: str = "authorization_code"
    username_setting: str = "username"
    password_setting: str = "password"  # noqa: S105 (a setting name)
    token_params: tuple[tuple[str, str], ...] = ()

    @property
    def needs_connect(self) -> bool:
        """Whether the admin has to authorize the app with Connect (authorization code grant)."""
        return self.grant not in SERVER_GRANTS

    def url(self, template: str, settings: Mapping[str, Any]) -> str:
        """`template` with `{name}` replaced by the setting `name` (missing ones by "")."""
        values = {k: str(v).strip() for k, v in settings.items() if isinstance(v, str)}
        return template.format_map(_Blank(values)).strip()

    def scope(self, settings: Mapping[str, Any]) -> str:
        """The scopes to ask for, space separated (RFC 6749 §3.3)."""
        extra = str(settings.get(self.scopes_setting, "") or "") if self.scopes_setting else ""
        scopes = [*self.scopes, *extra.replace(",", " ").split()]
        return " ".join(dict.fromkeys(scopes))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class AuthorizationRequest:
    """A started authorization: the URL to send the admin to, its `state` and PKCE verifier."""

    url: str
    state: str
    code_verifier: str


def authorization_start(
    config: OAuth2Config, *, settings: Mapping[str, Any], redirect_uri: str
) -> AuthorizationRequest:
    """Build the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3: S256 challenge).

    The caller keeps `state` and `code_verifier` (the session) for the callback. Raises a
    permanent `ConnectorError` when the authorize URL or client id is missing.
    """
    base = config.url(config.authorize_url, settings)
    client_id = str(settings.get(config.client_id_setting, "") or "").strip()
    if not base.lower().startswith(("http://", "https://")) or not client_id:
        raise ConnectorError(
            Text(
                gettext_noop(
                    "The OAuth settings are incomplete: give the authorization URL and the client id."
                )
            ),
            permanent=True,
        )
    state = generate_token(32)
    verifier = generate_token(64)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    scope = config.scope(settings)
    if scope:
        query["scope"] = scope
    separator = "&" if "?" in base else "?"
    return AuthorizationRequest(
        url=f"{base}{separator}{urlencode(query)}", state=state, code_verifier=verifier
    )


class NotConnectedError(ConnectorError):
    """No token is stored yet (or there is no integration yet, as in the wizard's test): the admin
    has to use Connect first. Permanent."""

    def __init__(self) -> None:
        super().__init__(NOT_CONNECTED_MESSAGE, permanent=True)


def preset_oauth_config(connector_class: type | None, settings: Mapping[str, Any]) -> OAuth2Config | None:
    """The OAuth declaration of a preset's connector for these settings, None without OAuth.

    A connector declares OAuth with a classmethod `oauth_config(settings)`.
    """
    finder = getattr(connector_class, "oauth_config", None)
    config = finder(settings) if finder is not None else None
    return config if isinstance(config, OAuth2Config) else None


class InvalidGrantError(ConnectorError):
    """The token endpoint answered `invalid_grant` (RFC 6749 §5.2): the code or refresh token is
    expired, revoked or already used, or (password grant) the user name or password is wrong.
    `reason` is the CRM's description ("" when it gave none)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message, permanent=True)
        self.reason = reason


def token_request(
    config: OAuth2Config,
    *,
    settings: Mapping[str, Any],
    data: Mapping[str, str],
    now: float | None = None,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST `data` to the token endpoint (RFC 6749 §4.1.3, §6) and return the stored token.

    Client authentication per `token_endpoint_auth_method`. Returns {access_token,
    refresh_token, token_type, expires_at (Unix seconds as text, "" when the CRM gave no
    lifetime), instance_url}. `client` (default: a new `connector_client()`, the guarded
    outbound client) is for tests that answer with a CRM's token endpoint double. Raises
    `InvalidGrantError` (permanent) for `invalid_grant`; a temporary `ConnectorError` for network
    failures, 429, 5xx and answers that are not JSON; a permanent one for other refusals
    (`invalid_client`...).
    """
    from integrations.http import connector_client

    url = config.url(config.token_url, settings)
    client_id = str(settings.get(config.client_id_setting, "") or "").strip()
    secret = str(settings.get(config.client_secret_setting, "") or "")
    form = dict(data)
    for name, template in config.token_params:
        form.setdefault(name, config.url(template, settings))
    headers = {"Accept": "application/json"}
    if config.token_endpoint_auth_method == "client_secret_post":  # noqa: S105
        form.update(client_id=client_id, client_secret=secret)
    else:
        # RFC 6749 §2.3.1: id and secret are form-encoded, then sent as HTTP Basic.
        pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    what = "The CRM's token endpoint"
    try:
        if client is not None:
            response = client.post(url, data=form, headers=headers)
        else:
            with connector_client() as own:
                response = own.post(url, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise transport_error(exc, what=what) from exc
    except httpx.InvalidURL as exc:
        raise ConnectorError(
            Text(gettext_noop("The token URL is not a URL we can call: %(exc)s."), exc=exc), permanent=True
        ) from exc
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    # RFC 6749 §5.2 answers refusals with 400/401; Zoho answers them with 200 and an "error".
    refused = response.status_code in (400, 401) or (response.is_success and not _has_token(body))
    # HubSpot names the refusal in "status" (BAD_REFRESH_TOKEN) with a "message".
    error = str(body.get("error") or body.get("status") or "") if isinstance(body, dict) else ""
    if refused and isinstance(body, dict) and error:
        # SugarCRM describes it in "error_message".
        reason = str(body.get("error_description") or body.get("message") or body.get("error_message") or "")
        if error in INVALID_GRANT_ERRORS:
            raise InvalidGrantError(RECONNECT_MESSAGE, reason=reason)
        described = (reason or error).rstrip(".")
        raise ConnectorError(
            Text(
                gettext_noop("%(what)s refused the request: %(described)s."), what=what, described=described
            ),
            permanent=True,
        )
    if not response.is_success:
        raise http_error(response, what=what)
    if not isinstance(body, dict) or not body.get("access_token"):
        raise ConnectorError(
            Text(
                gettext_noop("%(what)s answered without an access token (HTTP %(status_code)s)."),
                what=what,
                status_code=response.status_code,
            )
        )
    now = time.time() if now is None else now
    expires_in = body.get("expires_in")
    expires_at = now + float(str(expires_in)) if _is_number(expires_in) else None
    instance_url = str(body.get(config.instance_url_field, "")) if config.instance_url_field else ""
    return {
        "access_token": str(body["access_token"]),
        "refresh_token": str(body.get("refresh_token") or data.get("refresh_token") or ""),
        "token_type": str(body.get("token_type", "Bearer")),
        # Text: the encrypted secrets field keeps its values as strings.
        "expires_at": "" if expires_at is None else f"{expires_at:.0f}",
        "instance_url": instance_url,
    }


# What token endpoints answer for an expired, revoked or used code or refresh token: RFC 6749's
# `invalid_grant`, Zoho's `invalid_code` (https://www.zoho.com/accounts/protocol/oauth/) and
# HubSpot's `BAD_REFRESH_TOKEN` (https://developers.hubspot.com/docs/api/oauth/tokens).
INVALID_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_code", "BAD_REFRESH_TOKEN"})


def _has_token(body: Any) -> bool:
    return isinstance(body, dict) and bool(body.get("access_token"))


def _is_number(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return value is not None and not isinstance(value, bool)


def exchange_code(
    integration: Integration,
    config: OAuth2Config,
    *,
    settings: Mapping[str, Any],
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> None:
    """Exchange an authorization code (RFC 6749 §4.1.3 with the PKCE verifier) and store the token
    in the integration's secrets; clears "reconnect required". Raises `ConnectorError`."""
    token = token_request(
        config,
        settings=settings,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )
    from integrations.models import Integration

    with transaction.atomic():
        row = Integration.objects.select_for_update().get(pk=integration.pk)
        row.secrets = {**(row.secrets or {}), TOKEN_SECRET: token}
        row.oauth_token_version += 1
        row.oauth_reconnect_required = False
        if row.last_error == RECONNECT_MESSAGE:
            row.last_error = ""
        row.save(update_fields=["secrets", "oauth_token_version", "oauth_reconnect_required", "last_error"])


def _expiring(token: Mapping[str, Any], now: float) -> bool:
    expires_at = token.get("expires_at")
    if not _is_number(expires_at):
        return False
    margin = int(getattr(django_settings, "OAUTH_REFRESH_MARGIN_SECONDS", 60))
    return float(str(expires_at)) - margin <= now


def _stored(integration_id: int, *, lock: bool = False) -> tuple[dict[str, Any] | None, int, bool]:
    from integrations.models import Integration

    query = Integration.objects.filter(pk=integration_id)
    if lock:
        query = query.select_for_update()
    row = query.only("secrets", "oauth_token_version", "oauth_reconnect_required").first()
    if row is None:
        raise ConnectorError(Text(gettext_noop("The integration no longer exists.")), permanent=True)
    token = (row.secrets or {}).get(TOKEN_SECRET)
    return (token if isinstance(token, dict) else None), row.oauth_token_version, row.oauth_reconnect_required


def access_token(integration_id: int, config: OAuth2Config, *, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The integration's usable token, refreshed first when it expires within the margin.

    Raises a permanent `ConnectorError`: not connected yet, or reconnect required
    (`RECONNECT_MESSAGE`); a temporary one when refreshing met a network failure or a 5xx.
    """
    token, version, reconnect = _stored(integration_id)
    if config.grant in SERVER_GRANTS:
        if token is not None and token.get("access_token") and not _expiring(token, time.time()):
            return token
        if config.grant == PASSWORD_GRANT:
            return _password_token(integration_id, config, settings=settings, version=version, stale=token)
        return _client_credentials_token(integration_id, config, settings=settings, version=version)
    if token is None:
        raise NotConnectedError
    if reconnect:
        raise ConnectorError(RECONNECT_MESSAGE, permanent=True)
    if not _expiring(token, time.time()):
        return token
    return refresh_access_token(integration_id, config, settings=settings, stale=token)


def client_credentials_request(config: OAuth2Config, *, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A new token by the client credentials grant (RFC 6749 §4.4), not stored.

    Sends `grant_type=client_credentials` and the scopes (when any) to the token endpoint.
    Raises `ConnectorError` as `token_request` does; a refusal is permanent and names the
    CRM's reason ("invalid_client", "AADSTS7000215: Invalid client secret...").
    """
    data = {"grant_type": CLIENT_CREDENTIALS}
    scope = config.scope(settings)
    if scope:
        data["scope"] = scope
    return token_request(config, settings=settings, data=data)


def _client_credentials_token(
    integration_id: int, config: OAuth2Config, *, settings: Mapping[str, Any], version: int
) -> dict[str, Any]:
    """Request a client-credentials token and store it for the next requests and workers.

    Saved with a compare-and-swap on `oauth_token_version`: when another worker stored one
    meanwhile, both tokens are valid and this one is used for this sync only.
    """
    fresh = client_credentials_request(config, settings=settings)
    return _store_server_token(integration_id, fresh, version=version)


def _store_server_token(integration_id: int, fresh: dict[str, Any], *, version: int) -> dict[str, Any]:
    """Save a token of a server grant (client credentials, password) with a compare-and-swap on
    `oauth_token_version`; `fresh` is returned either way (both tokens are valid)."""
    from integrations.models import Integration

    row = Integration.objects.filter(pk=integration_id).only("secrets").first()
    if row is None:
        raise ConnectorError(Text(gettext_noop("The integration no longer exists.")), permanent=True)
    secrets = {**(row.secrets or {}), TOKEN_SECRET: fresh}
    row.secrets = secrets
    Integration.objects.filter(pk=integration_id, oauth_token_version=version).update(
        secrets=row.secrets, oauth_token_version=version + 1, oauth_reconnect_required=False
    )
    return fresh


def password_request(config: OAuth2Config, *, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A new token by the resource owner password credentials grant (RFC 6749 §4.3.2), not stored.

    Sends `grant_type=password`, `username`, `password` (from the settings named by the config)
    and the scopes (when any). Raises `ConnectorError` as `token_request` does; a refused user
    name or password (`invalid_grant`) is a permanent error naming the CRM's reason
    (SugarCRM: "Your username or password was incorrect.").
    """
    data = {
        "grant_type": PASSWORD_GRANT,
        "username": str(settings.get(config.username_setting, "") or "").strip(),
        "password": str(settings.get(config.password_setting, "") or ""),
    }
    scope = config.scope(settings)
    if scope:
        data["scope"] = scope
    try:
        return token_request(config, settings=settings, data=data)
    except InvalidGrantError as exc:
        reason = f": {exc.reason.rstrip('.')}" if exc.reason else " (invalid_grant)"
        raise ConnectorError(
            Text(
                gettext_noop(
                    "The CRM's token endpoint refused the user name and "
                    "password%(reason)s. Check them in the settings."
                ),
                reason=reason,
            ),
            permanent=True,
        ) from exc


def _password_token(
    integration_id: int,
    config: OAuth2Config,
    *,
    settings: Mapping[str, Any],
    version: int,
    stale: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A fresh password-grant token, stored: by the refresh token of `stale` when it has one
    (RFC 6749 §6), else, or when the CRM refuses that refresh token (`invalid_grant`: expired,
    or rotated by another login), by a new password grant. Saved as `_store_server_token` does."""
    fresh: dict[str, Any] | None = None
    refresh_token = str((stale or {}).get("refresh_token") or "")
    if refresh_token:
        try:
            fresh = token_request(
                config,
                settings=settings,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            )
        except InvalidGrantError:
            fresh = None
        else:
            if not fresh["instance_url"]:
                fresh["instance_url"] = str((stale or {}).get("instance_url", "") or "")
    if fresh is None:
        fresh = password_request(config, settings=settings)
    return _store_server_token(integration_id, fresh, version=version)


def refresh_access_token(
    integration_id: int, config: OAuth2Config, *, settings: Mapping[str, Any], stale: Mapping[str, Any]
) -> dict[str, Any]:
    """Replace the expiring token `stale` (what the caller read) with a fresh one and return it.

    Under a row lock the stored token is re-read: when another worker already replaced `stale`,
    its token is used and nothing is sent. Otherwise the refresh token is sent (RFC 6749 §6)
    and the answer saved only if `oauth_token_version` is still the one read (compare-and-swap);
    when it is not, or the CRM says `invalid_grant` because another worker rotated the refresh
    token meanwhile, the stored token is used. An `invalid_grant` for the refresh token still
    stored marks the integration "reconnect required" and raises the permanent
    `RECONNECT_MESSAGE` error. Temporary failures raise a temporary `ConnectorError`.
    """
    from integrations.models import Integration

    invalid = False
    with transaction.atomic():
        token, version, reconnect = _stored(integration_id, lock=True)
        if token is None:
            raise ConnectorError(NOT_CONNECTED_MESSAGE, permanent=True)
        if reconnect:
            raise ConnectorError(RECONNECT_MESSAGE, permanent=True)
        if token.get("refresh_token") != stale.get("refresh_token") or token.get("access_token") != stale.get(
            "access_token"
        ):
            return token
        if not token.get("refresh_token"):
            invalid = True
        else:
            try:
                fresh = token_request(
                    config,
                    settings=settings,
                    data={"grant_type": "refresh_token", "refresh_token": str(token["refresh_token"])},
                )
            except InvalidGrantError:
                invalid = True
            else:
                if not fresh["instance_url"]:
                    fresh["instance_url"] = token.get("instance_url", "")
                row = Integration.objects.get(pk=integration_id)
                secrets = {**(row.secrets or {}), TOKEN_SECRET: fresh}
                row.secrets = secrets
                saved = Integration.objects.filter(pk=integration_id, oauth_token_version=version).update(
                    secrets=row.secrets, oauth_token_version=version + 1
                )
                if saved:
                    return fresh
    current, _, reconnect = _stored(integration_id)
    if current is not None and not reconnect and current.get("refresh_token") != stale.get("refresh_token"):
        return current  # another worker refreshed first: use its token
    if invalid:
        Integration.objects.filter(pk=integration_id).update(oauth_reconnect_required=True)
    raise ConnectorError(RECONNECT_MESSAGE, permanent=True)


@dataclass(frozen=True)
class OAuth2:
    """`HttpConnector` auth: the stored OAuth 2.0 access token as `Authorization: Bearer ...`.

    Reads the token of the integration named by the `_integration_id` setting (see
    `integrations.sync.connector_settings`), refreshing it first when needed (`access_token`).
    Raises `ConnectorError` as `access_token` does.
    """

    config: OAuth2Config

    def apply(self, settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The bearer header with the current access token."""
        token = self.token(settings)
        return {"Authorization": f"Bearer {token['access_token']}"}, {}

    def token(self, settings: Mapping[str, str]) -> dict[str, Any]:
        """The usable token (see `access_token`). Without an integration (the wizard's connection
        test) a client-credentials or password-grant token is requested and not stored; an
        authorization-code preset raises `NotConnectedError`."""
        integration_id = str(settings.get(INTEGRATION_ID_SETTING, "") or "")
        if not integration_id.isdigit():
            if self.config.grant == CLIENT_CREDENTIALS:
                return client_credentials_request(self.config, settings=settings)
            if self.config.grant == PASSWORD_GRANT:
                return password_request(self.config, settings=settings)
            raise NotConnectedError
        return access_token(int(integration_id), self.config, settings=settings)

    def instance_url(self, settings: Mapping[str, str]) -> str:
        """The API host the token endpoint handed back (Salesforce `instance_url`), "" for none."""
        if not self.config.instance_url_field:
            return ""
        return str(self.token(settings).get("instance_url", "") or "")


def oauth_config_for(integration: Integration) -> OAuth2Config | None:
    """The integration's OAuth declaration, None when it does not use OAuth 2.0."""
    from integrations.registry import PRESETS

    preset = next((p for p in PRESETS if p.slug == integration.preset), None)
    return preset_oauth_config(preset.connector_class if preset else None, integration.settings or {})
