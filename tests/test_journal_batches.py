"""Call-log entries written in batches by a writer thread (integrations.journal._BatchWriter;
issue 10, item 2): the answer goes out first, the entries follow in one INSERT, nothing is lost
on a graceful stop, and a full queue is written by the request that fills it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

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


# What the batch stores: COPY on PostgreSQL, bulk_create elsewhere; the JSON fast path. ---------

_AWKWARD = "tab\there, new\nline, back\\slash, quote \"x\" and 'y', NUL \x00 end, Zoë, 日本, \\N"


@pytest.mark.django_db(transaction=True)
def test_a_batch_stores_awkward_texts_exactly_as_a_single_insert_would(batches: Any, tenant: Tenant) -> None:
    """The COPY text format escapes tabs, newlines, backslashes and `\\N` (NULL): every one must
    come back as sent, in the text columns and inside the JSON."""
    for n in range(3):
        journal.journal_record(
            tenant=tenant,
            sender="api",
            request_data={
                "caller_number": f"0201234{n:03d}",
                "note": _AWKWARD,
                "nested": [_AWKWARD, {"k": 1.5}],
            },
            answer={"matches": [], "call": {"caller_number_e164": f"+31201234{n:03d}"}, "text": _AWKWARD},
            status_code=200,
            duration_ms=1.25,
            call_id=_AWKWARD,
            called_number="\\N",
        )
    # Outside a request each entry is written at once; they are the same rows the batch writes.
    rows = list(CallJournalEntry.objects.filter(tenant=tenant).order_by("id"))
    stored = _AWKWARD.replace("\x00", "\\u0000")
    assert [r.caller_e164 for r in rows] == ["+31201234000", "+31201234001", "+31201234002"]
    for row in rows:
        assert row.call_id == stored
        assert row.called_number == "\\N"
        assert row.request["note"] == stored
        assert row.request["nested"] == [stored, {"k": 1.5}]
        assert row.answer is not None
        assert row.answer["text"] == stored
        assert row.duration_ms == 1.25
        assert row.integration_ids == []


@pytest.mark.django_db(transaction=True)
def test_entries_queued_by_requests_are_written_in_one_statement(
    batches: Any, tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, key = api_key
    for number in ("0201234567", "0612345678", "+3220000000", "0301234567"):
        _ask(key, number)
    with CaptureQueriesContext(connection) as queries:
        assert journal.journal_flush() == 4
    writes = [q["sql"] for q in queries.captured_queries if "calljournalentry" in (q["sql"] or "").lower()]
    assert len(writes) == 1, writes
    if connection.vendor == "postgresql":
        assert writes[0].startswith("COPY ")
    assert CallJournalEntry.objects.filter(tenant=tenant).count() == 4


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(), max_size=40)
    | st.just("x" * 1990),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=5), children, max_size=8)
    ),
    max_leaves=60,
)


@given(value=_json_values)
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_json_fast_path_stores_what_the_full_walk_stores(value: Any) -> None:
    assert json.dumps(journal._stored_json(value)) == json.dumps(journal._json_safe(value))


def _nested(depth: int) -> list[Any]:
    return [] if depth == 0 else [_nested(depth - 1)]


@pytest.mark.parametrize(
    "value",
    [
        "x" * journal._MAX_TEXT,
        "x" * (journal._MAX_TEXT + 1),
        {"t": "y" * (journal._MAX_TEXT - 8)},
        list(range(journal._MAX_ITEMS)),
        list(range(journal._MAX_ITEMS + 1)),
        [0] * (journal._MAX_ITEMS + 1),
        _nested(journal._MAX_DEPTH - 1),
        _nested(journal._MAX_DEPTH),
        _nested(journal._MAX_DEPTH + 1),
        {"a": "\ud800"},
        {"a": "nul \x00"},
        {"a": float("nan"), "b": float("-inf")},
        ("a", "tuple"),
        {1: "int key"},
    ],
)
def test_the_json_fast_path_agrees_at_every_limit(value: Any) -> None:
    assert json.dumps(journal._stored_json(value)) == json.dumps(journal._json_safe(value))
