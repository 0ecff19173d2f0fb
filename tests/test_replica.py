"""The match API reads from a real PostgreSQL streaming replica, and from the primary while the
replica lags (issue 10, item 5; integrations/replica.py).

The test starts its own primary and a standby made with `pg_basebackup -R` (streaming
replication), both on 127.0.0.1 on ports bound to 0, in a throw-away folder, and stops them by
PID. A child web process (tests/replica_process.py) uses both.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.processes import stop_process

REPO = Path(__file__).resolve().parent.parent


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL is not installed: bin/test installs it (apt-get install postgresql)")
    return Path(on_path).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> None:
    """Run a PostgreSQL program (as the postgres user when we are root: PostgreSQL refuses root);
    a failure raises with the program's own words."""
    command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}")


@dataclass
class Cluster:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/cti"

    def connect(self, dbname: str = "cti") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def start(self, pg_bin: Path, log: Path) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            str(pg_bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-o", options, "start"
        )

    def stop(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            if not pid_file.exists():
                return
            time.sleep(0.1)


@pytest.fixture
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    pg_bin = _pg_bin()
    # PostgreSQL refuses to run as root, and pytest keeps its own tmp folder private to our user
    # (it resets the folder to mode 700 whenever a session starts), so the clusters live in a
    # folder of their own in the system's temp directory, as bin/test's PostgreSQL does, removed
    # when the test ends.
    base = Path(tempfile.mkdtemp(prefix="cti-replica-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    primary = Cluster(base / "primary", _free_port())
    standby = Cluster(base / "standby", _free_port())
    _as_postgres(
        str(pg_bin / "initdb"),
        "-D",
        str(primary.data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    try:
        primary.start(pg_bin, base / "primary.log")
        with primary.connect("postgres") as conn:
            conn.execute("CREATE DATABASE cti")
        _as_postgres(
            str(pg_bin / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast"),
        )
        standby.start(pg_bin, base / "standby.log")
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


def _ask(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("match\n")
    process.stdin.flush()
    line = process.stdout.readline()
    assert line, "the web process ended"
    answer: dict[str, Any] = json.loads(line)
    return answer


def test_matches_are_read_from_the_replica_and_from_the_primary_while_it_lags(primary_and_standby):
    primary, standby = primary_and_standby
    env = {
        **os.environ,
        "CTI_TEST_DATABASE_URL": primary.url,
        "CTI_TEST_DATABASE_REPLICA_URL": standby.url,
        "CTI_TEST_REPLICA_MAX_LAG_SECONDS": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.replica_process"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        with standby.connect() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)

        answer = _ask(process)
        assert answer["matches"] == ["Jan Jansen"]
        assert answer["queries"] == {"default": 0, "replica": 1}

        # The standby stops replaying while the primary goes on writing: it lags.
        with standby.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        time.sleep(1.0)
        with primary.connect() as conn:
            conn.execute("UPDATE configurator_tenant SET name = name || ' (renamed)'")
        time.sleep(1.2)  # longer than the lag's check interval (integrations.replica)
        answer = _ask(process)
        assert answer["matches"] == ["Jan Jansen"]
        assert answer["queries"] == {"default": 1, "replica": 0}

        # Replay resumes: once caught up, reads go back to the replica.
        with standby.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
            for _ in range(100):
                row = conn.execute("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()").fetchone()
                if row == (True,):
                    break
                time.sleep(0.1)
        time.sleep(1.2)
        answer = _ask(process)
        assert answer["queries"] == {"default": 0, "replica": 1}
    finally:
        if process.stdin:
            process.stdin.close()
        stop_process(process)  # type: ignore[arg-type]
