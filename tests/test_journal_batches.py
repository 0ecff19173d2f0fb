"""Call-log entries written in batches by a writer thread (integrations.journal._BatchWriter;
issue 10, item 2): the answer goes out first, the entries follow in one INSERT, nothing is lost
on a graceful stop, and a full queue is written by the request that fills it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from integrations import journal
from integrations.models import CallJournalEntry
from tenants.models import Tenant, TenantAPIKey


def _ask(key: str, number: str) -> Any:
    response = Client().get("/api/v1/match", {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200
    response.close()  # as a WSGI server does once the body is out: the log is queued then
    return response


@pytest.fixture
def batches(settings: Any) -> Any:
    """Batch writing on, with an interval no test waits for (flushes are explicit)."""
    settings.CALL_JOURNAL_BATCH_SECONDS = 3600
    settings.CALL_JOURNAL_BATCH_MAX = 500
    journal.journal_flush()  # nothing of another test waits
    yield settings
    journal.journal_flush()


@pytest.mark.django_db(transaction=True)
def test_entries_wait_for_the_batch_and_are_written_together(
    batches: Any, tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    _, key = api_key
    for number in ("0201234567", "0612345678", "+3220000000"):
        _ask(key, number)

    assert CallJournalEntry.objects.filter(tenant=tenant).count() == 0  # queued, not written
    assert journal.journal_flush() == 3
    assert sorted(CallJournalEntry.objects.filter(tenant=tenant).values_list("caller_e164", flat=True)) == [
        "+31201234567",
        "+31612345678",
        "+3220000000",
    ]
    assert journal.journal_flush() == 0  # written once


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_is_written_by_the_request_that_fills_it(
    batches: Any, tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    batches.CALL_JOURNAL_BATCH_MAX = 2
    _, key = api_key
    _ask(key, "0201234567")
    assert CallJournalEntry.objects.filter(tenant=tenant).count() == 0

    _ask(key, "0612345678")

    assert CallJournalEntry.objects.filter(tenant=tenant).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_writes_within_its_interval(
    batches: Any, tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    batches.CALL_JOURNAL_BATCH_SECONDS = 0.05
    _, key = api_key
    _ask(key, "0201234567")
    journal._batch_writer._wake.set()  # the thread may be in a long wait from another test

    # Polled, not timed: the thread's write shows up; a generous bound only ends a broken run.
    deadline = time.monotonic() + 30
    while not CallJournalEntry.objects.filter(tenant=tenant).exists():
        assert time.monotonic() < deadline, "the writer thread never wrote the entry"
        time.sleep(0.02)
    assert journal.journal_flush() == 0


@pytest.mark.django_db(transaction=True)
def test_a_tenant_that_turned_its_log_off_gets_nothing_written_from_a_batch(
    batches: Any, tenant: Tenant, other_tenant: Tenant, api_key: tuple[TenantAPIKey, str], other_api_key: Any
) -> None:
    from integrations.models import CallJournalOptions

    CallJournalOptions.objects.update_or_create(tenant=tenant, defaults={"enabled": False})
    _ask(api_key[1], "0201234567")
    _ask(other_api_key[1], "0201234567")

    assert journal.journal_flush() == 2
    assert CallJournalEntry.objects.filter(tenant=tenant).count() == 0
    assert CallJournalEntry.objects.filter(tenant=other_tenant).count() == 1


def test_what_waits_is_written_at_interpreter_exit(tmp_path: Path) -> None:
    """A child process queues entries and exits normally (a gunicorn worker's graceful stop):
    the queue is handed to the writer at exit."""
    child = tmp_path / "child.py"
    child.write_text(
        textwrap.dedent(
            """
            import os, sys
            sys.path.insert(0, os.environ["REPO"])
            os.environ["DJANGO_SETTINGS_MODULE"] = "configurator.settings_test"
            import django
            django.setup()
            from django.conf import settings
            from integrations import journal
            settings.CALL_JOURNAL_BATCH_SECONDS = 3600
            journal._write = lambda entries: print("written", len(entries), flush=True)
            journal._batch_writer.add(["first", "second"])  # what _Pending stands for here
            print("exiting", flush=True)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(child)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "REPO": str(settings.BASE_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["exiting", "written 2"]
