"""A throw-away redis-server for the tests (the channel layer of several web processes).

`bin/test` installs Debian's redis-server when it is missing. Started on 127.0.0.1 on a free port,
without persistence (`--save '' --appendonly no`), in tmp_path; stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import stop_process

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    # redis-server cannot take a bound socket; the port is free when asked and taken at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(folder: Path, *, timeout: float = 10.0) -> Iterator[str]:
    """Run redis-server in `folder`; yield its URL (redis://127.0.0.1:PORT/0)."""
    port = _free_port()
    # redis-server aborts under libfaketime (a clock_gettime recursion), which a suite run under
    # `faketime` would hand it; it needs no fake clock (channels-redis sets relative expiries).
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    with (folder / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not _pong(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not start: {(folder / 'redis.log').read_text()[-1000:]}"
                )
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)
