"""Where the phone-cache rows live, and how a generation is written and dropped.

A sync writes one generation of an integration's numbers; lookups follow the integration's
`cache_generation`, so rows of other generations are invisible to them whatever table they are in.

PostgreSQL: `integrations_phonecacheentry` is partitioned by RANGE (tenant_id, integration_id,
generation) (migration 0012), one partition per generation, plus a DEFAULT partition for rows
written through the ORM into a generation that has none (tests, the incremental sync of a
generation written before the partitioning). A sync streams its rows with `COPY ... FROM STDIN`
(psycopg 3) into a table of its own that is not attached yet (`phone_cache_t<tenant>_i<integration>
_g<generation>`): no lookup can see it, no index or foreign key is maintained row by row. When
the rows are complete, `GenerationWriter.publish` builds the indexes, checks the foreign keys
and a CHECK constraint that proves the partition bound (so ATTACH scans nothing), analyzes the
table and attaches it. A generation is dropped with DROP TABLE: no dead rows, no vacuum debt.
Dropping an attached partition briefly takes an ACCESS EXCLUSIVE lock on the parent
(PostgreSQL docs, "Partition Maintenance"); it is asked for with a short `lock_timeout` and
retried, and when it cannot be had the table is left for the next sync's clean-up (its rows
are invisible anyway).

SQLite (development, tests): one plain table; rows are written with batched INSERTs and a
generation is dropped with DELETE.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Collection, Sequence
from typing import Any

from django.db import DatabaseError, connection, transaction

from integrations.models import PhoneCacheEntry

logger = logging.getLogger(__name__)

TABLE = PhoneCacheEntry._meta.db_table
DEFAULT_PARTITION = "phone_cache_default"
# The columns a row gives, in this order (`id` comes from the table's sequence).
COLUMNS = (
    "tenant_id",
    "integration_id",
    "generation",
    "e164",
    "extension",
    "number_as_written",
    "number_type",
    "record_id",
    "record_type",
    "display_name",
    "record_url",
    "fields",
)
# One phone-cache row: the values of `COLUMNS`, `fields` as JSON text (`fields_json`).
Row = tuple[int, int, int, str, str, str, str, str, str, str, str, str]

# The indexes of the partitioned table (the model's Meta.indexes): name -> columns.
INDEXES = {
    "phone_cache_lookup": ("tenant_id", "e164"),
    "phone_cache_generation": ("integration_id", "generation"),
}
# Dropping an attached partition waits at most this long for the parent's lock per try.
DROP_LOCK_TIMEOUT_MS = 300
DROP_TRIES = 3
DROP_RETRY_PAUSE_S = 0.5
# A statement the sync cannot do without (ATTACH of its new generation) tries longer: giving up
# would throw the whole sync's work away. Each try stalls lookups for at most the lock timeout.
REQUIRED_TRIES = 20
REQUIRED_RETRY_PAUSE_MAX_S = 2.0
_GENERATION_TABLE = re.compile(r"^phone_cache_t(\d+)_i(\d+)_g(\d+)$")


def fields_json(fields: dict[str, Any]) -> str:
    """A record's `fields` as the JSON text a row carries (the JSONField's own encoding)."""
    return json.dumps(fields)


def partitioned() -> bool:
    """Whether the phone cache is partitioned by generation here (PostgreSQL)."""
    return connection.vendor == "postgresql"


def generation_table(*, tenant_id: int, integration_id: int, generation: int) -> str:
    """The name of a generation's own table (PostgreSQL): `phone_cache_t1_i2_g3`."""
    return f"phone_cache_t{int(tenant_id)}_i{int(integration_id)}_g{int(generation)}"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class GenerationWriter:
    """Writes one new generation of an integration's phone cache; lookups see none of it
    until the integration's `cache_generation` points at it.

    `write(rows)` adds rows (one transaction per call); `publish()` makes the generation
    ready to be switched to (PostgreSQL: indexes, constraints, ANALYZE, ATTACH PARTITION);
    `rows()` counts what was written. Raises `DatabaseError` when the database refuses.
    """

    def __init__(self, *, tenant_id: int, integration_id: int, generation: int) -> None:
        self.tenant_id = int(tenant_id)
        self.integration_id = int(integration_id)
        self.generation = int(generation)
        self.table = generation_table(
            tenant_id=tenant_id, integration_id=integration_id, generation=generation
        )
        self._written = 0
        if partitioned():
            self._create()

    def _create(self) -> None:
        table = _quote(self.table)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (LIKE {_quote(TABLE)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            # Proves the partition bound, so ATTACH PARTITION skips its validation scan.
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {_quote(self.table + '_key')} CHECK ("
                f"tenant_id = {self.tenant_id} AND integration_id = {self.integration_id} "
                f"AND generation = {self.generation})"
            )

    def write(self, rows: Sequence[Row]) -> None:
        """Add `rows` (each with this writer's tenant, integration and generation)."""
        if not rows:
            return
        with transaction.atomic():
            if partitioned():
                copy_rows(self.table, rows)
            else:
                insert_rows(rows)
        self._written += len(rows)

    def rows(self) -> int:
        """How many rows this writer wrote."""
        return self._written

    def publish(self) -> None:
        """Make the generation part of the phone cache (still invisible to lookups until the
        switch). PostgreSQL: builds the indexes after the load, analyzes, and attaches the table
        as a partition (SHARE UPDATE EXCLUSIVE on the parent: lookups go on).

        The table gets no foreign keys of its own: ATTACH clones the parent's (to the tenant and
        integration tables) and checks the rows, holding SHARE ROW EXCLUSIVE on those two tables
        (their writes wait, their reads go on). A foreign key of its own, merged into the
        parent's by ATTACH, would have its triggers on the referenced tables dropped, which takes
        ACCESS EXCLUSIVE on them: every read of the integration and tenant tables (each match
        request) stalled, and two syncs finishing at once deadlocked (one ATTACHing, the other
        updating its integration row in its switch), failing one of them.
        """
        if not partitioned():
            return
        table = _quote(self.table)
        with connection.cursor() as cursor:
            for name, columns in INDEXES.items():
                index = _quote(f"{self.table}_{name.removeprefix('phone_cache_')}")
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({', '.join(columns)})")
            cursor.execute(f"ANALYZE {table}")
        bounds = (
            f"FROM ({self.tenant_id}, {self.integration_id}, {self.generation}) "
            f"TO ({self.tenant_id}, {self.integration_id}, {self.generation + 1})"
        )
        _with_short_locks(
            f"ALTER TABLE {_quote(TABLE)} ATTACH PARTITION {table} FOR VALUES {bounds}",
            what=f"attach {self.table}",
            required=True,
        )


def copy_rows(table: str, rows: Sequence[Row]) -> None:
    """Stream `rows` into `table` (PostgreSQL) with `COPY ... FROM STDIN` (psycopg 3,
    https://www.psycopg.org/psycopg3/docs/basic/copy.html); the parent table routes them to
    their partition."""
    connection.ensure_connection()
    statement = f"COPY {_quote(table)} ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(rows: Sequence[Row]) -> None:
    """Add `rows` to the phone cache: COPY on PostgreSQL (into the parent table, which routes
    each row to its generation's partition, else the default one), one batched INSERT on SQLite."""
    if not rows:
        return
    if partitioned():
        copy_rows(TABLE, rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT, list(rows))


# The table and column names are this module's constants, not input.
_INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # noqa: S608


def generation_tables(integration_id: int) -> dict[int, str]:
    """The generation tables of an integration (PostgreSQL; attached or not): generation -> name."""
    if not partitioned():
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE %s",
            [f"phone\\_cache\\_t%\\_i{int(integration_id)}\\_g%"],
        )
        names = [name for (name,) in cursor.fetchall()]
    tables = {}
    for name in names:
        found = _GENERATION_TABLE.match(name)
        if found and int(found.group(2)) == int(integration_id):
            tables[int(found.group(3))] = name
    return tables


def stored_rows(integration_id: int) -> int:
    """How many rows the integration has stored, every generation, including one a sync is
    still writing (PostgreSQL: in its own table, not attached yet)."""
    if not partitioned():
        return PhoneCacheEntry.objects.filter(integration_id=integration_id).count()
    total = 0
    with connection.cursor() as cursor:
        for name in generation_tables(integration_id).values():
            cursor.execute(f"SELECT count(*) FROM {_quote(name)}")  # noqa: S608 (a table name we made)
            total += int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM phone_cache_default WHERE integration_id = %s", [integration_id])
        total += int(cursor.fetchone()[0])
    return total


def drop_generations(
    integration_id: int,
    *,
    only: Collection[int] | None = None,
    keep: Collection[int] = (),
    below: int | None = None,
    wait: bool = False,
) -> None:
    """Drop generations of an integration's phone cache: those in `only` (all when None), but
    not those in `keep`, and only those below `below` when given.

    PostgreSQL drops each generation's table, and deletes the generation's rows from the
    default partition. Without `wait`, an attached table whose parent lock cannot be had within
    `DROP_TRIES` short tries is left (its rows are invisible; the next sync's clean-up drops
    it); with `wait` (the integration is being deleted) it waits for the lock. SQLite deletes
    the rows.
    """

    def chosen(generation: int) -> bool:
        return (
            (only is None or generation in only)
            and generation not in keep
            and (below is None or generation < below)
        )

    if not partitioned():
        rows = PhoneCacheEntry.objects.filter(integration_id=integration_id)
        if only is not None:
            rows = rows.filter(generation__in=list(only))
        if keep:
            rows = rows.exclude(generation__in=list(keep))
        if below is not None:
            rows = rows.filter(generation__lt=below)
        rows.delete()
        return
    for generation, name in sorted(generation_tables(integration_id).items()):
        if chosen(generation):
            _with_short_locks(f"DROP TABLE IF EXISTS {_quote(name)}", what=f"drop {name}", wait=wait)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM phone_cache_default WHERE integration_id = %s "
            "AND (%s::integer[] IS NULL OR generation = ANY(%s::integer[])) "
            "AND NOT (generation = ANY(%s::integer[])) AND (%s::integer IS NULL OR generation < %s)",
            [
                int(integration_id),
                *[[int(g) for g in only] if only is not None else None] * 2,
                [int(g) for g in keep],
                *[int(below) if below is not None else None] * 2,
            ],
        )


