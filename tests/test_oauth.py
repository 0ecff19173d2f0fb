"""OAuth 2.0 for connectors against a local authorization server the tests start (tests/oauth_server.py).

The whole flow: Connect -> the server's consent -> callback with the code -> token stored
encrypted -> a sync uses it; `state` checked; refresh before expiry; two refreshes at once keep
one valid token; a revoked refresh token means "reconnect required"; a 5xx is temporary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from integrations import oauth
from integrations.connectors.base import ConnectorError, CrmRecord
from integrations.connectors.rest_json import (
    REST_JSON_OAUTH,
    REST_JSON_OAUTH_CLIENT_CREDENTIALS,
    RestJsonConnector,
)
from integrations.models import Integration
from integrations.oauth import RECONNECT_MESSAGE, TOKEN_SECRET, OAuth2, access_token, refresh_access_token
from integrations.services import integration_create
from integrations.sync import connector_settings, phone_cache_sync
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, CONTACTS, USER_PASSWORD, USERNAME, OAuthServer


@pytest.fixture
def start() -> dt.datetime:
    """The instant the token tests freeze the clock at: now (whatever the wall clock says, so the
    admin's session, signed in at the real now, is still valid there), to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def server() -> Iterator[OAuthServer]:
    running = OAuthServer().start()
    yield running
    running.stop()


def _settings(server: OAuthServer) -> dict[str, str]:
    return {
        "base_url": server.url,
        "auth_kind": "oauth2_code",
        "oauth_authorize_url": f"{server.url}/authorize",
        "oauth_token_url": f"{server.url}/token",
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": CLIENT_SECRET,
        "oauth_scopes": "contacts.read",
        "list_path": "/api/contacts",
        "phone_paths": "phone",
    }


@pytest.fixture
def integration(tenant: Tenant, server: OAuthServer, allow_private_addresses: None) -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="OAuth CRM",
        settings_values=_settings(server),
        start_sync=False,
    )


def _connect(client: Client, integration: Integration) -> Any:
    """Run Connect -> the server's authorize endpoint (auto-consent) -> our callback."""
    started = client.get(reverse("integration-oauth-connect", args=[integration.pk]))
    assert started.status_code == 302
    assert started["Location"].startswith("http"), f"not sent to the CRM: {started['Location']}"
    consent = httpx.get(started["Location"])
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert back.path == reverse("integration-oauth-callback")
    return client.get(f"{back.path}?{back.query}")


def _stored_token(integration: Integration) -> dict[str, Any]:
    integration.refresh_from_db()
    token = (integration.secrets or {})[TOKEN_SECRET]
    assert isinstance(token, dict)
    return token


