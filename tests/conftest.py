"""The test world: two tenants and three users, so every test can try to cross the tenant line.

- `tenant` (Acme, NL) with `admin` (tenant admin) and `member` (no privilege),
- `other_tenant` (Globex, BE) with `other_admin`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.utils import translation
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create, tenant_create, user_create_for_tenant

pytest_plugins = ["tests.radicale_server", "tests.slapd_server", "tests.faults.plugin"]

PASSWORD = "correct-horse-battery-staple"

# One Hypothesis profile for every property test: derandomized (a failure is the code's, and
# repeats), no example database written into the work tree, no deadline (2 shared cores).
hypothesis_settings.register_profile(
    "cti",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("cti")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        default="",
        help="Run the whole suite as if the wall clock started at this ISO 8601 moment, e.g. "
        "2026-11-22T23:30:00+00:00 (time-machine; the clock keeps ticking). Shows that no test "
        "depends on the hour or a daylight-saving change.",
    )


_clock_traveller: Any = None


def pytest_configure(config: pytest.Config) -> None:
    global _clock_traveller
    value = config.getoption("--clock")
    if value:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise pytest.UsageError("--clock needs a UTC offset, e.g. 2026-11-22T23:30:00+00:00")
        _clock_traveller = time_machine.travel(moment, tick=True)
        _clock_traveller.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _clock_traveller
    if _clock_traveller is not None:
        _clock_traveller.stop()
        _clock_traveller = None


def pytest_report_header(config: pytest.Config) -> str | None:
    value = config.getoption("--clock")
    return f"wall clock moved to {value} (--clock)" if value else None


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's 1M iterations cost ~0.5 s per user; tests create several users each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The local-memory cache (bad-API-key counters) lives as long as the test process: every test
    # starts with it empty, whatever ran before it.
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    # Matching's per-process copies of tenants' configuration (integrations.match_config): a
    # rolled-back test's tenant id is reused by the next test on SQLite.
    from integrations.api_key_cache import api_keys_forget
    from integrations.match_config import match_config_forget

    match_config_forget()
    api_keys_forget()


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> None:
    # Tasks queued by services run in-process in tests unless a test starts a real worker.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from configurator.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # A test client's request activates its Accept-Language in the thread and leaves it there:
    # every test starts and ends in the default language (English), whatever ran before it.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def allow_private_addresses(settings: Any) -> None:
    """Let outbound HTTP reach local test servers (Radicale, closed ports) on 127.0.0.1.

    Tests run with the private-address guard on (`OUTBOUND_ALLOW_PRIVATE_ADDRESSES` False);
    use this in tests whose CRM is a local server.
    """
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture(autouse=True)
def _outbound_guard_on(settings: Any) -> None:
    # Whatever .env says, tests exercise the guard unless they ask for `allow_private_addresses`.
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False


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
