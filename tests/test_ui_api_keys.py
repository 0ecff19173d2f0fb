"""The API keys page: the key shown once with a copy field, "last used", revoking with a confirmation.

Also the ready `curl` line of the matching API on the "Connect your PBX" page.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)  # 10:15 in Amsterdam


def call_api(client: Client, key: str) -> int:
    """One call of the matching API with `key`; its status code."""
    response = client.get(
        reverse("api-match"), {"caller_number": "0201234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}"
    )
    return response.status_code


def key_row(html: str, name: str) -> str:
    """The table row of the key named `name` on the API keys page."""
    match = re.search(rf"<tr>\s*<td class=\"fw-semibold\">{re.escape(name)}</td>.*?</tr>", html, re.S)
    assert match is not None, f"no row for {name}"
    return match.group(0)


def test_a_new_key_is_never_used_until_a_pbx_calls_with_it(tenant: Tenant, admin_client: Client) -> None:
    api_key_create(tenant=tenant, name="Office PBX")
    row = key_row(admin_client.get(reverse("api-keys")).text, "Office PBX")
    assert "never" in row


def test_last_used_is_recorded_at_most_once_a_minute_and_shown(tenant: Tenant, admin_client: Client) -> None:
    api_key, key = api_key_create(tenant=tenant, name="Office PBX")
    with time_machine.travel(START, tick=False):
        assert call_api(Client(), key) == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at == START

    # 30 seconds later: no write.
    with time_machine.travel(START + dt.timedelta(seconds=30), tick=False):
        assert call_api(Client(), key) == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at == START

    # A minute later: recorded again.
    later = START + dt.timedelta(minutes=1, seconds=5)
    with time_machine.travel(later, tick=False):
        assert call_api(Client(), key) == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at == later

    row = key_row(admin_client.get(reverse("api-keys")).text, "Office PBX")
    assert "2026-03-02 10:16" in row  # the tenant's time zone (Europe/Amsterdam)
    assert "never" not in row


def test_a_refused_call_does_not_count_as_use(tenant: Tenant) -> None:
    api_key, key = api_key_create(tenant=tenant, name="Office PBX")
    assert call_api(Client(), key + "x") == 401
    api_key.refresh_from_db()
    assert api_key.last_used_at is None


def test_the_created_key_is_in_a_selectable_field_with_a_copy_button(admin_client: Client) -> None:
    page = admin_client.get(reverse("api-keys")).text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token is not None
    response = admin_client.post(reverse("api-keys"), {"name": "Office PBX", "form_token": token.group(1)})
    assert response.status_code == 200
    key_field = re.search(r'<input id="api-key-value"[^>]*>', response.text)
    assert key_field is not None
    key = re.search(r'value="([^"]+)"', key_field.group(0))
    assert key is not None
    assert TenantAPIKey.objects.get_from_key(key.group(1)).name == "Office PBX"
    assert "readonly" in key_field.group(0)
    assert "disabled" not in key_field.group(0)  # selectable and copyable by hand without JavaScript
    assert 'data-copy="#api-key-value"' in response.text
    assert "/static/app/ui.js" in response.text


def test_revoking_asks_first_and_then_revokes(tenant: Tenant, admin_client: Client) -> None:
    api_key, key = api_key_create(tenant=tenant, name="Old PBX")
    url = reverse("api-key-revoke", args=[api_key.prefix])
    ask = reverse("api-key-revoke-confirm", args=[api_key.prefix])
    listing = admin_client.get(reverse("api-keys")).text
    assert f'href="{ask}"' in key_row(listing, "Old PBX")
    assert admin_client.get(url).status_code == 405  # revoking itself is POST only

    question = admin_client.get(ask)
    assert question.status_code == 200
    assert "Revoke the API key “Old PBX”?" in question.text
    assert f'<form method="post" action="{url}"' in question.text
    api_key.refresh_from_db()
    assert not api_key.revoked  # asking changes nothing
    assert call_api(Client(), key) == 200

    response = admin_client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("api-keys")
    assert "is revoked" in response.text
    api_key.refresh_from_db()
    assert api_key.revoked
    assert call_api(Client(), key) == 401
    # A revoked key is not asked about again.
    assert admin_client.get(ask).status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_tenants_key_is_not_found(
    tenant: Tenant, other_tenant: Tenant, admin_client: Client, method: str
) -> None:
    theirs, _ = api_key_create(tenant=other_tenant, name="Globex PBX")
    name = "api-key-revoke-confirm" if method == "get" else "api-key-revoke"
    response = getattr(admin_client, method)(reverse(name, args=[theirs.prefix]))
    assert response.status_code == 404
    assert "Globex PBX" not in response.text
    theirs.refresh_from_db()
    assert not theirs.revoked


@pytest.mark.parametrize("prefix", ["nope", "x" * 300, "%00", "a.b"])
def test_an_unknown_prefix_is_not_found(tenant: Tenant, admin_client: Client, prefix: str) -> None:
    assert admin_client.get(reverse("api-key-revoke-confirm", args=[prefix])).status_code == 404
    assert admin_client.post(reverse("api-key-revoke", args=[prefix])).status_code == 404


def test_a_member_who_is_not_an_admin_is_refused(tenant: Tenant, client: Client) -> None:
    api_key, _ = api_key_create(tenant=tenant, name="Office PBX")
    client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(reverse("api-keys")).status_code == 403
    assert client.get(reverse("api-key-revoke-confirm", args=[api_key.prefix])).status_code == 403
    assert client.post(reverse("api-key-revoke", args=[api_key.prefix])).status_code == 403
    api_key.refresh_from_db()
    assert not api_key.revoked


# The curl line on "Connect your PBX" --------------------------------------------------------


def test_the_pbx_page_has_a_curl_line_for_the_matching_api_on_the_tenants_host(
    tenant: Tenant, admin_client: Client, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["acme.cti.example.com"]
    response = admin_client.get(reverse("pbx-senders"), HTTP_HOST="acme.cti.example.com", secure=True)
    assert response.status_code == 200
    field = re.search(r'<input id="match-curl"[^>]*value="([^"]+)"', response.text)
    assert field is not None
    curl = field.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    assert curl == (
        'curl -H "Authorization: Api-Key <your-api-key>" '
        '"https://acme.cti.example.com/api/v1/match?caller_number=0201234567"'
    )
    assert 'data-copy="#match-curl"' in response.text


def test_the_curl_line_works_once_the_placeholder_is_replaced(tenant: Tenant, admin_client: Client) -> None:
    _, key = api_key_create(tenant=tenant, name="Office PBX")
    page = admin_client.get(reverse("pbx-senders")).text
    field = re.search(r'<input id="match-curl"[^>]*value="([^"]+)"', page)
    assert field is not None
    url = re.search(r"&quot;(http://testserver/[^&]+\?[^&]+)&quot;", field.group(1))
    assert url is not None
    path = url.group(1).removeprefix("http://testserver")
    response = Client().get(path, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200
    assert response.json()["call"]["caller_number"]
