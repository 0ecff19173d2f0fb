"""Fault injection over the phone-cache sync: no fault may lose a cached number or half-show a cache.

The bounded catalogue (~185 faults) runs here in `make test`; `make faults` runs the full one
(1,043 faults in 4 chunks: `python -m pytest -p tests.faults.plugin -n 2 tests/test_faults.py
--faults=full`), and the plugin prints the counts added up. See tests/faults/ for the catalogue,
the faulty CardDAV double and the invariants.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.models import Integration
from integrations.sync import phone_cache_sync
from tests.faults import catalogue
from tests.faults.plugin import SUMMARY_PROPERTY
from tests.faults.runner import run_faults
from tests.faults.tally import Tally

# `make faults` runs the full catalogue in this many chunks (spread over the xdist workers).
FULL_CHUNKS = 4


def _full(config: pytest.Config) -> bool:
    return bool(config.getoption("--faults", default="bounded") == "full")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fault_chunk" in metafunc.fixturenames:
        chunks = FULL_CHUNKS if _full(metafunc.config) else 1
        ids = [f"chunk{i}" for i in range(chunks)]
        metafunc.parametrize("fault_chunk", [(i, chunks) for i in range(chunks)], ids=ids)


def _report(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], tally: Tally) -> None:
    request.node.user_properties.append((SUMMARY_PROPERTY, json.dumps(tally.as_dict())))
    if not request.config.pluginmanager.has_plugin("tests.faults.plugin"):
        with capsys.disabled():
            print("\n" + tally.summary())


@pytest.mark.django_db
def test_no_injected_fault_loses_or_half_shows_a_cached_number(
    tenant, settings, request, capsys, fault_chunk
):
    settings.SYNC_RETRY_MINUTES = 30
    chunk, chunks = fault_chunk
    full = _full(request.config)
    faults = (catalogue.full() if full else catalogue.bounded())[chunk::chunks]

    tally = run_faults(faults, tenant=tenant, catalogue="full catalogue" if full else "bounded sample")

    _report(request, capsys, tally)
    assert tally.scenarios == len(faults)
    assert tally.injected >= tally.scenarios  # every fault struck at least once
    assert tally.lost == 0
    assert tally.half_visible == 0
    assert tally.not_allowed == 0
    assert tally.unclean == 0
    assert tally.crashed == tally.busy == tally.runaway == tally.overlong_waits == tally.lookup_disagrees == 0
    assert tally.ok + tally.failed_cleanly + tally.held == tally.scenarios


def test_the_full_catalogue_covers_every_fault_at_every_position():
    faults = catalogue.full()
    kinds = {fault.kind for fault in faults}

    assert len(faults) >= 1000
    for kind in (
        "http-503-once",
        "net-connection-reset-always",
        "garbage-truncated-xml-once",
        "empty-207-once",
    ):
        positions = {f.position for f in faults if isinstance(f, catalogue.AtPosition) and f.kind == kind}
        assert positions == set(catalogue.POSITIONS), kind
    card_positions = {
        (f.position, f.index) for f in faults if isinstance(f, catalogue.CardAt) and f.how == "404"
    }
    assert len(card_positions) == catalogue.BATCH_SIZE * len(catalogue.CARD_BATCHES)
    assert {"storm-429", "trickle-read-timeout-once", "duplicate-uid", "duplicate-href-in-propfind"} <= kinds
    assert {"book-empty", "book-all-malformed", "book-all-without-tel", "batch-cards-503"} <= kinds
    bounded = catalogue.bounded()
    assert {f.kind for f in bounded} == kinds
    assert 150 <= len(bounded) <= 250


@pytest.mark.django_db
def test_the_suite_counts_losses_and_half_visible_caches_of_a_broken_sync(tenant):
    """The counters are not vacuous: a sync that hides the old cache first is caught."""

    def careless_sync(*, integration_id: int, client_factory: Any, sleep: Any = None) -> Any:
        Integration.objects.filter(pk=integration_id).update(cache_generation=10_000)
        return phone_cache_sync(integration_id=integration_id, client_factory=client_factory)

    faults = [
        catalogue.StatusAt("http-503-always", "@request 2", catalogue.ABSORB, position=2, status=503),
        catalogue.Storm("storm-429", "x3 @request 0", catalogue.ABSORB, count=3),
    ]

    tally = run_faults(faults, tenant=tenant, sync=careless_sync)

    assert tally.scenarios == 2
    assert tally.injected >= 2
    assert tally.lost > 0
    assert tally.half_visible > 0
    assert tally.problems
