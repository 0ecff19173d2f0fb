"""The production layout, tested (issue 10, item 5; docs/deployment.md).

One test starts, on this machine and on 127.0.0.1 only: a PostgreSQL primary and a streaming
standby (tests/pg_cluster.py), Redis (broker, cache, channel layer), two gunicorn processes (2 sync
workers each), two Celery workers (concurrency 2) and TWO Celery beats (by mistake, as an
operator might), all on the production settings module `configurator.settings` with an explicit
environment. A local JSON CRM with 50 address books (tests/deployment_crm.py) is served from the
test process. It shows:

1. 50 integrations of 10 tenants, all due at once, are each synced exactly once: one `SyncRun`,
   ok, per integration; one task per integration reached the workers although two beats dispatch;
   every CRM number is in the live cache.
2. A worker killed (SIGKILL, its whole process group) in the middle of a slow sync is recovered:
   the sync is declared dead once its heartbeat is older than SYNC_HEARTBEAT_STALE_MINUTES
   (shortened to 6 s here), queued again and completed by the surviving worker; the old cache
   answers throughout and no rows or tables of the dead run are left.
3. Both gunicorn processes answer matches with each tenant's key, read from the standby (its
   table statistics count the index scans, the primary's do not move), and a tenant never sees
   another tenant's numbers.

Runs once per `make test`: in the PostgreSQL run (it starts its own PostgreSQL anyway). Every
process is stopped by PID (its process group) at the end, also on failure.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.deployment_crm import DeploymentCrm, book_contact_name, book_number, deployment_crm
from tests.pg_cluster import Cluster, primary_and_standby
from tests.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    not os.environ.get("CTI_TEST_DATABASE_URL"),
    reason="runs once per `make test`, in its PostgreSQL run (it starts its own primary and standby)",
)

REPO = Path(__file__).resolve().parent.parent
TENANTS = 10
BOOKS_PER_TENANT = 5
CONTACTS = 60  # per book: 50 books, 3,000 numbers
SLOW_BOOK = 7  # the book whose sync is killed mid-way
SLOW_CONTACTS = 600
SLOW_PAGE_SECONDS = 0.5  # 12 pages of 50: a 6 s sync
STALE_MINUTES = 0.1  # SYNC_HEARTBEAT_STALE_MINUTES: 6 s
STALE_MESSAGE = "The sync stopped without finishing (the worker died); it is retried."


class Processes:
    """The child processes of the test, each in its own process group, with its log file."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start `python -m <args>` in the repository, output to <folder>/<name>.log."""
        with self.log(name).open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: master + workers/pool children
            )
        self.started[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def read(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def listening_at(self, name: str) -> str | None:
        """The address a gunicorn says it listens at ("http://127.0.0.1:PORT"), None before."""
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", self.read(name))
        return found.group(1) if found else None

    def worker_ready(self, name: str) -> bool:
        """Whether a Celery worker said it is ready."""
        return " ready." in self.read(name)

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its process group (a crash of that worker)."""
        process = self.started[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """SIGTERM every process group (by the leader's PID), SIGKILL what is left after 10 s."""
        for process in self.started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.started.values():
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.started.values():
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # leftovers of the group, if any
            if process.poll() is None:
                process.wait(timeout=10)


def wait_for(what: str, check: Callable[..., Any], *args: Any, timeout: float, interval: float = 0.1) -> Any:
    """Call `check(*args)` until it returns something true, and return that; AssertionError
    naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check(*args)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def run_manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def match(client: httpx.Client, base: str, key: str, number: str) -> list[str]:
    response = client.get(
        f"{base}/api/v1/match", params={"caller_number": number}, headers={"Authorization": f"Api-Key {key}"}
    )
    assert response.status_code == 200, response.text
    return [m["notification"]["title"] for m in response.json()["matches"]]


def cache_scans(cluster: Cluster) -> int:
    """Sequential plus index scans of the phone cache's tables counted by this server."""
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0) FROM pg_stat_user_tables "
            "WHERE relname LIKE 'phone\\_cache\\_%' OR relname = 'integrations_phonecacheentry'"
        ).fetchone()
    return int(row[0]) if row else 0


def standby_caught_up(primary: Cluster, standby: Cluster) -> bool:
    with primary.connect() as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    with standby.connect() as conn:
        replayed = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [row[0] if row else "0/0"])
        done = replayed.fetchone()
    return bool(done and done[0])