def _raw_secrets(integration: Integration) -> str:
    """The secrets column as stored in the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [integration.pk])
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.django_db
def test_connect_runs_the_flow_stores_the_token_encrypted_and_a_sync_uses_it(
    admin_client: Client, integration: Integration, server: OAuthServer
) -> None:
    started = admin_client.get(reverse("integration-oauth-connect", args=[integration.pk]))
    query = parse_qs(urlsplit(started["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["contacts.read"]
    assert query["redirect_uri"] == ["http://testserver/integrations/oauth/callback/"]

    response = _connect(admin_client, integration)

    assert response.status_code == 302
    assert response["Location"] == reverse("integration-overview", args=[integration.pk])
    token = _stored_token(integration)
    assert token["access_token"] in server.access_tokens
    assert token["refresh_token"] in server.refresh_tokens
    # PKCE: the code was exchanged with the verifier matching the challenge the server checked.
    assert server.token_requests[-1]["grant_type"] == "authorization_code"
    assert server.token_requests[-1]["code_verifier"]
    raw = _raw_secrets(integration)
    assert token["access_token"] not in raw
    assert token["refresh_token"] not in raw
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "is connected to the CRM" in page
    assert 'id="oauth-status"' in page

    result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert (result.status, result.records) == ("ok", len(CONTACTS)), result.error
    assert server.api_tokens_seen == [token["access_token"]]


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["", "forged-state"])
def test_a_missing_or_wrong_state_is_refused_and_nothing_is_stored(
    admin_client: Client, integration: Integration, server: OAuthServer, state: str
) -> None:
    admin_client.get(reverse("integration-oauth-connect", args=[integration.pk]))

    response = admin_client.get(reverse("integration-oauth-callback"), {"code": "abc", "state": state})

    assert response.status_code == 400
    assert "missing or unknown state" in response.content.decode()
    integration.refresh_from_db()
    assert TOKEN_SECRET not in (integration.secrets or {})
    assert server.token_requests == []


@pytest.mark.django_db
def test_connect_is_tenant_scoped_and_for_admins_only(
    tenant: Tenant, other_admin_client: Client, integration: Integration, server: OAuthServer
) -> None:
    url = reverse("integration-oauth-connect", args=[integration.pk])
    assert other_admin_client.get(url).status_code == 404
    member = Client()
    assert member.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert member.get(url).status_code == 403
    # A state started by the other tenant's admin is not accepted for this tenant's session either.
    assert member.get(reverse("integration-oauth-callback"), {"state": "x", "code": "y"}).status_code == 403


@pytest.mark.django_db
def test_an_expiring_access_token_is_refreshed_before_use_and_saved(
    admin_client: Client, integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        _connect(admin_client, integration)
        first = _stored_token(integration)
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in - 30))  # inside the 60 s margin

        result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

        assert result.status == "ok", result.error
        second = _stored_token(integration)
        assert second["access_token"] != first["access_token"]
        assert second["refresh_token"] != first["refresh_token"]
        assert server.api_tokens_seen == [second["access_token"]]
        assert second["access_token"] not in _raw_secrets(integration)  # saved back encrypted
        assert [r["grant_type"] for r in server.token_requests] == ["authorization_code", "refresh_token"]


@pytest.mark.django_db
def test_a_worker_that_read_the_old_token_uses_the_one_another_worker_refreshed(
    admin_client: Client, integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        _connect(admin_client, integration)
        stale = _stored_token(integration)
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))
        settings = connector_settings(integration)
        worker_a = access_token(integration.pk, REST_JSON_OAUTH, settings=settings)

        worker_b = refresh_access_token(integration.pk, REST_JSON_OAUTH, settings=settings, stale=stale)

        assert worker_b == worker_a == _stored_token(integration)
        assert [r["grant_type"] for r in server.token_requests].count("refresh_token") == 1
        assert worker_a["refresh_token"] in server.refresh_tokens


@pytest.mark.django_db
def test_a_refresh_racing_another_one_on_the_server_keeps_the_winners_token(
    admin_client: Client,
    integration: Integration,
    server: OAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    start: dt.datetime,
) -> None:
    """Worker B sends the same refresh token after worker A rotated it (no row lock, e.g.
    SQLite): the server says invalid_grant, B re-reads and uses A's token; no reconnect."""
    with time_machine.travel(start, tick=False) as traveller:
        _connect(admin_client, integration)
        stale = _stored_token(integration)
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))
        settings = connector_settings(integration)
        real = oauth.token_request
        winner: dict[str, Any] = {}

        def racing(*args: Any, **kwargs: Any) -> dict[str, Any]:
            if not winner:  # worker A refreshes and saves while B's request is on its way
                monkeypatch.setattr(oauth, "token_request", real)
                winner.update(real(*args, **kwargs))
                Integration.objects.filter(pk=integration.pk).update(
                    secrets={**(integration.secrets or {}), TOKEN_SECRET: winner}
                )
                Integration.objects.filter(pk=integration.pk).update(oauth_token_version=99)
            return real(*args, **kwargs)

        monkeypatch.setattr(oauth, "token_request", racing)

        used = refresh_access_token(integration.pk, REST_JSON_OAUTH, settings=settings, stale=stale)

        assert used["access_token"] == winner["access_token"]
        assert server.token_requests[-1]["refresh_token"] == stale["refresh_token"]  # refused on the server
        integration.refresh_from_db()
        assert not integration.oauth_reconnect_required
        assert _stored_token(integration)["refresh_token"] in server.refresh_tokens


