"""Serve Radicale's WSGI application on 127.0.0.1, port 0, and print the port the OS gave.

Run as `python -m tests.radicale_launcher HTPASSWD STORAGE AUTH_DELAY` by `tests.radicale_server`.
Radicale's own server refuses port 0 in `server.hosts`, so the tests bind the socket here with the
standard library's threading WSGI server and report the real port on stdout ("PORT 41234").
"""

from __future__ import annotations

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from radicale import config
from radicale.app import Application


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def main(htpasswd: str, storage: str, auth_delay: str) -> None:
    """Load a Radicale configuration for the test users and serve it until killed."""
    configuration = config.load()
    configuration.update(
        {
            "auth": {
                "type": "htpasswd",
                "htpasswd_filename": htpasswd,
                "htpasswd_encryption": "plain",
                "delay": auth_delay,
            },
            "rights": {"type": "owner_only"},
            "storage": {"filesystem_folder": storage},
        },
        "tests",
    )
    server = make_server(
        "127.0.0.1", 0, Application(configuration), server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )  # fmt: skip
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4])
