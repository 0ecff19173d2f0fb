"""The phone cache's storage (issue 10, items 3 and 4): rows streamed with COPY into a generation
of their own, the old generation dropped whole (PostgreSQL partitions), batched inserts and
delete-by-generation on SQLite, and each number text read once per sync."""

from __future__ import annotations

import threading

import httpx
import pytest
from django.db import connection, connections
from django.db.models import F

from integrations import phone_cache_store
from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry
from integrations.phone_cache_store import generation_tables, stored_rows
from integrations.phones import NormalizedNumber, PhoneNumberError, extract_numbers
from integrations.services import integration_create, integration_delete, integration_hold_reject
from integrations.sync import NumberMemo, phone_cache_sync
from tenants.models import Tenant
from tests.carddav_double import CardDavDouble, vcard

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL partitions (the SQLite table is not partitioned)"
)


def _book(count: int, *, name: str = "Person") -> dict[str, str]:
    return {f"c{i}.vcf": vcard(f"uid-{i}", f"{name} {i}", f"work:020 555 {i:04d}") for i in range(count)}


def _integration(tenant: Tenant, double: CardDavDouble, name: str = "Address book") -> Integration:
    return integration_create(
        tenant=tenant, preset_slug="carddav", name=name, settings_values=double.settings(), start_sync=False
    )


def _sync(integration: Integration, double: CardDavDouble):
    return phone_cache_sync(
        integration_id=integration.pk,
        client_factory=lambda: httpx.Client(transport=double.transport()),
        sleep=lambda seconds: None,
    )


def _attached(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass(%s) AND inhparent = %s::regclass",
            [table, PhoneCacheEntry._meta.db_table],
        )
        return bool(cursor.fetchone()[0])


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree(%s) WHERE isleaf",
            [PhoneCacheEntry._meta.db_table],
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_three_full_syncs_leave_only_the_live_generation(tenant):
    double = CardDavDouble(_book(6))
    integration = _integration(tenant, double)
    generations = []
    for _ in range(3):
        assert _sync(integration, double).status == "ok"
        integration.refresh_from_db()
        generations.append(integration.cache_generation)

    assert len(set(generations)) == 3
    rows = PhoneCacheEntry.objects.filter(integration=integration)
    assert set(rows.values_list("generation", flat=True)) == {generations[-1]}
    assert rows.count() == stored_rows(integration.pk) == integration.cached_numbers == 6
    if connection.vendor == "postgresql":
        live = phone_cache_store.generation_table(
            tenant_id=tenant.pk, integration_id=integration.pk, generation=generations[-1]
        )
        assert generation_tables(integration.pk) == {generations[-1]: live}
        assert _attached(live)
        assert _partitions() == {live, phone_cache_store.DEFAULT_PARTITION}  # the two older ones dropped
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM phone_cache_default")
            assert cursor.fetchone()[0] == 0


@on_postgresql
@pytest.mark.django_db
def test_the_sync_copies_into_a_table_no_lookup_sees_until_it_is_complete(tenant, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    monkeypatch.setattr("integrations.sync.BATCH_SIZE", 1)  # one COPY per row: the table fills as cards come
    double = CardDavDouble(_book(8))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    integration.refresh_from_db()
    old_generation = integration.cache_generation
    new_generation = old_generation + 1
    new_table = phone_cache_store.generation_table(
        tenant_id=tenant.pk, integration_id=integration.pk, generation=new_generation
    )
    copies: list[tuple[str, int]] = []
    real_copy = phone_cache_store.copy_rows

    def counted_copy(table: str, rows: list[phone_cache_store.Row]) -> None:
        copies.append((table, len(rows)))
        real_copy(table, rows)

    monkeypatch.setattr(phone_cache_store, "copy_rows", counted_copy)
    double.cards = _book(8, name="Renamed")
    seen: list[tuple[bool, int, int, list[str]]] = []

    def mid_sync(report: int) -> None:
        if report == 3:
            written = stored_rows(integration.pk) - 8  # the old generation holds 8
            through_parent = PhoneCacheEntry.objects.filter(generation=new_generation).count()
            seen.append((_attached(new_table), written, through_parent, _titles(tenant, "0205550001")))

    double.reports = 0
    double.before_report = mid_sync
    assert _sync(integration, double).status == "ok"

    [(attached, written, through_parent, titles)] = seen
    assert not attached
    assert written > 0  # rows were in the new table ...
    assert through_parent == 0  # ... which the phone cache (and so every lookup) did not show yet
    assert titles == ["Person 1"]
    assert copies
    assert {table for table, _ in copies} == {new_table}
    assert sum(count for _, count in copies) == 8
    assert _attached(new_table)
    assert _titles(tenant, "0205550001") == ["Renamed 1"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [new_table])
        indexes = [definition for (definition,) in cursor.fetchall()]
    assert any("(integration_id, generation)" in d for d in indexes)
    assert any("(tenant_id, e164)" in d for d in indexes)


@on_postgresql
@pytest.mark.django_db
def test_a_failed_sync_drops_its_table_and_keeps_the_old_partition(tenant, monkeypatch):
    double = CardDavDouble(_book(4))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    integration.refresh_from_db()
    before = generation_tables(integration.pk)

    def broken_publish(self: phone_cache_store.GenerationWriter) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(phone_cache_store.GenerationWriter, "publish", broken_publish)
    result = _sync(integration, double)

    assert result.status == "failed"
    assert generation_tables(integration.pk) == before
    assert _titles(tenant, "0205550002") == ["Person 2"]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_lookups_during_the_swap_see_the_old_or_the_new_cache_never_a_mix(tenant, monkeypatch):
    monkeypatch.setattr("integrations.connectors.carddav.MULTIGET_BATCH_SIZE", 2)
    monkeypatch.setattr("integrations.sync.BATCH_SIZE", 1)
    double = CardDavDouble(_book(8))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    old = set(_visible(integration.pk))
    double.cards = _book(8, name="Renamed")
    new = {(e164, name.replace("Person", "Renamed")) for e164, name in old}
    observed: list[frozenset[tuple[str, str]]] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                observed.append(frozenset(_visible(integration.pk)))
        finally:
            connections.close_all()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert _sync(integration, double).status == "ok"
        seen_new = threading.Event()
        for _ in range(500):  # let the reader see the new cache before switching back
            if new in observed:
                seen_new.set()
                break
            stop.wait(0.01)
        assert seen_new.is_set()
        assert _sync(integration, CardDavDouble(_book(8))).status == "ok"  # and back, dropping again
    finally:
        stop.set()
        thread.join(timeout=30)

    assert len(observed) > 10
    assert {o for o in observed if o not in (old, new)} == set()
    assert generation_tables(integration.pk).keys() == {
        Integration.objects.get(pk=integration.pk).cache_generation
    }


def _visible(integration_id: int) -> list[tuple[str, str]]:
    """What lookups see, in one statement (the filter of `integrations.matching`)."""
    return list(
        PhoneCacheEntry.objects.filter(
            integration_id=integration_id, generation=F("integration__cache_generation")
        ).values_list("e164", "display_name")
    )


def _titles(tenant: Tenant, number: str) -> list[str]:
    answer = match_call(tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number}))
    return [m["notification"]["title"] for m in answer["matches"]]


