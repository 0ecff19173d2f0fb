"""A real Radicale CardDAV server for tests, started as a subprocess on a port it binds itself.

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

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from tests.processes import stop_process

USERS: dict[str, str] = {"alice": "alice-secret", "bob": "bob-secret"}
START_TIMEOUT = 10.0


# tests/radicale_launcher.py prints the port it bound: "PORT 41234".
_LISTENING = re.compile(r"^PORT (\d+)$", re.MULTILINE)


class RadicaleServer:
    """A Radicale process on 127.0.0.1 with htpasswd users alice and bob (see `USERS`)."""

    def __init__(self, *, folder: Path | None = None, auth_delay: float = 0.0) -> None:
        self.auth_delay = auth_delay
        self.folder = folder
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
        """Start Radicale on 127.0.0.1 port 0 and wait (up to `START_TIMEOUT` s) until it answers.

        Radicale binds port 0 itself (no free-port guess that another process could take first)
        and the port it got is read from its log. Its files go under `folder` (pytest's tmp).
        """
        if self._process is not None:
            return
        self._dir = Path(tempfile.mkdtemp(prefix="radicale-", dir=self.folder))
        htpasswd = self._dir / "htpasswd"
        htpasswd.write_text("".join(f"{user}:{password}\n" for user, password in USERS.items()))
        storage = self._dir / "collections"
        storage.mkdir()
        command = [
            sys.executable, "-m", "tests.radicale_launcher",
            str(htpasswd), str(storage), str(self.auth_delay),
        ]  # fmt: skip
        log = (self._dir / "radicale.log").open("wb")
        try:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self.log_text()
                self.stop()
                raise RuntimeError(f"Radicale exited at start-up:\n{output}")
            if not self.port:
                found = _LISTENING.search(self.log_text())
                if found is None:
                    time.sleep(0.05)
                    continue
                self.port = int(found.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
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
        stop_process(process)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.port, self.url = 0, ""


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """A started Radicale server shared by the test session (files under pytest's tmp)."""
    with RadicaleServer(folder=tmp_path_factory.mktemp("radicale")) as server:
        yield server
