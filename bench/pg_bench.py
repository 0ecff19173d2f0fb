"""Benchmark on PostgreSQL as in production: the sync against a plain COPY, the table after three
syncs, and the match API under wrk against a one-lookup floor view. Prints figures; asserts nothing.

    bin/bench                      # starts a throw-away PostgreSQL, then runs this (make bench)
    DATABASE_URL=postgres://…/db .venv/bin/python bench/pg_bench.py [--sizes 10000,1000000]

`DATABASE_URL` must name a PostgreSQL database this script may fill (it migrates it). What it does:

1. Sync: `phone_cache_sync` of generated CRM records (realistic Dutch, German and Belgian numbers
   in the notations CRMs hold; every 8th record also carries its company's main number) at each
   size, each in a fresh child process (`ru_maxrss` is its peak memory). The connector yields
   records from memory, so the figure is our side: normalization, COPY, indexes, attach, switch.
   The largest size under 10M is synced three times over the same data (the nightly resync).
2. COPY: the same rows (exported from the live partition) copied with one `COPY ... FROM STDIN`
   into a plain table with the same columns and indexes; the phone cache's size on disk against
   that table's.
3. Lookups: gunicorn (2 sync workers, DEBUG off, CONN_MAX_AGE) serves the product and
   `/bench/floor` (bench/floor: one indexed lookup, no auth) with bench.floor.settings; wrk
   (bench/lookup.lua) asks random cached numbers. Rounds alternate floor and match; the table
   shows medians over the rounds. Then a cached match against a live lookup of the same numbers
   on a local CRM double (tests/live_lookup_server.py).

The machine is shared (2 cores: wrk, gunicorn and PostgreSQL compete): figures are noisy.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # wrk speaks plain http
os.environ.setdefault("CONN_MAX_AGE", "600")
os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "true")  # the CRM double is on 127.0.0.1

import django  # noqa: E402
import httpx  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from integrations.connectors.base import Connector, CrmRecord, RecordPhone  # noqa: E402

AREAS = ("20", "10", "30", "40", "50", "70", "13", "15", "23", "24", "26", "35", "38", "43", "45")
RECORDS_ENV = "BENCH_RECORDS"


def record_numbers(i: int) -> list[tuple[str, str]]:
    """The phone fields of generated record `i`: (number as written, type). Unique per record
    below 10M records; every 8th also has its company's main number, which 8 records share at
    every size (so a case's answers hold as many records at 10k as at 10M)."""
    k = (i * 7919) % 10_000_000
    kind = i % 10
    phones: list[tuple[str, str]] = []
    if kind < 5:
        digits = f"{1 + i % 5}{k:07d}"
        style = i % 3
        if style == 0:
            phones.append((f"06-{digits}", "cell"))
        elif style == 1:
            phones.append((f"+31 6 {digits[:2]} {digits[2:5]} {digits[5:]}", "cell"))
        else:
            phones.append((f"(06) {digits}", "cell"))
    elif kind < 9:
        area = AREAS[i % len(AREAS)]
        subscriber = f"{2_000_000 + (i * 7919) % 8_000_000:07d}"
        if i % 2:
            phones.append((f"0{area} {subscriber[:3]} {subscriber[3:]}", "work"))
        else:
            phones.append((f"+31 (0){area} {subscriber}", "work"))
    else:
        if i % 20 == 9:
            phones.append((f"+49 30 2{k:07d}", "work"))
        else:
            phones.append((f"+32 2 {2_000_000 + k % 8_000_000:07d}", "work"))
    if i % 8 == 0:
        phones.append((f"020 5{i // 64:06d}", "work"))
    return phones


class BenchConnector(Connector):
    """A CRM in memory: `BENCH_RECORDS` generated records (`record_numbers`)."""

    def test_connection(self) -> None:
        """Always reachable."""

    def iter_records(self) -> Iterator[CrmRecord]:
        for i in range(int(os.environ[RECORDS_ENV])):
            yield CrmRecord(
                id=f"r{i}",
                type="contact",
                display_name=f"Person {i}",
                phones=tuple(RecordPhone(number=n, type=t) for n, t in record_numbers(i)),
                url=f"https://crm.example.com/contacts/r{i}",
                fields={"Company": f"Company {i // 64}", "Email": f"person{i}@example.com"},
            )


def _patch_preset() -> None:
    """(Child process) the sync reads `BenchConnector` whatever the integration's preset."""
    import dataclasses
    from unittest import mock

    from integrations.registry import get_preset

    def bench_preset(slug: str) -> Any:
        return dataclasses.replace(get_preset(slug), connector_class=BenchConnector)

    mock.patch("integrations.sync.get_preset", bench_preset).start()


def _time_phases() -> dict[str, float]:
    """(Child process) time spent in COPY and in `GenerationWriter.publish`, added up."""
    from unittest import mock

    from integrations import phone_cache_store

    spent = {"copy": 0.0, "publish": 0.0}
    real_copy, real_publish = phone_cache_store.copy_rows, phone_cache_store.GenerationWriter.publish

    def copy_rows(table: str, rows: Any) -> None:
        started = time.perf_counter()
        real_copy(table, rows)
        spent["copy"] += time.perf_counter() - started

    def publish(writer: Any) -> None:
        started = time.perf_counter()
        real_publish(writer)
        spent["publish"] += time.perf_counter() - started

    mock.patch.object(phone_cache_store, "copy_rows", copy_rows).start()
    mock.patch.object(phone_cache_store.GenerationWriter, "publish", publish).start()
    return spent


def child_sync(integration_id: int, records: int) -> None:
    """(Child process) one full sync of `records` generated records; prints a JSON line."""
    from integrations.sync import phone_cache_sync

    os.environ[RECORDS_ENV] = str(records)
    _patch_preset()
    spent = _time_phases()
    started = time.perf_counter()
    result = phone_cache_sync(integration_id=integration_id)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "status": result.status,
                "records": result.records,
                "numbers": result.numbers,
                "skipped": result.skipped,
                "peak_kb": peak_kb,
                "copy_s": spent["copy"],
                "publish_s": spent["publish"],
            }
        )
    )