@pytest.mark.django_db
def test_rejecting_a_held_sync_and_deleting_the_integration_drop_their_generations(tenant, settings):
    settings.SYNC_HOLD_MIN_DROP = 1
    double = CardDavDouble(_book(10))
    integration = _integration(tenant, double)
    assert _sync(integration, double).status == "ok"
    assert _sync(integration, CardDavDouble(_book(2))).status == "held"
    integration.refresh_from_db()
    held, live = integration.held_generation, integration.cache_generation
    assert held is not None
    assert PhoneCacheEntry.objects.filter(integration=integration, generation=held).count() == 2
    if connection.vendor == "postgresql":
        assert generation_tables(integration.pk).keys() == {live, held}

    assert integration_hold_reject(tenant=tenant, integration=integration)

    assert set(
        PhoneCacheEntry.objects.filter(integration=integration).values_list("generation", flat=True)
    ) == {live}
    if connection.vendor == "postgresql":
        assert generation_tables(integration.pk).keys() == {live}

    integration_delete(tenant=tenant, integration=integration)

    assert stored_rows(integration.pk) == 0
    assert generation_tables(integration.pk) == {}


@pytest.mark.django_db
def test_deleting_a_tenant_or_an_integration_directly_leaves_no_generation_table(tenant, other_tenant):
    # A tenant deleted in the admin (Django's cascade) and an integration deleted with the ORM
    # take their generation tables with them; another tenant's stay.
    mine = [_integration(tenant, CardDavDouble(_book(3)), name=f"Book {n}") for n in range(2)]
    theirs = _integration(other_tenant, CardDavDouble(_book(3)))
    for integration in (*mine, theirs):
        assert _sync(integration, CardDavDouble(_book(3))).status == "ok"
    before = _partitions() if connection.vendor == "postgresql" else set()

    Integration.objects.get(pk=mine[0].pk).delete()
    Tenant.objects.get(pk=tenant.pk).delete()

    for integration in mine:
        assert stored_rows(integration.pk) == 0
        assert generation_tables(integration.pk) == {}
    assert stored_rows(theirs.pk) == 3
    assert _titles(other_tenant, "0205550001") == ["Person 1"]
    if connection.vendor == "postgresql":
        gone = {t for t in before if t.startswith(f"phone_cache_t{tenant.pk}_")}
        assert len(gone) == 2
        assert _partitions() == before - gone
        with connection.cursor() as cursor:  # dropped, not only detached
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname = ANY(%s)", [sorted(gone)])
            assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_another_tenants_generations_are_not_dropped(tenant, other_tenant):
    mine = _integration(tenant, CardDavDouble(_book(3)))
    theirs = _integration(other_tenant, CardDavDouble(_book(3)))
    for integration in (mine, theirs):
        assert _sync(integration, CardDavDouble(_book(3))).status == "ok"

    integration_delete(tenant=tenant, integration=theirs)  # not this tenant's: left alone
    assert _sync(mine, CardDavDouble(_book(3))).status == "ok"  # drops mine's old generation only

    assert stored_rows(theirs.pk) == 3
    assert _titles(other_tenant, "0205550001") == ["Person 1"]
    assert _titles(tenant, "0205550001") == ["Person 1"]


