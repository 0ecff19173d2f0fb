"""ASGI web processes for the agents' tests: uvicorn serving configurator.asgi on the test database.

pytest-django's `live_server` is a WSGI server, which cannot speak WebSocket; these are the real
thing, as bin/run starts it. Each process gets a socket the test bound to 127.0.0.1 port 0
(`uvicorn --fd`, so no port race), and is stopped by PID (`tests.processes.stop_process`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AsgiServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]


def test_database_url() -> str:
    """The URL of the database the test process is using (its test database, already migrated)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = quote(db.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@contextmanager
def asgi_server(
    log_file: Path, *, channel_layer_url: str = "", port: int = 0, timeout: float = 30.0
) -> Iterator[AsgiServer]:
    """Start `uvicorn configurator.asgi:application` on the test database; yield when it answers.

    `port` 0 takes a free port; another port is taken again (a restart on the same address).
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.asgi_settings",
        "CTI_TEST_DATABASE_URL": test_database_url(),
        "CTI_TEST_CHANNEL_LAYER_URL": channel_layer_url,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [
        sys.executable, "-m", "uvicorn", "configurator.asgi:application",
        "--fd", str(sock.fileno()), "--log-level", "warning", "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()]
        )
    sock.close()
    server = AsgiServer(url=f"http://127.0.0.1:{port}", port=port, process=process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_file.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{server.url}/login/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer: {log_file.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        from tests.processes import stop_process

        stop_process(process)
