"""The matching API remembers a valid API key briefly (integrations.api_key_cache): revoking it in
this process works at once, in another process within API_KEY_CACHE_SECONDS (issue 10, item 2)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from tenants.models import TenantAPIKey
from tenants.services import api_key_revoke

pytestmark = pytest.mark.django_db

URL = "/api/v1/match"
START = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def _status(key: str) -> int:
    return (
        Client().get(URL, {"caller_number": "+31201234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}").status_code
    )


def test_a_key_revoked_in_this_process_is_refused_at_once(tenant, api_key):
    row, key = api_key
    assert _status(key) == 200

    api_key_revoke(tenant=tenant, prefix=row.prefix)

    assert _status(key) == 401


def test_a_key_revoked_by_another_process_is_refused_within_the_cache_time(settings, api_key):
    settings.API_KEY_CACHE_SECONDS = 10
    row, key = api_key
    with time_machine.travel(START, tick=False) as clock:
        assert _status(key) == 200
        # Another process revokes it: no signal reaches this one.
        TenantAPIKey.objects.filter(pk=row.pk).update(revoked=True)
        clock.shift(9)
        assert _status(key) == 200
        clock.shift(1)
        assert _status(key) == 401
        clock.shift(60)
        assert _status(key) == 401


def test_without_the_memory_every_call_checks_the_key(settings, api_key):
    settings.API_KEY_CACHE_SECONDS = 0
    row, key = api_key
    assert _status(key) == 200

    TenantAPIKey.objects.filter(pk=row.pk).update(revoked=True)

    assert _status(key) == 401


def test_a_remembered_key_still_expires_on_time(settings, api_key):
    settings.API_KEY_CACHE_SECONDS = 600
    row, key = api_key
    row.expiry_date = START + dt.timedelta(seconds=30)
    row.save()
    with time_machine.travel(START, tick=False) as clock:
        assert _status(key) == 200
        clock.shift(31)
        assert _status(key) == 401


def test_a_wrong_key_is_never_remembered(settings, api_key, other_api_key):
    # A key of the right shape but wrong secret is refused every time (and counted each time).
    _, key = api_key
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert _status(key) == 200
    assert _status(wrong) == 401
    assert _status(wrong) == 401
    assert _status(other_api_key[1]) == 200
