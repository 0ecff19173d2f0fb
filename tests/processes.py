"""Helpers for the servers the tests start as subprocesses (Radicale, slapd)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes] | None, *, grace: float = 5.0) -> None:
    """Stop a server the tests started, by its PID: SIGTERM, then SIGKILL after `grace` seconds.

    Does nothing for None or a process that has already exited.
    """
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)