@pytest.mark.django_db
def test_a_revoked_refresh_token_marks_reconnect_required_and_fails_the_sync_for_good(
    admin_client: Client, integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        _connect(admin_client, integration)
        server.revoke(_stored_token(integration)["refresh_token"])
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))

        result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert result.status == "failed"
    assert result.error == RECONNECT_MESSAGE
    integration.refresh_from_db()
    assert integration.oauth_reconnect_required
    with pytest.raises(ConnectorError) as caught:
        access_token(integration.pk, REST_JSON_OAUTH, settings=connector_settings(integration))
    assert caught.value.permanent
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert 'id="oauth-reconnect"' in page
    assert ">Reconnect</a>" in page
    assert "reconnect required" in page  # the sidebar badge
    assert server.api_tokens_seen == []

    _connect(admin_client, integration)  # Reconnect

    integration.refresh_from_db()
    assert not integration.oauth_reconnect_required
    assert phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None).status == "ok"


@pytest.mark.django_db
def test_a_5xx_from_the_token_endpoint_while_refreshing_is_temporary(
    admin_client: Client, integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        _connect(admin_client, integration)
        old = _stored_token(integration)
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))
        server.fail_token_requests = 1

        with pytest.raises(ConnectorError) as caught:
            access_token(integration.pk, REST_JSON_OAUTH, settings=connector_settings(integration))

        assert not caught.value.permanent
        integration.refresh_from_db()
        assert not integration.oauth_reconnect_required
        assert _stored_token(integration) == old
        # The next try (the sync's retry) refreshes.
        assert access_token(integration.pk, REST_JSON_OAUTH, settings=connector_settings(integration)) != old


