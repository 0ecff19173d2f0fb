"""The "Connect your PBX" page: add, show once, rotate, disable, delete, audit; tenants kept apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.http import HttpRequest
from django.test import Client

from integrations.pbx.models import PbxSender
from integrations.pbx.services import pbx_sender_create
from tests.conftest import PASSWORD

PAGE = "/pbx/"


def form_token(client: Client) -> str:
    page = client.get(PAGE).content.decode()
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def add(client: Client, fmt: str, name: str) -> Any:
    return client.post(PAGE, {"format": fmt, "name": name, "form_token": form_token(client)})


def test_the_page_is_in_the_sidebar_and_lists_no_senders_at_first(admin_client):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/pbx/"' in page
    assert "Connect your PBX" in page
    assert "No PBX senders yet." in page
    for label in (
        "Zammad generic CTI",
        "Placetel Notify API",
        "sipgate.io Push API",
        "Anywhere365",
        "CloudCTI",
    ):
        assert label in page


def test_adding_a_zammad_sender_shows_its_url_to_paste(tenant, admin_client):
    response = add(admin_client, "zammad", "Office PBX")

    assert response.status_code == 200
    sender = PbxSender.objects.get(tenant=tenant, name="Office PBX")
    page = response.content.decode()
    assert f"http://testserver/pbx/zammad/{sender.token}/" in page
    assert "Endpoint (Zammad CTI URL)" in page
    assert sender.secrets is None
    # The list keeps showing the URL.
    assert f"/pbx/zammad/{sender.token}/" in admin_client.get(PAGE).content.decode()


def test_a_placetel_secret_is_shown_once(tenant, admin_client):
    response = add(admin_client, "placetel", "Placetel")
    sender = PbxSender.objects.get(tenant=tenant, name="Placetel")
    assert len(sender.secret) == 64
    assert sender.secret in response.content.decode()
    assert "only time it is shown" in response.content.decode()

    listing = admin_client.get(PAGE).content.decode()
    assert sender.secret not in listing
    assert f"/pbx/placetel/{sender.token}/" in listing


def test_a_reused_form_adds_no_second_sender(tenant, admin_client):
    token = form_token(admin_client)
    admin_client.post(PAGE, {"format": "zammad", "name": "Once", "form_token": token})
    again = admin_client.post(PAGE, {"format": "zammad", "name": "Twice", "form_token": token})
    assert again.status_code == 302
    assert list(PbxSender.objects.filter(tenant=tenant).values_list("name", flat=True)) == ["Once"]


@pytest.mark.parametrize(
    ("fmt", "name", "words"),
    [
        ("zammad", "Taken", "already exists"),
        ("asterisk", "New", "Select a valid choice"),
        ("zammad", "", "required"),
    ],
)
def test_bad_input_is_a_400_with_the_forms_message(tenant, admin_client, fmt, name, words):
    pbx_sender_create(tenant=tenant, format_slug="zammad", name="Taken")
    response = add(admin_client, fmt, name)
    assert response.status_code == 400
    assert words in response.content.decode()


def test_rotate_gives_a_new_url_and_secret_and_the_old_url_is_refused(tenant, admin_client):
    sender = pbx_sender_create(tenant=tenant, format_slug="placetel", name="Placetel")
    old_token, old_secret = sender.token, sender.secret

    response = admin_client.post(f"/pbx/senders/{sender.pk}/rotate/")

    sender.refresh_from_db()
    assert response.status_code == 200
    assert sender.token != old_token
    assert sender.secret != old_secret
    assert sender.secret in response.content.decode()
    assert f"/pbx/placetel/{sender.token}/" in response.content.decode()
    assert Client().post(f"/pbx/placetel/{old_token}/").status_code == 404


def test_disable_enable_and_delete(tenant, admin_client):
    sender = pbx_sender_create(tenant=tenant, format_slug="cloudcti", name="CTI")
    assert admin_client.post(f"/pbx/senders/{sender.pk}/disable/").status_code == 302
    sender.refresh_from_db()
    assert sender.enabled is False
    assert "disabled" in admin_client.get(PAGE).content.decode()
    admin_client.post(f"/pbx/senders/{sender.pk}/enable/")
    sender.refresh_from_db()
    assert sender.enabled is True
    admin_client.post(f"/pbx/senders/{sender.pk}/delete/")
    assert not PbxSender.objects.filter(pk=sender.pk).exists()


def test_changes_are_audit_logged_without_token_or_secret(tenant, admin_client):
    add(admin_client, "placetel", "Placetel")
    sender = PbxSender.objects.get(tenant=tenant, name="Placetel")
    admin_client.post(f"/pbx/senders/{sender.pk}/rotate/")
    admin_client.post(f"/pbx/senders/{sender.pk}/disable/")
    sender.refresh_from_db()

    entries = LogEntry.objects.filter(additional_data__tenant_id=tenant.pk, object_repr__contains="Placetel")
    assert entries.count() == 3
    log_page = admin_client.get("/audit-log/?type=pbx-sender").content.decode()
    assert "PBX sender" in log_page
    assert "disabled" in log_page
    assert "rotated at" in log_page
    assert sender.token not in log_page
    assert sender.secret not in log_page
    for entry in entries:
        assert sender.secret not in str(entry.changes)
        assert sender.token not in str(entry.changes)


def test_another_tenants_admin_can_neither_see_nor_change_a_sender(tenant, other_tenant, other_admin_client):
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Ours")
    assert sender.token not in other_admin_client.get(PAGE).content.decode()
    for action in ("rotate", "disable", "enable", "delete"):
        assert other_admin_client.post(f"/pbx/senders/{sender.pk}/{action}/").status_code == 404
    sender.refresh_from_db()
    assert sender.enabled is True
    assert PbxSender.objects.filter(pk=sender.pk, token=sender.token).exists()


def test_only_tenant_admins_get_in(tenant):
    assert Client().get(PAGE).status_code == 302
    member = Client()
    assert member.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert member.get(PAGE).status_code == 403
    assert member.post(PAGE, {"format": "zammad", "name": "X"}).status_code == 403
    assert not PbxSender.objects.exists()


def test_actions_need_post(tenant, admin_client):
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Ours")
    assert admin_client.get(f"/pbx/senders/{sender.pk}/delete/").status_code == 405


def test_the_django_admin_shows_senders_without_token_or_secret(tenant, django_user_model):
    sender = pbx_sender_create(tenant=tenant, format_slug="placetel", name="Placetel")
    staff = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    client = Client()
    client.force_login(staff)
    from django.conf import settings

    page = client.get(f"/{settings.ADMIN_URL_PATH}integrations/pbxsender/{sender.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Placetel" in text
    assert sender.token not in text
    assert sender.secret not in text
