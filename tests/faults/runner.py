"""Runs faults against the phone-cache sync and counts what lookups would have seen.

For each fault the integration is reset to a previous cache (a sync of `book.OLD_BOOK`), the
sync reads `book.BOOK` through a `FaultyDouble`, and the runner checks:

- lost: after a "failed"/"held"/"busy" sync every number of the old cache is still visible; after
  an "ok" sync every number of the new book is (when "ok" is not a correct result for the fault,
  the numbers of the old cache the CRM really still holds must be),
- half-visible: before every request the double answers, lookups see exactly the old cache; after
  the sync they see one complete cache (no number outside it, one generation only),
- clean: a failed sync has a readable `last_error` (no "Unexpected error"), is idle, has its retry
  scheduled and left no rows of the aborted generation; an ok sync left no old rows; every sync
  leaves `cached_numbers` equal to what lookups see,
- the result is one the fault allows (see `catalogue`), waits went through `sleep` and none of
  them waited out a long Retry-After (> `LONGEST_WAIT_S`).

Time is frozen (time_machine); the fake `sleep` moves the frozen clock instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import time_machine
from django.db.models import F
from django.utils import timezone

import integrations.sync
from integrations.connectors import carddav
from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry, SyncState
from integrations.services import integration_create
from tenants.models import Tenant
from tests.faults import book as books
from tests.faults.book import Pair
from tests.faults.catalogue import BATCH_SIZE, BUSY, FAILED, HELD, OK, Fault
from tests.faults.double import FaultyDouble, Hit
from tests.faults.tally import LONGEST_WAIT_S, KindTally, Tally

START = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
SYNC_WRITE_BATCH = 25  # the sync writes rows as they come, so a mid-sync look sees them
# Fields of the integration that belong to its configuration, not to its sync state.
_CONFIGURATION = {
    "id",
    "tenant",
    "preset",
    "name",
    "settings",
    "secrets",
    "notification_fields",
    "enabled",
    "position",
    "created_at",
}

SyncFunction = Callable[..., Any]


@contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    if not hasattr(module, name):
        yield
        return
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def run_faults(
    faults: Sequence[Fault], *, tenant: Tenant, catalogue: str = "", sync: SyncFunction | None = None
) -> Tally:
    """Play every fault against a fresh copy of one integration's previous cache; return the counts.

    `sync` defaults to `integrations.sync.phone_cache_sync` (looked up at call time). Needs the
    database (a pytest-django test).
    """
    tally = Tally(catalogue=catalogue)
    with (
        _patched(carddav, "MULTIGET_BATCH_SIZE", BATCH_SIZE),
        _patched(integrations.sync, "BATCH_SIZE", SYNC_WRITE_BATCH),
        time_machine.travel(START, tick=False) as clock,
    ):
        world = _World(tenant=tenant, clock=clock, sync=sync or integrations.sync.phone_cache_sync)
        tally.sleeps_passed = world.passes_sleep
        for fault in faults:
            world.play(fault, tally)
    return tally


class _World:
    """One integration with a previous cache of `OLD_BOOK`, restored before every fault."""

    def __init__(self, *, tenant: Tenant, clock: time_machine.Traveller, sync: SyncFunction) -> None:
        self.clock = clock
        self.tenant = tenant
        self.sync = sync
        self.passes_sleep = "sleep" in inspect.signature(sync).parameters
        self.integration = integration_create(
            tenant=tenant,
            preset_slug="carddav",
            name="Fault suite address book",
            settings_values=FaultyDouble({}, Fault("none")).settings(),
            start_sync=False,
        )
        self.pk = self.integration.pk
        result = self._sync(FaultyDouble(books.cards(books.OLD_BOOK), Fault("none")), lambda s: None)
        if result.status != OK:
            raise AssertionError(f"the first sync of the old book did not succeed: {result}")
        self.old, generations = self.visible()
        if self.old != books.expected_numbers(books.OLD_BOOK) or len(generations) != 1:
            raise AssertionError("the first sync cached other numbers than the book holds")
        self.old_generation = generations.pop()
        new = books.expected_numbers(books.BOOK)
        self.spot_numbers = sorted({min(self.old & new)[0], min(self.old - new)[0], min(new - self.old)[0]})
        self.rows = [
            {k: v for k, v in row.items() if k != "id"}
            for row in PhoneCacheEntry.objects.filter(integration_id=self.pk).values()
        ]
        names = [f.attname for f in Integration._meta.concrete_fields if f.name not in _CONFIGURATION]
        self.state = Integration.objects.filter(pk=self.pk).values(*names).get()

    def _sync(self, double: FaultyDouble, sleep: Callable[[float], None]) -> Any:
        kwargs: dict[str, Any] = {
            "integration_id": self.pk,
            "client_factory": lambda: httpx.Client(transport=double.transport()),
        }
        if self.passes_sleep:
            kwargs["sleep"] = sleep
        return self.sync(**kwargs)

    def visible(self) -> tuple[set[Pair], set[int]]:
        """What lookups see (the filter of `integrations.matching.match_call`): pairs, generations."""
        rows = PhoneCacheEntry.objects.filter(
            integration_id=self.pk, integration__enabled=True, generation=F("integration__cache_generation")
        ).values_list("e164", "record_id", "generation")
        return {(e164, record_id) for e164, record_id, _ in rows}, {generation for *_, generation in rows}

    def lookups_agree(self, pairs: set[Pair], numbers: Sequence[str]) -> bool:
        """Whether the match API (`match_call`) finds, for each number, the records `pairs` has."""
        for number in numbers:
            call = call_from_params(tenant=self.tenant, params={"caller_number": number})
            found = {
                m["record"]["id"]
                for m in match_call(tenant=self.tenant, call=call)["matches"]
                if m["integration"]["id"] == self.pk
            }
            if found != {record_id for e164, record_id in pairs if e164 == number}:
                return False
        return True

    def visible_rows(self) -> int:
        return PhoneCacheEntry.objects.filter(
            integration_id=self.pk, generation=F("integration__cache_generation")
        ).count()

    def reset(self) -> None:
        """Back to the previous cache and state; the rows are rewritten only if the sync touched them."""
        self.clock.move_to(START)
        rows = PhoneCacheEntry.objects.filter(integration_id=self.pk)
        if rows.count() != len(self.rows) or rows.exclude(generation=self.old_generation).exists():
            rows.delete()
            PhoneCacheEntry.objects.bulk_create([PhoneCacheEntry(**row) for row in self.rows])
        Integration.objects.filter(pk=self.pk).update(**self.state)

    def play(self, fault: Fault, tally: Tally) -> None:
        self.reset()
        served = fault.served(books.BOOK)
        truth = books.expected_numbers(served)
        real = books.expected_numbers(fault.real(books.BOOK))
        kind = tally.per_kind.setdefault(fault.kind, KindTally())
        half_visible = 0

        def observe(hit: Hit) -> None:
            nonlocal half_visible
            pairs, generations = self.visible()
            if pairs != self.old or len(generations) > 1:
                half_visible += 1
                tally.problem(
                    fault,
                    f"before request {hit.number} lookups saw {len(pairs - self.old)} new and missed "
                    f"{len(self.old - pairs)} old numbers",
                )

        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(float(seconds))
            self.clock.shift(float(seconds))

        double = FaultyDouble(books.cards(served), fault, observe)
        tally.scenarios += 1
        kind.scenarios += 1
        try:
            result = self._sync(double, sleep)
        except Exception as exc:  # a sync must never raise for CRM trouble
            tally.crashed += 1
            tally.not_allowed += 1
            kind.not_allowed += 1
            tally.problem(fault, f"the sync raised {exc!r}")
            return
        injected = double.injected + fault.data_faults()
        tally.injected += injected
        kind.injected += injected
        if double.runaway:
            tally.runaway += 1
            tally.problem(fault, f"more than {double.requests - 1} requests: the retries do not stop")
        long_waits = [w for w in waits if w > LONGEST_WAIT_S]
        tally.overlong_waits += len(long_waits)
        tally.longest_wait_s = max([tally.longest_wait_s, *waits])
        if long_waits:
            tally.problem(fault, f"waited {max(long_waits):.0f} s inside the sync")

        status = result.status
        if status not in fault.allowed:
            tally.not_allowed += 1
            kind.not_allowed += 1
            tally.problem(
                fault, f'ended "{status}" ({result.error or "no error"}), allowed {sorted(fault.allowed)}'
            )
        pairs, generations = self.visible()
        if status == OK:
            expected = truth if OK in fault.allowed else self.old & real
            stray = pairs - truth
        else:
            expected = self.old
            stray = pairs - self.old
        lost = len(expected - pairs)
        if lost:
            tally.problem(fault, f'"{status}" sync left {lost} numbers invisible')
        if stray or len(generations) > 1:
            half_visible += 1
            tally.problem(
                fault, f'after the "{status}" sync lookups see {len(stray)} numbers of no complete cache'
            )
        if not self.lookups_agree(pairs, self.spot_numbers):
            tally.lookup_disagrees += 1
            tally.problem(fault, "the match API does not see what the phone-cache rows say lookups see")
        tally.lost += lost
        kind.lost += lost
        tally.half_visible += half_visible
        kind.half_visible += half_visible

        reasons = self._unclean(status)
        if reasons:
            tally.unclean += 1
            kind.unclean += 1
            tally.problem(fault, f'"{status}" sync ended unclean: {"; ".join(reasons)}')
        if status == OK:
            tally.ok += 1
            kind.ok += 1
        elif status == FAILED:
            kind.failed += 1
            tally.failed_cleanly += not reasons
        elif status == HELD:
            tally.held += 1
            kind.held += 1
        elif status == BUSY:
            tally.busy += 1

    def _unclean(self, status: str) -> list[str]:
        integration = Integration.objects.get(pk=self.pk)
        reasons: list[str] = []
        if integration.sync_state != SyncState.IDLE:
            reasons.append(f"sync_state is {integration.sync_state}")
        if integration.cached_numbers != self.visible_rows():
            reasons.append(
                f"cached_numbers {integration.cached_numbers} but lookups see {self.visible_rows()} rows"
            )
        leftovers = (
            PhoneCacheEntry.objects.filter(integration_id=self.pk)
            .exclude(generation=integration.cache_generation)
            .count()
        )
        if status == FAILED:
            error = integration.last_error
            if not error.strip():
                reasons.append("no last_error")
            elif "Unexpected error" in error or "Traceback" in error or len(error) > 500:
                reasons.append(f"last_error is not for an admin: {error[:120]!r}")
            if integration.next_sync_at is None or integration.next_sync_at <= timezone.now():
                reasons.append("no retry scheduled")
            if integration.cache_generation != self.old_generation:
                reasons.append("the cache generation moved")
            if leftovers:
                reasons.append(f"{leftovers} rows of the aborted generation left")
        elif status == OK and leftovers:
            reasons.append(f"{leftovers} rows of the old generation left")
        return reasons
