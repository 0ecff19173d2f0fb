"""A real Radicale CardDAV server for tests, started as a subprocess on a free local port.

`RadicaleServer` writes an htpasswd file (plain passwords) with two users, `alice:alice-secret`
and `bob:bob-secret`, runs `python -m radicale` with `owner_only` rights (each user may only read
and write below `/<user>/`) and a temporary storage folder, waits until the server answers and
stops it by PID. The session-scoped fixture `radicale_server` yields a started server; register
this module as a pytest plugin (`pytest_plugins = ["tests.radicale_server"]`) to use it.

Radicale delays answers to failed logins and denied requests (401/403) by its `auth.delay`
setting (1 s by default). The server here sets it to 0 unless `auth_delay` says otherwise, so
tests of bad credentials stay fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

USERS: dict[str, str] = {"alice": "alice-secret", "bob": "bob-secret"}
START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RadicaleServer:
    """A Radicale process on 127.0.0.1 with htpasswd users alice and bob (see `USERS`)."""

    def __init__(self, *, auth_delay: float = 0.0) -> None:
        self.auth_delay = auth_delay
        self.port = 0
        self.url = ""
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RadicaleServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def auth(self, user: str) -> tuple[str, str]:
        """The (user, password) pair of a configured user."""
        return (user, USERS[user])

    def address_book_url(self, user: str, name: str = "contacts") -> str:
        """The URL of a user's address-book collection, with the trailing slash."""
        return f"{self.url}/{user}/{name}/"

    def start(self) -> None:
        """Start Radicale and wait (up to `START_TIMEOUT` s) until it answers HTTP."""
        if self._process is not None:
            return
        # Radicale fsyncs and re-reads the collection on every PUT; a RAM disk halves upload time.
        ram_disk = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self._dir = Path(tempfile.mkdtemp(prefix="radicale-test-", dir=ram_disk))
        htpasswd = self._dir / "htpasswd"
        htpasswd.write_text("".join(f"{user}:{password}\n" for user, password in USERS.items()))
        storage = self._dir / "collections"
        storage.mkdir()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "radicale",
            "--config", "",
            "--server-hosts", f"127.0.0.1:{self.port}",
            "--auth-type", "htpasswd",
            "--auth-htpasswd-filename", str(htpasswd),
            "--auth-htpasswd-encryption", "plain",
            "--auth-delay", str(self.auth_delay),
            "--rights-type", "owner_only",
            "--storage-filesystem-folder", str(storage),
        ]  # fmt: skip
        log = (self._dir / "radicale.log").open("wb")
        try:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self.log_text()
                self.stop()
                raise RuntimeError(f"Radicale exited at start-up:\n{output}")
            try:
                httpx.get(f"{self.url}/.web/", timeout=0.5)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            return
        output = self.log_text()
        self.stop()
        raise RuntimeError(f"Radicale did not answer within {START_TIMEOUT} s:\n{output}")

    def log_text(self) -> str:
        """What Radicale wrote to stdout/stderr so far (for failure messages)."""
        if self._dir is None or not (self._dir / "radicale.log").exists():
            return ""
        return (self._dir / "radicale.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process (terminate, then kill after 5 s) and remove the temporary folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@pytest.fixture(scope="session")
def radicale_server() -> Iterator[RadicaleServer]:
    """A started Radicale server shared by the test session."""
    with RadicaleServer() as server:
        yield server