@contextmanager
def matching_in_background(base: str, key: str, number: str, expected: str) -> Iterator[dict[str, Any]]:
    """Ask for `number` every 0.1 s while the block runs; the dict counts answers and misses."""
    seen: dict[str, Any] = {"answers": 0, "misses": []}
    stop = threading.Event()

    def ask() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                titles = match(client, base, key, number)
                seen["answers"] += 1
                if titles != [expected]:
                    seen["misses"].append(titles)
                stop.wait(0.1)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=15)


def test_the_production_layout_syncs_once_recovers_a_killed_worker_and_reads_from_the_replica(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    books = [(t, t * BOOKS_PER_TENANT + j) for t in range(TENANTS) for j in range(BOOKS_PER_TENANT)]
    contacts = {book: (SLOW_CONTACTS if book == SLOW_BOOK else CONTACTS) for _, book in books}
    with ExitStack() as stack:
        primary, standby = stack.enter_context(primary_and_standby())
        redis_url = stack.enter_context(redis_server(tmp_path))
        crm = stack.enter_context(deployment_crm(DeploymentCrm(contacts=contacts)))
        redis_base = redis_url.rsplit("/", 1)[0]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "configurator.settings",
            "VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": primary.url,
            "DATABASE_REPLICA_URL": standby.url,
            "REPLICA_MAX_LAG_SECONDS": "5",
            "CELERY_BROKER_URL": f"{redis_base}/0",
            "CACHE_URL": f"{redis_base}/1",
            "CHANNEL_LAYER_URL": f"{redis_base}/2",
            "SECURE_SSL_REDIRECT": "false",
            "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
            # Beat looks for due syncs every second; a sync silent for 6 s is declared dead.
            "SYNC_DISPATCH_INTERVAL": "1",
            "SYNC_HEARTBEAT_STALE_MINUTES": str(STALE_MINUTES),
            "SYNC_INCREMENTAL_INTERVAL_MINUTES": "0",
            "LOG_LEVEL": "INFO",
        }
        (tmp_path / "var" / "static").mkdir(parents=True)

        # 1. Migrate the primary; 10 tenants x 5 integrations against the CRM, with API keys.
        run_manage(env, "manage.py", "migrate", "--no-input", "-v", "0")
        spec = {
            "tenants": [
                {
                    "name": f"Tenant {t}",
                    "books": [{"book": b, "settings": crm.settings(b)} for tt, b in books if tt == t],
                }
                for t in range(TENANTS)
            ]
        }
        created = json.loads(run_manage(env, "-m", "tests.deployment_setup", stdin=json.dumps(spec)))[
            "tenants"
        ]
        keys = [tenant["key"] for tenant in created]
        integration_of = {int(b): pk for tenant in created for b, pk in tenant["integrations"].items()}
        assert len(integration_of) == TENANTS * BOOKS_PER_TENANT == 50

        # 2. Two gunicorns, two workers, two beats (one too many, on purpose).
        processes = Processes(tmp_path, env)
        stack.callback(processes.stop_all)
        for name in ("web1", "web2"):
            processes.start(
                name, "gunicorn", "configurator.wsgi:application",
                "--workers", "2", "--worker-class", "sync", "--bind", "127.0.0.1:0", "--timeout", "60",
            )  # fmt: skip
        for name in ("worker1", "worker2"):
            processes.start(
                name, "celery", "-A", "configurator", "worker", "--concurrency", "2", "--pool", "prefork",
                "-n", f"{name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            )  # fmt: skip
        for name in ("beat1", "beat2"):
            processes.start(
                name, "celery", "-A", "configurator", "beat", "--loglevel", "INFO",
                "--schedule", str(tmp_path / f"{name}-schedule"),
            )  # fmt: skip
        bases = [
            wait_for(f"{name} to listen", processes.listening_at, name, timeout=30)
            for name in ("web1", "web2")
        ]
        for name in ("worker1", "worker2"):
            wait_for(f"{name} to be ready", processes.worker_ready, name, timeout=30)

        # 3. All 50 due at once: every one synced exactly once, two beats or not.
        dispatched_at = time.monotonic()
        with primary.connect() as conn:
            conn.execute("UPDATE integrations_integration SET next_sync_at = '2000-01-01T00:00:00Z'")

        def synced() -> int:
            with primary.connect() as conn:
                row = conn.execute(
                    "SELECT count(*) FROM integrations_integration WHERE last_sync_at IS NOT NULL "
                    "AND sync_state = 'idle'"
                ).fetchone()
            return int(row[0]) if row else 0

        wait_for("all 50 integrations to sync", lambda: synced() == 50, timeout=90, interval=0.2)
        time_to_sync_50 = time.monotonic() - dispatched_at
        time.sleep(2.5)  # two more dispatch rounds of both beats: nothing may be queued again
        with primary.connect() as conn:
            runs = conn.execute(
                "SELECT integration_id, status, trigger, started_at, finished_at FROM integrations_syncrun"
            ).fetchall()
            cached = dict(conn.execute("SELECT id, cached_numbers FROM integrations_integration").fetchall())
            live = conn.execute(
                "SELECT i.id, array_agg(p.e164 ORDER BY p.e164) FROM integrations_integration i "
                "JOIN integrations_phonecacheentry p ON p.integration_id = i.id "
                "AND p.generation = i.cache_generation GROUP BY i.id"
            ).fetchall()
        assert sorted(run[0] for run in runs) == sorted(integration_of.values()), "one run per integration"
        assert {run[1:3] for run in runs} == {("ok", "nightly")}
        received = [
            len(re.findall(r"Task integrations\.sync_integration\[[^\]]+\] received", processes.read(w)))
            for w in ("worker1", "worker2")
        ]
        assert sum(received) == 50, f"sync tasks received per worker: {received}"
        assert all(received), "both workers took part"
        for beat in ("beat1", "beat2"):
            assert processes.read(beat).count("Sending due task dispatch-due-syncs") >= 2, beat
        numbers_by_integration = dict(live)
        for book, pk in integration_of.items():
            expected = sorted(book_number(book, i)[1] for i in range(contacts[book]))
            assert numbers_by_integration[pk] == expected, f"book {book}"
            assert cached[pk] == contacts[book]

        # 4. Kill the worker that runs the slow book's sync; the other one finishes it.
        slow = integration_of[SLOW_BOOK]
        slow_tenant = SLOW_BOOK // BOOKS_PER_TENANT
        crm.delays[SLOW_BOOK] = SLOW_PAGE_SECONDS
        pages_before = crm.pages[SLOW_BOOK]
        offsets = {w: len(processes.read(w)) for w in ("worker1", "worker2")}
        old_number, _ = book_number(SLOW_BOOK, 5)
        with matching_in_background(
            bases[0], keys[slow_tenant], old_number, book_contact_name(SLOW_BOOK, 5)
        ) as background:
            with primary.connect() as conn:
                conn.execute(
                    "UPDATE integrations_integration SET next_sync_at = '2000-01-01T00:00:00Z' WHERE id = %s",
                    [slow],
                )
            wait_for(
                "the slow sync to be mid-way", lambda: crm.pages[SLOW_BOOK] - pages_before >= 3, timeout=30
            )
            busy = [
                w for w in ("worker1", "worker2") if "sync_integration[" in processes.read(w)[offsets[w] :]
            ]
            assert len(busy) == 1, busy
            processes.kill(busy[0])
            killed_at = time.monotonic()
            survivor = "worker2" if busy[0] == "worker1" else "worker1"

            def recovered() -> bool:
                with primary.connect() as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM integrations_syncrun WHERE integration_id = %s "
                        "AND status = 'ok' AND trigger = 'retry'",
                        [slow],
                    ).fetchone()
                return bool(row and row[0])

            wait_for("the killed sync to be recovered", recovered, timeout=60, interval=0.2)
            recovery_seconds = time.monotonic() - killed_at
        assert background["answers"] > 10
        assert background["misses"] == [], "the old cache answered throughout"
        assert "sync_integration[" in processes.read(survivor)[offsets[survivor] :]
        with primary.connect() as conn:
            slow_runs = conn.execute(
                "SELECT status, trigger, error, started_at, finished_at FROM integrations_syncrun "
                "WHERE integration_id = %s ORDER BY id",
                [slow],
            ).fetchall()
            state = conn.execute(
                "SELECT sync_state, cache_generation FROM integrations_integration WHERE id = %s",
                [slow],
            ).fetchone()
            rows = conn.execute(
                "SELECT generation, count(*) FROM integrations_phonecacheentry WHERE integration_id = %s "
                "GROUP BY generation",
                [slow],
            ).fetchall()
            tables = conn.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s",
                [f"phone\\_cache\\_t%\\_i{slow}\\_g%"],
            ).fetchall()
        assert [run[:3] for run in slow_runs] == [
            ("ok", "nightly", ""),
            ("failed", "nightly", STALE_MESSAGE),
            ("ok", "retry", ""),
        ]
        for earlier, later in itertools.pairwise(slow_runs):
            assert earlier[4] <= later[3], "never two syncs of one integration at once"

        assert state is not None
        assert state[0] == "idle"
        assert rows == [(state[1], SLOW_CONTACTS)], "no rows of the dead run are left"
        assert [t[0].rsplit("_g", 1)[1] for t in tables] == [str(state[1])], (
            "no tables of the dead run are left"
        )

        # 5. Matches on both gunicorns, per tenant, read from the standby; no tenant sees another's.
        wait_for("the standby to catch up", lambda: standby_caught_up(primary, standby), timeout=30)
        scans_before = (cache_scans(primary), cache_scans(standby))
        asked = 0
        with httpx.Client(timeout=10) as client:
            for t, book in books:
                for index in (0, contacts[book] - 1):
                    written, _ = book_number(book, index)
                    base = bases[(book + index) % 2]  # both gunicorns, for every tenant
                    assert match(client, base, keys[t], written) == [book_contact_name(book, index)]
                    asked += 1
                    other = (t + 1) % TENANTS
                    assert match(client, base, keys[other], written) == [], "another tenant's number"
                    asked += 1

        def scanned_on_the_standby() -> bool:
            return cache_scans(standby) - scans_before[1] >= asked

        wait_for("the standby's statistics to count the matches", scanned_on_the_standby, timeout=15)
        assert cache_scans(primary) == scans_before[0], "no match query reached the primary"
        for name in ("web1", "web2"):
            assert "the match API now reads from replica" in processes.read(name), name

    print(
        f"\ndeployment: {len(runs) + len(slow_runs) - 1} syncs run "
        f"(50 at once + the killed one and its retry); 50 integrations "
        f"({sum(contacts.values())} numbers) synced in {time_to_sync_50:.1f} s with 2 workers x 2; "
        f"the killed worker's sync recovered in {recovery_seconds:.1f} s "
        f"(heartbeat timeout {STALE_MINUTES * 60:.0f} s); "
        f"{asked} matches over 2 gunicorns read from the standby; "
        f"whole test {time.monotonic() - started:.0f} s"
    )
