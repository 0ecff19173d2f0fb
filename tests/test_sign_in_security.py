"""Sign-in hardening (issue 5, finding 6): lockouts after repeated failures, password rules.

Before: 30 wrong passwords and then the right one signed in, and `tenant_create` accepted the
password "a".
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tenants.models import Tenant
from tenants.services import tenant_create, user_create_for_tenant
from tests.conftest import PASSWORD

LOCKED_OUT = "Too many failed sign-ins for this account from your address; try again in 15 minutes."
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def sign_in(client: Client, password: str, username: str = "admin", address: str = "203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return client.get(reverse("home")).status_code == 200


def test_thirty_wrong_passwords_then_the_right_one_is_refused(tenant: Tenant, client: Client) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(30):
            sign_in(client, "wrong")

        response = sign_in(client, PASSWORD)

    assert response.status_code == 429
    assert LOCKED_OUT in response.text
    assert "enter a correct username and password" not in response.text
    assert 'name="password"' in response.text  # still the sign-in page
    assert not signed_in(client)


def test_the_fifth_failure_locks_out_and_the_cool_off_ends_it(tenant: Tenant, client: Client) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(4):
            assert sign_in(client, "wrong").status_code == 200
        fifth = sign_in(client, "wrong")
        assert fifth.status_code == 429
        assert LOCKED_OUT in fifth.text

    with time_machine.travel(T0 + dt.timedelta(minutes=14), tick=False):
        assert sign_in(client, PASSWORD).status_code == 429
        assert not signed_in(client)

    with time_machine.travel(T0 + dt.timedelta(minutes=15, seconds=1), tick=False):
        response = sign_in(client, PASSWORD)
        assert response.status_code == 302
        assert signed_in(client)


def test_a_successful_sign_in_resets_the_count(tenant: Tenant) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(2):
            client = Client()
            for _ in range(4):
                sign_in(client, "wrong")
            assert sign_in(client, PASSWORD).status_code == 302

        assert sign_in(Client(), "wrong").status_code == 200  # 1 failure since the reset


def test_the_lockout_is_per_account_and_address(tenant: Tenant, other_tenant: Tenant) -> None:
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            sign_in(Client(), "wrong", address="203.0.113.7")

        assert sign_in(Client(), PASSWORD, address="203.0.113.7").status_code == 429
        assert sign_in(Client(), PASSWORD, address="198.51.100.20").status_code == 302
        assert sign_in(Client(), PASSWORD, username="other_admin").status_code == 302


def test_the_django_admin_sign_in_is_locked_out_too(db: None, client: Client, settings) -> None:
    get_user_model().objects.create_superuser("root", "", "s3cure-root-pass-2026")
    url = reverse("admin:login")
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            client.post(url, {"username": "root", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")

        response = client.post(
            url, {"username": "root", "password": "s3cure-root-pass-2026"}, REMOTE_ADDR="203.0.113.7"
        )

    assert response.status_code == 429
    assert LOCKED_OUT in response.text
    assert client.get(reverse("admin:index")).status_code == 302  # not signed in


@pytest.mark.django_db
def test_tenant_create_refuses_the_password_a_with_the_validators_messages() -> None:
    with pytest.raises(CommandError) as caught:
        call_command(
            "tenant_create",
            "--name",
            "Initech",
            "--admin-username",
            "peter",
            "--admin-password",
            "a",
            stdout=StringIO(),
        )

    assert "This password is too short. It must contain at least 8 characters." in str(caught.value)
    assert not Tenant.objects.filter(name="Initech").exists()
    assert not get_user_model().objects.filter(username="peter").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("peter", "83726451093", "This password is entirely numeric."),
        ("peter", "password123", "This password is too common."),
        ("margaretha", "margaretha1", "The password is too similar to the username."),
    ],
)
def test_every_password_rule_applies_to_tenant_admins(username: str, password: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        tenant_create(name="Initech", admin_username=username, admin_password=password)

    assert message in caught.value.message_dict["password"]
    assert not Tenant.objects.filter(name="Initech").exists()


def test_users_added_to_a_tenant_get_the_same_rules(tenant: Tenant) -> None:
    with pytest.raises(ValidationError) as caught:
        user_create_for_tenant(tenant=tenant, username="bob", password="12345678")

    assert "This password is entirely numeric." in caught.value.message_dict["password"]
    assert not get_user_model().objects.filter(username="bob").exists()


def test_the_demo_password_passes_the_rules() -> None:
    user = get_user_model()(username="admin")
    validate_password("admin-demo-2026", user=user)  # raises ValidationError if not
