"""The match API reads from a real PostgreSQL streaming replica, and from the primary while the
replica lags (issue 10, item 5; integrations/replica.py).

The test starts its own primary and a standby made with `pg_basebackup -R` (streaming
replication), both on 127.0.0.1 on ports bound to 0, in a throw-away folder, and stops them by
PID. A child web process (tests/replica_process.py) uses both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pg_cluster
from tests.pg_cluster import Cluster
from tests.processes import stop_process

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    with pg_cluster.primary_and_standby() as servers:
        yield servers


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
