"""A sync's phone numbers read in helper processes (integrations.number_readers; issue 10,
item 3): the same readings as in one process, a helper that dies costs nothing but time, the
helpers stop with the sync, and they start inside a daemonic process (a Celery prefork child).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from typing import Any

import billiard
import httpx
import pytest

from integrations import number_readers
from integrations import sync as sync_module
from integrations.models import Integration, PhoneCacheEntry, UnreadableNumber
from integrations.number_readers import NumberReaders, read_here
from integrations.phones import PhoneNumberError
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from integrations.texts import text_json
from tenants.models import Tenant
from tests.carddav_double import CardDavDouble, vcard

TEXTS = [
    "020 123 4567",
    "+31 (0)20 123 4567",
    "06-12345678 / 020 555 0000",
    "tel:+31-20-123-4567;ext=12",
    "0800-CALLME",
    "not a number",
    "",
    "+32 2 200 00 00",
    "123",
    "020 123 4567 ext. 89",
    "\x00020",
    "jan@example.com",
] * 40


def _plain(readings: list[Any]) -> list[Any]:
    """Readings as comparable values: the numbers, or the error's type, English and Text (the
    reason in the reader's language)."""
    return [
        (type(r).__name__, str(r), text_json(r.text)) if isinstance(r, PhoneNumberError) else r
        for r in readings
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as stopped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_helpers_read_exactly_what_this_process_reads(caplog: pytest.LogCaptureFixture) -> None:
    expected = _plain(read_here(TEXTS, country="NL"))
    with caplog.at_level(logging.WARNING, logger="integrations.number_readers"), NumberReaders(2) as readers:
        pending = readers.submit(TEXTS, country="NL")
        assert len(readers.pids) == 2
        assert sum(len(indexes) for _, indexes in pending.shares) > len(TEXTS) / 2  # they took most
        got = readers.collect(pending)
        again = readers.read(TEXTS[:7], country="")  # no default region: national numbers refused
    assert _plain(got) == expected
    assert _plain(again) == _plain(read_here(TEXTS[:7], country=""))
    assert caplog.records == []
    assert any(isinstance(r, PhoneNumberError) for r in got)


def test_a_helper_killed_midway_costs_nothing_but_time(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="integrations.number_readers"), NumberReaders(1) as readers:
        pending = readers.submit(TEXTS, country="NL")
        [pid] = readers.pids
        os.kill(pid, signal.SIGKILL)
        got = readers.collect(pending)
        assert readers.pids == []  # dropped; the rest is read here
        later = readers.read(TEXTS[:5], country="NL")
    assert _plain(got) == _plain(read_here(TEXTS, country="NL"))
    assert _plain(later) == _plain(read_here(TEXTS[:5], country="NL"))
    assert f"number reader {pid} failed" in caplog.text


def test_a_helper_that_answers_garbage_is_dropped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([["+31201234567"], [[["+31201234567", ""]], "nonsense"]])
    monkeypatch.setattr(number_readers, "_receive", lambda stream: next(answers))
    with caplog.at_level(logging.WARNING, logger="integrations.number_readers"):
        for _ in range(2):  # a wrong count of answers, then an answer that is no reading
            with NumberReaders(1) as readers:
                got = readers.read(TEXTS[:3], country="NL")
                assert readers.pids == []
            assert _plain(got) == _plain(read_here(TEXTS[:3], country="NL"))
    assert caplog.text.count("failed (ValueError") == 2


def test_requests_longer_than_a_pipe_can_hold_are_read_one_ahead_without_a_deadlock() -> None:
    # Two chunks submitted before the first is collected, as the sync does, each request and
    # answer far over the 64 KiB a pipe holds: a helper must never get the second request while
    # it blocks writing the first answer.
    first = [f"+31 20 5{i:06d} (the office, ask for the desk of person number {i})" for i in range(6000)]
    second = [f"010 2{i:06d} (home)" for i in range(6000)]
    outcome: list[Any] = []
    readers = NumberReaders(1)

    def run() -> None:
        a = readers.submit(first, country="NL")
        b = readers.submit(second, country="NL")
        outcome.extend([readers.collect(a), readers.collect(b)])

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    hung = worker.is_alive()
    if hung:  # break the pipes the thread and the helper block on, then clean up
        for pid in readers.pids:
            os.kill(pid, signal.SIGKILL)
        worker.join(timeout=10)
    readers.close()
    assert not hung, "the helper and this process wait on each other"
    assert len(json.dumps([first[: len(first) // 2]])) > 65536
    assert _plain(outcome[0]) == _plain(read_here(first, country="NL"))
    assert _plain(outcome[1]) == _plain(read_here(second, country="NL"))


def test_helpers_stop_when_the_readers_close() -> None:
    with NumberReaders(2) as readers:
        readers.read(TEXTS[:10], country="NL")
        pids = readers.pids
        assert len(pids) == 2
        assert all(_alive(pid) for pid in pids)
    assert not any(_alive(pid) for pid in pids)


def test_no_helper_starts_without_texts_or_with_count_zero() -> None:
    with NumberReaders(0) as readers:
        assert _plain(readers.read(TEXTS[:5], country="NL")) == _plain(read_here(TEXTS[:5], country="NL"))
        assert readers.pids == []
    with NumberReaders(1) as readers:
        assert readers.read([], country="NL") == []
        assert readers.pids == []


def _read_in_a_daemonic_child(texts: list[str]) -> tuple[int, list[Any]]:
    with NumberReaders(1) as readers:
        got = readers.read(texts, country="NL")
        return len(readers.pids), _plain(got)


def test_helpers_start_inside_a_daemonic_process_as_celery_runs_a_sync() -> None:
    # Celery's prefork pool runs tasks in billiard's daemonic children, which may not start
    # multiprocessing children ("daemonic processes are not allowed to have children").
    pool = billiard.Pool(1)
    try:
        helpers, got = pool.apply(_read_in_a_daemonic_child, (TEXTS[:24],))
    finally:
        pool.terminate()
        pool.join()
    assert helpers == 1
    assert got == _plain(read_here(TEXTS[:24], country="NL"))


# The sync with helpers -----------------------------------------------------------------------


def _book(count: int) -> CardDavDouble:
    cards = {}
    for i in range(count):
        tels = [f"work:020 5{i:06d}", "work:020 999 0000"]  # own number, the company's number
        if i % 7 == 0:
            tels.append("cell:call me maybe")
        if i % 11 == 0:
            tels.append(f"cell:06-1{i:07d} / 010 2{i:06d}")
        cards[f"c{i}.vcf"] = vcard(f"uid-{i}", f"Person {i}", *tels)
    return CardDavDouble(cards)


def _synced(tenant: Tenant, double: CardDavDouble, name: str) -> Integration:
    integration = integration_create(
        tenant=tenant, preset_slug="carddav", name=name, settings_values=double.settings(), start_sync=False
    )
    result = phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=double.transport()),
        sleep=lambda seconds: None,
    )
    assert result.status == "ok", result
    return integration


def _cache(integration: Integration) -> list[tuple[Any, ...]]:
    return sorted(
        PhoneCacheEntry.objects.filter(integration=integration).values_list(
            "e164", "extension", "number_as_written", "number_type", "record_id", "display_name"
        )
    )


def _unreadable(integration: Integration) -> list[tuple[str, str, str]]:
    return sorted(
        UnreadableNumber.objects.filter(integration=integration).values_list(
            "record_id", "raw_text", "reason"
        )
    )


@pytest.mark.django_db
def test_a_big_sync_reads_in_helpers_and_caches_the_same_rows(
    tenant: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "READ_AHEAD_RECORDS", 20)  # 100 records: 4 chunks ahead
    shares: list[int] = []
    submit = NumberReaders.submit

    def counting_submit(self: NumberReaders, texts: Any, *, country: str) -> Any:
        pending = submit(self, texts, country=country)
        shares.append(sum(len(indexes) for _, indexes in pending.shares))
        return pending

    monkeypatch.setattr(NumberReaders, "submit", counting_submit)
    double = _book(100)

    settings.SYNC_NUMBER_READERS = 0
    alone = _synced(tenant, double, "Alone")
    assert shares == []
    settings.SYNC_NUMBER_READERS = 1
    helped = _synced(tenant, double, "Helped")

    assert len(shares) == 4  # chunks 2-5 went to the helper
    assert all(share > 0 for share in shares)
    assert _cache(helped) == _cache(alone)
    assert len(_cache(helped)) == 2 * 100 + 2 * 10  # own and company number each, the doubles
    assert _unreadable(helped) == _unreadable(alone)
    assert len(_unreadable(helped)) == 15
    alone.refresh_from_db()
    helped.refresh_from_db()
    assert helped.cached_numbers == alone.cached_numbers


@pytest.mark.django_db
def test_a_small_sync_starts_no_helper(
    tenant: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    monkeypatch.setattr(NumberReaders, "_start", lambda self: started.append(1))
    settings.SYNC_NUMBER_READERS = 2
    integration = _synced(tenant, _book(30), "Small")  # below READ_AHEAD_RECORDS
    assert started == []
    assert len(_cache(integration)) == 2 * 30 + 2 * 3