def child_profile(records: int) -> None:
    """(Child process) where one core's time goes: generating records, + reading the numbers
    (the sync's `_entries`, with its memo), without writing; prints a JSON line."""
    from types import SimpleNamespace

    from integrations.sync import NumberMemo, _entries

    os.environ[RECORDS_ENV] = str(records)
    connector = BenchConnector(settings={}, client=None)  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in connector.iter_records():
        pass
    generate = time.perf_counter() - started
    integration: Any = SimpleNamespace(number_region="NL", tenant_id=1, pk=1)
    counters = {"records": 0, "skipped": 0}
    started = time.perf_counter()
    rows = 0
    for _ in _entries(
        connector.iter_records(),
        integration=integration,
        generation=1,
        counters=counters,
        memo=NumberMemo(country="NL"),
    ):
        rows += 1
    read = time.perf_counter() - started
    print(json.dumps({"records": records, "rows": rows, "generate": generate, "generate_and_read": read}))


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="cti-pg-bench-"))
        self.results: dict[str, Any] = {}
        self.rows: list[tuple[str, ...]] = []

    # --- set-up ---------------------------------------------------------------------------
    def tenant(self, name: str) -> tuple[Any, str, Any]:
        from integrations.services import integration_create, script_create
        from tenants.services import api_key_create, tenant_create

        tenant, _ = tenant_create(
            name=name, admin_username=name.lower(), admin_password=secrets.token_hex(12)
        )
        _, key = api_key_create(tenant=tenant, name="bench")
        integration = integration_create(
            tenant=tenant,
            preset_slug="rest_json",
            name=f"{name} CRM",
            settings_values={
                "base_url": "https://crm.example.com",
                "list_path": "/contacts",
                "records_path": "results",
                "phone_paths": "phones[*].number",
            },
            start_sync=False,
        )
        script_create(
            tenant=tenant,
            integration=None,
            name="Search",
            template="https://www.example.com/?q=#(Caller number)",
        )
        return tenant, key, integration

    def sync(self, integration: Any, records: int) -> dict[str, Any]:
        connection.close()
        result = _child("sync", str(integration.pk), str(records))
        print(
            f"  sync of {records:,} records: {result['seconds']:.1f} s, {result['numbers']:,} numbers, "
            f"{result['skipped']} skipped, {result['status']}, peak {result['peak_kb'] / 1024:.0f} MB; "
            f"in COPY {result['copy_s']:.1f} s, indexes + keys + attach {result['publish_s']:.1f} s",
            flush=True,
        )
        return result

    def sample(self, tenant: Any, path: Path, count: int = 20_000) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e164 FROM integrations_phonecacheentry WHERE tenant_id = %s "
                "ORDER BY random() LIMIT %s",
                [tenant.pk, count],
            )
            numbers = [quote(n, safe="") for (n,) in cursor.fetchall()]
        path.write_text("\n".join(numbers) + "\n")

    # --- COPY and size -------------------------------------------------------------------
    def copy_baseline(self, integration: Any) -> None:
        from integrations.phone_cache_store import COLUMNS, TABLE, generation_table, table_bytes

        integration.refresh_from_db()
        leaf = generation_table(
            tenant_id=integration.tenant_id,
            integration_id=integration.pk,
            generation=integration.cache_generation,
        )
        dump = self.work / "rows.copy"
        connection.ensure_connection()
        pg = connection.connection
        export = f"COPY {leaf} ({', '.join(COLUMNS)}) TO STDOUT"
        with pg.cursor() as cursor, dump.open("wb") as out, cursor.copy(export) as copy:
            for chunk in copy:
                out.write(chunk)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy")
            cursor.execute(
                "CREATE TABLE bench_copy (LIKE integrations_phonecacheentry INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS INCLUDING INDEXES)"
            )
        started = time.perf_counter()
        load = f"COPY bench_copy ({', '.join(COLUMNS)}) FROM STDIN"
        with pg.cursor() as cursor, dump.open("rb") as source, cursor.copy(load) as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        rows = _scalar("SELECT count(*) FROM bench_copy")
        copy_bytes = _scalar("SELECT pg_total_relation_size('bench_copy')")
        cache_bytes = table_bytes()
        # The synced integration's own tables (its generations; the other cases' are not its bloat).
        prefix = leaf.rsplit("_g", 1)[0] + "_g"
        integration_bytes = int(
            _scalar(
                "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(%s) "
                "WHERE relid::regclass::text LIKE %s",
                [TABLE, prefix.replace("_", "\\_") + "%"],
            )
        )
        other_rows = _scalar(
            "SELECT count(*) FROM integrations_phonecacheentry WHERE integration_id <> %s", [integration.pk]
        )
        self.results["copy"] = {
            "seconds": seconds,
            "rows": rows,
            "bytes": copy_bytes,
            "cache_bytes": cache_bytes,
            "integration_bytes": integration_bytes,
            "other_rows": other_rows,
        }
        print(
            f"  COPY of the same {rows:,} rows into a plain table with the same indexes: {seconds:.1f} s; "
            f"that table {_mb(copy_bytes)}; the integration's phone-cache tables {_mb(integration_bytes)}, "
            f"the whole phone cache {_mb(cache_bytes)} (with {other_rows:,} rows of other tenants)",
            flush=True,
        )
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_copy")
        dump.unlink()

    def explain(self, tenant: Any) -> None:
        """Print the plan of the match API's cache query (as `integrations.matching` builds it)."""
        from django.db.models import F

        from integrations.models import LookupMode, PhoneCacheEntry

        number = PhoneCacheEntry.objects.filter(tenant=tenant).values_list("e164", flat=True).first()
        query = PhoneCacheEntry.objects.filter(
            tenant=tenant,
            integration__tenant=tenant,
            e164=number,
            integration__enabled=True,
            integration__lookup_mode=LookupMode.CACHED,
            generation=F("integration__cache_generation"),
        ).select_related("integration")
        query.explain()  # the first plan in a connection loads the catalog
        print("  plan of the match query (EXPLAIN ANALYZE, BUFFERS):", flush=True)
        for line in query.explain(analyze=True, buffers=True).splitlines():
            print(f"    {line}", flush=True)

    # --- load ------------------------------------------------------------------------------
    def wrk(
        self, *, path: str, numbers: Path, connections: int, seconds: float, query: str = "", auth: str = ""
    ) -> dict[str, Any]:
        env = {
            **os.environ,
            "BENCH_NUMBERS": str(numbers),
            "BENCH_PATH": path,
            "BENCH_QUERY": query,
            "BENCH_AUTH": auth,
        }
        for _ in range(3):  # a run that got no answer at all (workers restarting) is run again
            done = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    "--latency",
                    "-s",
                    str(ROOT / "bench/lookup.lua"),
                    self.base_url,
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
            out: dict[str, Any] = json.loads(line)
            if out["requests"]:
                break
            print(
                f"    ! no answer from {path} at {connections} connections: {done.stdout[-300:]!r}",
                flush=True,
            )
        out["rps"] = out["requests"] / out["seconds"]
        if out["non2xx"] or out["errors"]:
            print(f"    ! {path} {query}: {out['errors']} errors ({out['non2xx']} non-2xx)", flush=True)
        return out

    def start_gunicorn(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        log = (self.work / "gunicorn.log").open("w")
        self.gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "configurator.wsgi:application",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--chdir",
                str(ROOT),
            ],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.floor.settings"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # The master listens before its workers have loaded Django: wait for answers.
        deadline = time.monotonic() + 120
        answered = 0
        while answered < 10 and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{self.base_url}/bench/floor?tenant=0&caller_number=x", timeout=10)
                answered += answer.status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        print(
            f"  gunicorn pid {self.gunicorn.pid} on {self.base_url} (2 sync workers, DEBUG off)", flush=True
        )

    def stop_gunicorn(self) -> None:
        if getattr(self, "gunicorn", None) and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
            try:
                self.gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.gunicorn.kill()

    def rounds(self, label: str, tenant: Any, key: str, numbers: Path) -> None:
        args = self.args
        cases = {
            "floor": {"path": "/bench/floor", "query": f"&tenant={tenant.pk}", "auth": ""},
            "match": {"path": "/api/v1/match", "query": "", "auth": f"Api-Key {key}"},
        }
        for case in cases.values():  # warm the workers' connections and caches
            self.wrk(numbers=numbers, connections=2, seconds=1, **case)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in range(args.rounds):
            order = list(cases) if r % 2 == 0 else list(reversed(cases))
            for conns, seconds in ((16, args.seconds), (1, args.seconds_one)):
                for name in order:
                    runs.setdefault((name, conns), []).append(
                        self.wrk(numbers=numbers, connections=conns, seconds=seconds, **cases[name])
                    )
        self.results[label] = runs
        for (name, conns), got in sorted(runs.items()):
            self.rows.append(
                (
                    f"{name} at {label}",
                    str(conns),
                    f"{statistics.median(x['rps'] for x in got):,.0f}",
                    f"{statistics.median(x['p50_us'] for x in got) / 1000:.2f}",
                    f"{statistics.median(x['p99_us'] for x in got) / 1000:.2f}",
                )
            )
        print(f"  {label}: {args.rounds} rounds of floor/match done", flush=True)

    # --- run -------------------------------------------------------------------------------
    def run(self) -> None:
        args = self.args
        print(
            f"PostgreSQL {_scalar('SHOW server_version')}, python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cores; sizes {args.sizes}",
            flush=True,
        )
        call_command("migrate", verbosity=0)
        sizes = args.sizes
        profile = _child("profile", str(min(100_000, max(sizes))))
        self.results["profile"] = profile
        tenants: dict[int, tuple[Any, str, Any]] = {}
        print("1. sync (child process per sync)", flush=True)
        syncs: dict[int, list[dict[str, Any]]] = {}
        three = max(s for s in sizes if s < 10_000_000)
        for size in sizes:
            tenants[size] = self.tenant(f"T{size}")
            times = 3 if size == three else 1
            syncs[size] = [self.sync(tenants[size][2], size) for _ in range(times)]
        self.results["syncs"] = syncs
        print("2. COPY of the same rows", flush=True)
        self.copy_baseline(tenants[three][2])
        self.explain(tenants[max(sizes)][0])
        print("3. lookups (wrk)", flush=True)
        self.start_gunicorn()
        try:
            files = {}
            for size in sizes:
                files[size] = self.work / f"numbers-{size}.txt"
                self.sample(tenants[size][0], files[size])
            for size in sizes:
                tenant, key, _ = tenants[size]
                self.rounds(_size_label(size), tenant, key, files[size])
            self.live(tenants[min(sizes)], files[min(sizes)])
        finally:
            self.stop_gunicorn()
        self.report()

    def live(self, cached: tuple[Any, str, Any], numbers: Path) -> None:
        from integrations.models import LookupMode
        from integrations.services import integration_create, integration_set_lookup_mode
        from tenants.services import api_key_create, tenant_create
        from tests.live_lookup_server import SearchApi, search_api_server

        tenant, key, _ = cached
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e164, record_id, display_name FROM integrations_phonecacheentry WHERE tenant_id = %s",
                [tenant.pk],
            )
            contacts = [
                {"id": rid, "name": name, "phones": [{"number": e164}]}
                for e164, rid, name in cursor.fetchall()
            ]
        with search_api_server(SearchApi(contacts=contacts)) as crm:
            live_tenant, _ = tenant_create(
                name="Live", admin_username="live", admin_password=secrets.token_hex(12)
            )
            _, live_key = api_key_create(tenant=live_tenant, name="bench")
            live = integration_create(
                tenant=live_tenant,
                preset_slug="rest_json",
                name="Live CRM",
                settings_values={
                    "base_url": crm.base_url,
                    "list_path": "/contacts",
                    "records_path": "results",
                    "phone_paths": "phones[*].number",
                    "lookup_path": "/search?phone={number}",
                },
                start_sync=False,
            )
            integration_set_lookup_mode(tenant=live_tenant, integration=live, mode=LookupMode.LIVE)
            connection.close()
            runs: dict[str, list[dict[str, Any]]] = {"cached": [], "live": []}
            for r in range(3):
                for name in ("cached", "live") if r % 2 == 0 else ("live", "cached"):
                    auth = f"Api-Key {key if name == 'cached' else live_key}"
                    runs[name].append(
                        self.wrk(
                            path="/api/v1/match",
                            numbers=numbers,
                            connections=1,
                            seconds=self.args.seconds_one,
                            auth=auth,
                        )
                    )
            self.results["live"] = {"runs": runs, "crm_hits": crm.hits}
        for name, got in runs.items():
            self.rows.append(
                (
                    f"{name} match (live comparison)",
                    "1",
                    f"{statistics.median(x['rps'] for x in got):,.0f}",
                    f"{statistics.median(x['p50_us'] for x in got) / 1000:.2f}",
                    f"{statistics.median(x['p99_us'] for x in got) / 1000:.2f}",
                )
            )

    def report(self) -> None:
        res = self.results
        print()
        print("=" * 78)
        print(f"{'case':<34}{'conns':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for row in self.rows:
            print(f"{row[0]:<34}{row[1]:>6}{row[2]:>10}{row[3]:>10}{row[4]:>10}")
        print("-" * 78)
        sizes = self.args.sizes
        small = _size_label(min(sizes))
        ratios: list[tuple[str, str]] = []
        for size in sizes:
            label = _size_label(size)
            for conns in (16, 1):
                pairs = [
                    m["rps"] / f["rps"]
                    for m, f in zip(res[label][("match", conns)], res[label][("floor", conns)], strict=True)
                ]
                ratios.append((f"match/floor req/s, {label}, {conns} conn", _spread(pairs)))
            pairs = [
                m["p50_us"] / f["p50_us"]
                for m, f in zip(res[label][("match", 1)], res[label][("floor", 1)], strict=True)
            ]
            ratios.append((f"match/floor p50, {label}, 1 conn", _spread(pairs)))
        for size in sizes:
            if size == min(sizes):
                continue
            label = _size_label(size)
            for name in ("match", "floor"):
                pairs = [
                    b["p50_us"] / a["p50_us"]
                    for a, b in zip(res[small][(name, 1)], res[label][(name, 1)], strict=True)
                ]
                ratios.append((f"{name} p50 at {label} / at {small}, 1 conn", _spread(pairs)))
        syncs = res["syncs"]
        three = max(s for s in sizes if s < 10_000_000)
        copy = res["copy"]
        sync_s = [s["seconds"] for s in syncs[three]]
        ratios.append(
            (
                f"COPY / sync time at {_size_label(three)} (sync {statistics.median(sync_s):.1f} s, "
                f"COPY {copy['seconds']:.1f} s)",
                f"{copy['seconds'] / statistics.median(sync_s):.2f}x",
            )
        )
        copy_s = statistics.median(s["copy_s"] for s in syncs[three])
        publish_s = statistics.median(s["publish_s"] for s in syncs[three])
        ratios.append(
            (
                f"COPY / the sync's own writes at {_size_label(three)} (COPY + indexes, keys, attach)",
                f"{copy['seconds'] / (copy_s + publish_s):.2f}x",
            )
        )
        ratios.append(
            (
                f"sync {_size_label(three)}: in COPY / indexes+keys+attach / rest (reading)",
                f"{copy_s:.0f} / {publish_s:.0f} / {statistics.median(sync_s) - copy_s - publish_s:.0f} s",
            )
        )
        ratios.append(
            (
                f"sync rate at {_size_label(three)}",
                f"{syncs[three][0]['records'] / statistics.median(sync_s):,.0f} records/s",
            )
        )
        peak_small = max(s["peak_kb"] for s in syncs[min(sizes)])
        for size in sizes:
            if size != min(sizes):
                peak = max(s["peak_kb"] for s in syncs[size])
                ratios.append(
                    (
                        f"peak memory of the sync {_size_label(size)}/{small} "
                        f"({peak / 1024:.0f} / {peak_small / 1024:.0f} MB)",
                        f"{peak / peak_small:.2f}x",
                    )
                )
        live_bytes = copy["bytes"]
        ratios.append(
            (
                f"table after 3 syncs / live rows ({_mb(copy['integration_bytes'])} / {_mb(live_bytes)})",
                f"{copy['integration_bytes'] / live_bytes:.2f}x",
            )
        )
        if "live" in res:
            runs = res["live"]["runs"]
            pairs = [li["p50_us"] / c["p50_us"] for c, li in zip(runs["cached"], runs["live"], strict=True)]
            ratios.append(
                (
                    f"live lookup p50 / cached match p50 ({res['live']['crm_hits']} CRM requests)",
                    _spread(pairs),
                )
            )
        prof = res["profile"]
        per = 1e6 / prof["records"]
        ratios.append(
            (
                "one core, per record: generate / + read numbers (no writes)",
                f"{prof['generate'] * per:.1f} / {prof['generate_and_read'] * per:.1f} us",
            )
        )
        for name, value in ratios:
            print(f"{name:<66}{value:>12}")
        print("=" * 78)
        print(
            "One run on a shared 2-core machine (wrk, gunicorn and PostgreSQL compete); "
            "ratios are medians of interleaved rounds (range in brackets)."
        )


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


def _size_label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "sync":
        child_sync(int(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "profile":
        child_profile(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    full = os.environ.get("BENCH_FULL") == "1"
    parser.add_argument(
        "--sizes",
        default="10000,1000000,10000000" if full else "10000,1000000",
        help="cached numbers per case (comma-separated records counts)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5, help="wrk seconds per run at 16 connections")
    parser.add_argument("--seconds-one", type=float, default=3, help="wrk seconds per run at 1 connection")
    args = parser.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    if connection.vendor != "postgresql":
        raise SystemExit("bench/pg_bench.py needs DATABASE_URL=postgres://... (bin/bench starts one)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (bin/bench installs Debian's wrk)")
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.stop_gunicorn()
        shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