@pytest.mark.django_db
def test_the_wizard_creates_an_oauth_integration_and_goes_straight_to_connect(
    admin_client: Client,
    tenant: Tenant,
    server: OAuthServer,
    allow_private_addresses: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    values = {f"settings-{name}": value for name, value in _settings(server).items()}

    response = admin_client.post(
        reverse("integration-add", args=["rest_json"]), {"name": "Wizard CRM", **values, "action": "create"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    integration = Integration.objects.get(tenant=tenant, name="Wizard CRM")
    assert response["Location"] == reverse("integration-oauth-connect", args=[integration.pk])
    assert integration.sync_runs.count() == 0  # the first sync waits for Connect
    with django_capture_on_commit_callbacks(execute=True):
        back = _connect(admin_client, integration)
    assert back["Location"] == reverse("integration-overview", args=[integration.pk])
    assert _stored_token(integration)["access_token"] in server.access_tokens
    # Connect starts the first sync (it ran in-process here) and says so.
    [run] = integration.sync_runs.all()
    assert run.status == "ok"
    integration.refresh_from_db()
    assert integration.cached_numbers == len(CONTACTS)
    page = admin_client.get(back["Location"]).content.decode()
    assert "its first sync has started" in page

    with django_capture_on_commit_callbacks(execute=True):
        _connect(admin_client, integration)  # a reconnect does not start another sync
    assert integration.sync_runs.count() == 1


@pytest.fixture
def client_credentials(tenant: Tenant, server: OAuthServer, allow_private_addresses: None) -> Integration:
    values = {**_settings(server), "auth_kind": "oauth2_client_credentials", "oauth_authorize_url": ""}
    return integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="Server to server",
        settings_values=values,
        start_sync=False,
    )


@pytest.mark.django_db
def test_client_credentials_sync_without_connect_and_reuse_the_stored_token_until_it_expires(
    client_credentials: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        first = phone_cache_sync(integration_id=client_credentials.pk, sleep=lambda s: None)
        second = phone_cache_sync(integration_id=client_credentials.pk, sleep=lambda s: None)
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))
        third = phone_cache_sync(integration_id=client_credentials.pk, sleep=lambda s: None)

    assert [first.status, second.status, third.status] == ["ok", "ok", "ok"], first.error
    assert [r["grant_type"] for r in server.token_requests] == ["client_credentials"] * 2
    assert "refresh_token" not in server.token_requests[0]
    assert server.api_tokens_seen[0] == server.api_tokens_seen[1] != server.api_tokens_seen[2]
    assert _stored_token(client_credentials)["access_token"] == server.api_tokens_seen[2]
    assert _stored_token(client_credentials)["access_token"] not in _raw_secrets(client_credentials)


@pytest.mark.django_db
def test_client_credentials_need_no_connect_button_and_connect_refuses(
    admin_client: Client, client_credentials: Integration
) -> None:
    page = admin_client.get(reverse("integration-overview", args=[client_credentials.pk])).content.decode()
    assert 'id="oauth-reconnect"' not in page
    assert reverse("integration-oauth-connect", args=[client_credentials.pk]) not in page

    response = admin_client.get(reverse("integration-oauth-connect", args=[client_credentials.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("integration-overview", args=[client_credentials.pk])


@pytest.mark.django_db
def test_the_wizards_connection_test_asks_a_client_credentials_token_without_storing_it(
    admin_client: Client, tenant: Tenant, server: OAuthServer, allow_private_addresses: None
) -> None:
    values = {**_settings(server), "auth_kind": "oauth2_client_credentials", "oauth_authorize_url": ""}
    form = {f"settings-{name}": value for name, value in values.items()}

    response = admin_client.post(
        reverse("integration-add", args=["rest_json"]), {"name": "CC", **form, "action": "test"}
    )

    assert response.status_code == 200
    assert [r["grant_type"] for r in server.token_requests] == ["client_credentials"]
    assert len(server.api_tokens_seen) == 1
    assert not Integration.objects.filter(tenant=tenant, name="CC").exists()


@pytest.mark.django_db
def test_a_wrong_client_secret_is_a_permanent_error_naming_the_crms_reason(
    client_credentials: Integration, server: OAuthServer
) -> None:
    settings = {**connector_settings(client_credentials), "oauth_client_secret": "wrong"}

    with pytest.raises(ConnectorError) as caught:
        access_token(client_credentials.pk, REST_JSON_OAUTH_CLIENT_CREDENTIALS, settings=settings)

    assert caught.value.permanent
    assert "invalid_client" in caught.value.message


class _HandedBackHost(RestJsonConnector):
    """A connector whose OAuth token names the API host, as Salesforce's `instance_url` does."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth = OAuth2(dataclasses.replace(REST_JSON_OAUTH, instance_url_field="instance_url"))


@pytest.mark.django_db
def test_the_host_the_token_endpoint_hands_back_is_the_one_called(
    integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    server.hand_back_instance_url = True
    handed_back = dataclasses.replace(REST_JSON_OAUTH, instance_url_field="instance_url")
    with time_machine.travel(start, tick=False):
        token = oauth.client_credentials_request(handed_back, settings=connector_settings(integration))
    assert token["instance_url"] == server.url  # read from the token answer
    integration.secrets = {**(integration.secrets or {}), TOKEN_SECRET: token}
    integration.save(update_fields=["secrets"])
    settings = {**connector_settings(integration), "base_url": "https://login.crm.invalid"}
    calls: list[str] = []

    def record(request: httpx.Request) -> None:
        calls.append(str(request.url))

    with (
        time_machine.travel(start, tick=False),
        httpx.Client(event_hooks={"request": [record]}) as client,
    ):
        records = list(_HandedBackHost(settings=settings, client=client).iter_records())

    assert [r.display_name for r in records if isinstance(r, CrmRecord)] == [c["name"] for c in CONTACTS]
    assert calls
    assert all(call.startswith(server.url) for call in calls)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant"}),  # RFC 6749 §5.2
        (200, {"error": "invalid_code"}),  # Zoho: a refusal in a 200 answer
        (400, {"status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid"}),  # HubSpot
    ],
)
def test_every_crms_spelling_of_a_dead_grant_means_reconnect(status: int, body: dict[str, str]) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))

    with pytest.raises(oauth.InvalidGrantError) as caught:
        oauth.token_request(
            REST_JSON_OAUTH, settings={"oauth_token_url": "https://crm.example.com/t"}, data={}, client=client
        )

    assert caught.value.permanent
    assert caught.value.message == RECONNECT_MESSAGE


def test_another_refusal_names_the_crms_reason() -> None:
    body = {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(400, json=body)))

    with pytest.raises(ConnectorError, match="missing or unknown client id") as caught:
        oauth.token_request(
            REST_JSON_OAUTH, settings={"oauth_token_url": "https://crm.example.com/t"}, data={}, client=client
        )

    assert caught.value.permanent


# --- The resource owner password credentials grant (RFC 6749 §4.3): SugarCRM's only grant.

PASSWORD_CONFIG = dataclasses.replace(REST_JSON_OAUTH, authorize_url="", grant=oauth.PASSWORD_GRANT)


class _PasswordGrant(RestJsonConnector):
    """A connector whose token comes from the password grant."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth = OAuth2(PASSWORD_CONFIG)


def _password_settings(integration: Integration, password: str = USER_PASSWORD) -> dict[str, str]:
    return {**connector_settings(integration), "username": USERNAME, "password": password}


def _names(integration: Integration, settings: dict[str, str]) -> list[str]:
    with httpx.Client() as client:
        records = list(_PasswordGrant(settings=settings, client=client).iter_records())
    return [r.display_name for r in records if isinstance(r, CrmRecord)]


@pytest.mark.django_db
def test_the_password_grant_needs_no_connect_stores_its_token_encrypted_and_reuses_it_until_expiry(
    integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    settings = _password_settings(integration)
    assert not PASSWORD_CONFIG.needs_connect
    with time_machine.travel(start, tick=False) as traveller:
        assert _names(integration, settings) == [c["name"] for c in CONTACTS]
        first = _stored_token(integration)
        assert _names(integration, settings) == [c["name"] for c in CONTACTS]  # reused
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))
        assert _names(integration, settings) == [c["name"] for c in CONTACTS]
        second = _stored_token(integration)

    grants = [r["grant_type"] for r in server.token_requests]
    assert grants == ["password", "refresh_token"]  # refreshed with the answer's refresh token
    assert server.token_requests[0]["username"] == USERNAME
    assert server.token_requests[0]["password"] == USER_PASSWORD
    assert server.token_requests[1]["refresh_token"] == first["refresh_token"]
    assert server.api_tokens_seen == [first["access_token"]] * 2 + [second["access_token"]]
    raw = _raw_secrets(integration)
    assert second["access_token"] not in raw
    assert second["refresh_token"] not in raw


@pytest.mark.django_db
def test_a_refused_refresh_token_falls_back_to_a_new_password_grant(
    integration: Integration, server: OAuthServer, start: dt.datetime
) -> None:
    settings = _password_settings(integration)
    with time_machine.travel(start, tick=False) as traveller:
        first = access_token(integration.pk, PASSWORD_CONFIG, settings=settings)
        server.revoke(first["refresh_token"])
        traveller.move_to(start + dt.timedelta(seconds=server.expires_in))

        second = access_token(integration.pk, PASSWORD_CONFIG, settings=settings)

    assert [r["grant_type"] for r in server.token_requests] == ["password", "refresh_token", "password"]
    assert second["access_token"] != first["access_token"]
    assert _stored_token(integration)["access_token"] == second["access_token"]
    integration.refresh_from_db()
    assert not integration.oauth_reconnect_required


@pytest.mark.django_db
def test_a_wrong_password_is_a_permanent_error_naming_the_crms_reason(
    integration: Integration, server: OAuthServer
) -> None:
    with pytest.raises(ConnectorError) as caught:
        access_token(integration.pk, PASSWORD_CONFIG, settings=_password_settings(integration, "wrong"))

    assert caught.value.permanent
    assert "Invalid username and password combination" in caught.value.message
    assert caught.value.message != RECONNECT_MESSAGE
    integration.refresh_from_db()
    assert TOKEN_SECRET not in (integration.secrets or {})
    assert not integration.oauth_reconnect_required
    assert server.api_tokens_seen == []


@pytest.mark.django_db
def test_without_an_integration_the_password_grant_asks_a_token_without_storing_it(
    integration: Integration, server: OAuthServer
) -> None:
    settings = _password_settings(integration)
    del settings[oauth.INTEGRATION_ID_SETTING]

    token = OAuth2(PASSWORD_CONFIG).token(settings)

    assert token["access_token"] in server.access_tokens
    assert [r["grant_type"] for r in server.token_requests] == ["password"]
    integration.refresh_from_db()
    assert TOKEN_SECRET not in (integration.secrets or {})


def test_every_token_request_carries_the_configured_extra_form_fields() -> None:
    sent: list[dict[str, list[str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": "t", "expires_in": 60})

    config = dataclasses.replace(PASSWORD_CONFIG, token_params=(("platform", "{platform}"),))
    client = httpx.Client(transport=httpx.MockTransport(answer))
    data = {"grant_type": "password", "username": "u", "password": "p"}
    settings = {"oauth_token_url": "https://crm.example.com/t", "platform": "cti"}

    oauth.token_request(config, settings=settings, data=data, client=client)

    assert sent[0]["platform"] == ["cti"]
    assert sent[0]["grant_type"] == ["password"]