def _with_short_locks(sql: str, *, what: str, wait: bool = False, required: bool = False) -> bool:
    """Run a DDL statement that needs a strong lock on the phone cache's parent table or its
    default partition, in its own short transaction with a `lock_timeout`, so that lookups never
    queue behind it for long; retried `DROP_TRIES` times (`REQUIRED_TRIES` when `required`, with
    pauses growing to `REQUIRED_RETRY_PAUSE_MAX_S`). True when it ran; when it could not get the
    lock, False, or `DatabaseError` when `required`.
    """
    tries = 1 if wait else (REQUIRED_TRIES if required else DROP_TRIES)
    for attempt in range(1, tries + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if not wait:
                    cursor.execute(f"SET LOCAL lock_timeout = {DROP_LOCK_TIMEOUT_MS}")
                # A table with foreign-key checks still deferred in this transaction (rows the
                # incremental sync wrote earlier in it) cannot be dropped: check them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(sql)
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
                if not wait:
                    cursor.execute("SET LOCAL lock_timeout = DEFAULT")
            return True
        except DatabaseError as exc:
            if not _is_lock_timeout(exc) or attempt == tries:
                if required or not _is_lock_timeout(exc):
                    raise
                logger.warning("phone cache: could not %s (lock busy); left for the next sync", what)
                return False
            time.sleep(min(DROP_RETRY_PAUSE_S * attempt, REQUIRED_RETRY_PAUSE_MAX_S))
    return False


def _is_lock_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "55P03"  # lock_not_available


def table_bytes() -> int:
    """The phone cache's size on disk (PostgreSQL: every partition with its indexes and TOAST;
    SQLite: 0, not measured)."""
    if not partitioned():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(%s)",
            [TABLE],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _drop_deleted_integrations_generations(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    # Django's cascade (a tenant deleted in the admin, an integration deleted with the ORM)
    # would delete the rows and leave each generation's table behind, empty and attached.
    drop_generations(instance.pk, wait=True)


def connect_signals() -> None:
    """Drop an integration's generation tables whenever it is deleted, also by a cascade (a
    deleted tenant): Django sends `pre_delete` for each cascaded integration before the rows go."""
    from django.db.models.signals import pre_delete

    from integrations.models import Integration

    pre_delete.connect(
        _drop_deleted_integrations_generations,
        sender=Integration,
        dispatch_uid="phone_cache_store.integration.delete",
    )

