"""A throw-away PostgreSQL primary and a streaming standby for the tests that need both
(tests/test_replica.py, tests/test_deployment.py).

`primary_and_standby()` runs `initdb` in a folder of its own under the system's temp directory
(pytest's tmp folder is private to our user, and PostgreSQL refuses to run as root, so the
servers run as the postgres user there), starts the primary on 127.0.0.1 on a free port, creates
the database `cti`, makes the standby with `pg_basebackup -R` (streaming replication) and starts
it on another free port. Both are stopped by PID (postmaster.pid) and the folder is removed when
the block ends, also on failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin folder; RuntimeError when none is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL is not installed: bin/test installs it (apt-get install postgresql)")
    return Path(on_path).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when asked (for servers that cannot take a socket)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*args: str) -> None:
    """Run a PostgreSQL program (as the postgres user when we are root: PostgreSQL refuses root);
    a failure raises RuntimeError with the program's own words."""
    command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}")


@dataclass
class Cluster:
    """One PostgreSQL server: its data folder and its port on 127.0.0.1 (user postgres, trust)."""

    data: Path
    port: int

    @property
    def url(self) -> str:
        """The `cti` database's URL, as DATABASE_URL takes it."""
        return f"postgres://postgres@127.0.0.1:{self.port}/cti"

    def connect(self, dbname: str = "cti") -> psycopg.Connection[Any]:
        """A new autocommit connection to `dbname`."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def start(self, bin_dir: Path, log: Path, *, options: str = "") -> None:
        """Start the server (pg_ctl -w: returns once it accepts connections); `options` are more
        `-c name=value` settings."""
        base = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"{base} {options}",
            "start",
        )

    def stop(self) -> None:
        """Fast shutdown by the PID in postmaster.pid; waits up to 10 s for it to end."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            if not pid_file.exists():
                return
            time.sleep(0.1)


@contextmanager
def primary_and_standby(*, options: str = "") -> Iterator[tuple[Cluster, Cluster]]:
    """Yield (primary, standby): a running primary with the database `cti` and a running streaming
    standby of it. `options` (`-c name=value ...`) go to both servers. RuntimeError when a
    PostgreSQL program fails."""
    bin_dir = pg_bin()
    base = Path(tempfile.mkdtemp(prefix="cti-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    primary = Cluster(base / "primary", free_port())
    standby = Cluster(base / "standby", free_port())
    try:
        as_postgres(
            str(bin_dir / "initdb"),
            *("-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"),
        )
        primary.start(bin_dir, base / "primary.log", options=options)
        with primary.connect("postgres") as conn:
            conn.execute("CREATE DATABASE cti")
        as_postgres(
            str(bin_dir / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast"),
        )
        standby.start(bin_dir, base / "standby.log", options=options)
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)
