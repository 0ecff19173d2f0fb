"""The test world: two tenants and three users, so every test can try to cross the tenant line.

- `tenant` (Acme, NL) with `admin` (tenant admin) and `member` (no privilege),
- `other_tenant` (Globex, BE) with `other_admin`.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client

from configurator.models import Tenant, TenantAPIKey
from configurator.services import api_key_create, tenant_create, user_create_for_tenant

pytest_plugins = ["tests.radicale_server"]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's 1M iterations cost ~0.5 s per user; tests create several users each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> None:
    # Tasks queued by services run in-process in tests unless a test starts a real worker.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from configurator.celery import app

    app.conf.task_always_eager = True


@pytest.fixture
def tenant(db: None) -> Tenant:
    tenant, _ = tenant_create(
        name="Acme",
        country="NL",
        time_zone="Europe/Amsterdam",
        admin_username="admin",
        admin_password=PASSWORD,
    )
    user_create_for_tenant(tenant=tenant, username="member", password=PASSWORD, is_tenant_admin=False)
    return tenant


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    tenant, _ = tenant_create(
        name="Globex",
        country="BE",
        time_zone="Europe/Brussels",
        admin_username="other_admin",
        admin_password=PASSWORD,
    )
    return tenant


@pytest.fixture
def admin_client(tenant: Tenant) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username="admin", password=PASSWORD)
    return client


@pytest.fixture
def other_admin_client(other_tenant: Tenant) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username="other_admin", password=PASSWORD)
    return client


@pytest.fixture
def api_key(tenant: Tenant) -> tuple[TenantAPIKey, str]:
    return api_key_create(tenant=tenant, name="Test PBX")


@pytest.fixture
def other_api_key(other_tenant: Tenant) -> tuple[TenantAPIKey, str]:
    return api_key_create(tenant=other_tenant, name="Other PBX")