@pytest.mark.django_db
def test_the_foreign_keys_have_no_index_of_their_own(db):
    table = PhoneCacheEntry._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = [tuple(c["columns"]) for c in constraints.values() if c["index"] and not c["primary_key"]]

    assert ("tenant_id",) not in indexed
    assert ("integration_id",) not in indexed
    assert ("tenant_id", "e164") in indexed
    assert ("integration_id", "generation") in indexed


@on_postgresql
@pytest.mark.django_db
def test_a_sync_never_locks_the_integration_and_tenant_tables_against_reads(tenant):
    # The test's transaction keeps every lock the sync took (ATTACH included) until it ends.
    # Before the fix the new generation carried its own foreign keys; ATTACH merged them into
    # the parent's and dropped their triggers with ACCESS EXCLUSIVE on both tables: every match
    # request stalled, and two syncs finishing at once deadlocked (tests/test_deployment.py).
    integration = _integration(tenant, CardDavDouble(_book(3)))

    assert _sync(integration, CardDavDouble(_book(3))).status == "ok"

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = pg_backend_pid() AND c.relname IN (%s, %s)",
            [Integration._meta.db_table, Tenant._meta.db_table],
        )
        locks = cursor.fetchall()
        integration.refresh_from_db()
        cursor.execute(
            "SELECT a.attname FROM pg_constraint k JOIN pg_attribute a "
            "ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey) "
            "WHERE k.conrelid = %s::regclass AND k.contype = 'f' AND k.conparentid <> 0 AND k.convalidated",
            [generation_tables(integration.pk)[integration.cache_generation]],
        )
        foreign_keys = sorted(name for (name,) in cursor.fetchall())
    assert {relname for relname, _ in locks} >= {Integration._meta.db_table}
    assert [lock for lock in locks if lock[1] == "AccessExclusiveLock"] == []
    assert foreign_keys == ["integration_id", "tenant_id"]  # the parent's, cloned and checked


@on_postgresql
@pytest.mark.django_db
def test_a_lookup_reads_only_its_tenants_partitions(tenant, other_tenant):
    mine = _integration(tenant, CardDavDouble(_book(3)))
    theirs = _integration(other_tenant, CardDavDouble(_book(3)))
    for integration in (mine, theirs):
        assert _sync(integration, CardDavDouble(_book(3))).status == "ok"
        integration.refresh_from_db()
    query = PhoneCacheEntry.objects.filter(
        tenant=tenant, e164="+31205550001", generation=F("integration__cache_generation")
    )

    plan = query.explain()

    assert generation_tables(mine.pk)[mine.cache_generation] in plan
    assert generation_tables(theirs.pk)[theirs.cache_generation] not in plan  # pruned when planned


@pytest.mark.django_db
def test_a_number_text_seen_before_in_the_same_sync_is_read_once(tenant, monkeypatch):
    main = "work:+31 (0)20 700 0000"  # the company's main number on every contact
    cards = {
        f"c{i}.vcf": vcard(f"uid-{i}", f"Person {i}", f"cell:06 1234 {i:04d}", main, "home:call me maybe")
        for i in range(6)
    }
    double = CardDavDouble(cards)
    integration = _integration(tenant, double)
    reads: list[str] = []

    def counting(text: str, *, country: str) -> list[NormalizedNumber]:
        reads.append(text)
        return extract_numbers(text, country=country)

    monkeypatch.setattr("integrations.sync.extract_numbers", counting)
    result = _sync(integration, double)

    assert (result.status, result.records, result.numbers, result.skipped) == ("ok", 6, 12, 6)
    assert sorted(reads) == sorted({*reads})  # every distinct text once
    assert reads.count("+31 (0)20 700 0000") == 1
    assert reads.count("call me maybe") == 1
    assert PhoneCacheEntry.objects.filter(integration=integration, e164="+31207000000").count() == 6

    reads.clear()
    assert _sync(integration, double).status == "ok"
    assert reads.count("+31 (0)20 700 0000") == 1  # a new sync reads afresh


def test_the_number_memo_stays_bounded_and_gives_the_same_answers():
    memo = NumberMemo(country="NL", limit=2)
    texts = ["020 123 4567", "06-12345678", "+49 30 1234567", "020 123 4567", "010 765 4321"]

    got = [memo.read(text) for text in texts]

    assert got == [extract_numbers(text, country="NL") for text in texts]
    assert len(memo._known) <= 2
    with pytest.raises(PhoneNumberError) as first:
        memo.read("no number here")
    with pytest.raises(PhoneNumberError) as again:
        memo.read("no number here")
    assert str(first.value) == str(again.value)
    for _ in range(100):  # a text read often must not grow the remembered error's traceback
        with pytest.raises(PhoneNumberError) as last:
            memo.read("no number here")
    depth, frame = 0, last.value.__traceback__
    while frame is not None:
        depth, frame = depth + 1, frame.tb_next
    assert depth < 5
