"""A real Celery worker (in a thread, memory broker) runs "Sync now" end to end: the task names,
the on-commit queueing and the worker's database access are what production uses."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from kombu import pools as kombu_pools

from configurator.celery import app
from integrations.models import Integration, SyncState
from integrations.services import integration_create, integration_sync_request
from tests.carddav_double import CardDavDouble, vcard


def _drop_broker_connections() -> None:
    # Celery caches its producer pool per broker URL on first use; after switching the broker the
    # pool must go, as Celery itself does after a fork (Celery._after_fork).
    pool = app.__dict__.get("_pool")
    if pool is not None:
        pool.force_close_all()
    app.__dict__["_pool"] = None
    if "amqp" in app.__dict__:
        app.amqp.__dict__["_producer_pool"] = None
    # kombu keeps its own registry of producer/connection pools per broker URL; a closed pool
    # left there would be handed out again for the same URL.
    kombu_pools.reset()


@pytest.fixture
def real_worker(settings: Any):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "broker_transport_options")}
    app.conf.update(broker_url="memory://", task_always_eager=False, broker_transport_options={})
    _drop_broker_connections()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(previous)
        _drop_broker_connections()


@pytest.mark.django_db(transaction=True)
def test_sync_now_is_run_by_a_celery_worker(tenant, real_worker, monkeypatch):
    double = CardDavDouble({"jan.vcf": vcard("jan", "Jan Jansen", "work:+31 (0)20 123 4567")})
    monkeypatch.setattr(
        "integrations.sync.connector_client", lambda: httpx.Client(transport=double.transport())
    )
    integration = integration_create(
        tenant=tenant, preset_slug="carddav", name="Book", settings_values=double.settings(), start_sync=False
    )

    with transaction.atomic():
        assert integration_sync_request(tenant=tenant, integration=integration)
        assert not integration_sync_request(tenant=tenant, integration=integration)  # already queued

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        integration.refresh_from_db()
        if integration.last_sync_at is not None:
            break
        time.sleep(0.1)
    assert integration.last_sync_at is not None, f"the worker did not sync (state {integration.sync_state})"
    assert integration.cached_numbers == 1
    assert integration.sync_state == SyncState.IDLE
    assert double.reports == 1
    assert Integration.objects.get(pk=integration.pk).last_error == ""
