"""Server requests that nothing would send any more (queueing failed, the worker died) are queued
again by the dispatcher; runs that are sent, failed or still waiting for their retry are not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from integrations import tasks
from integrations.models import ScriptKind, ServerScriptRun, ServerScriptRunStatus
from integrations.presets import ScriptApplies
from integrations.server_scripts import STALE_PENDING, server_script_runs_stale
from integrations.services import script_create

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def script(tenant) -> Any:
    return script_create(
        tenant=tenant,
        integration=None,
        name="CRM call log",
        template="https://crm.example.com/api/calls",
        applies=ScriptApplies.ALWAYS,
        kind=ScriptKind.SERVER_REQUEST,
        body_template='{"number": "#(Caller number)"}',
    )


def _run(
    tenant, script, key: str, *, status: str = ServerScriptRunStatus.PENDING, last_at=None
) -> ServerScriptRun:
    log = (
        [{"at": last_at.isoformat(timespec="seconds"), "status_code": 503, "error": "HTTP 503"}]
        if last_at
        else []
    )
    return ServerScriptRun.objects.create(
        tenant=tenant, script=script, call_key=key, event="start", status=status, attempts_log=log
    )


def test_only_runs_nothing_will_send_are_stale(tenant, script) -> None:
    with time_machine.travel(START, tick=False):
        lost = _run(tenant, script, "lost")
        retried_long_ago = _run(tenant, script, "retried", last_at=START)
        waiting = _run(tenant, script, "waiting")
        sent = _run(tenant, script, "sent", status=ServerScriptRunStatus.SENT)
    ServerScriptRun.objects.filter(pk=waiting.pk).update(
        attempts_log=[{"at": (START + STALE_PENDING).isoformat(timespec="seconds")}]
    )

    later = START + STALE_PENDING + dt.timedelta(minutes=1)
    assert server_script_runs_stale(now=later) == [lost.pk, retried_long_ago.pk]
    assert sent.pk not in server_script_runs_stale(now=later + dt.timedelta(days=1))
    assert server_script_runs_stale(now=START + STALE_PENDING - dt.timedelta(seconds=1)) == []


def test_the_dispatcher_queues_the_lost_runs_again(tenant, script, monkeypatch) -> None:
    with time_machine.travel(START, tick=False):
        lost = _run(tenant, script, "lost")
    queued: list[int] = []
    monkeypatch.setattr(tasks.send_server_script, "delay", queued.append)
    monkeypatch.setattr(tasks, "integrations_dispatch_due_syncs", lambda: 0)

    with time_machine.travel(START + STALE_PENDING + dt.timedelta(minutes=1), tick=False):
        tasks.dispatch_due_syncs()

    assert queued == [lost.pk]
