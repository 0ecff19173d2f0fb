"""A second web process for tests: answers matching-API calls through Django's WSGI handler.

Run by tests (tests/test_match_config.py) as `python -m tests.match_process` with
`CTI_CHILD_DATABASE` (a JSON object of the parent's test-database settings) in the environment.
Reads lines "<api key> <caller number>" on stdin and writes one JSON line per request:
`{"status": int, "queries": int, "actions": [names], "matches": [titles]}`.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any


def main() -> None:
    """Serve requests from stdin until it closes."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "configurator.settings_test"
    import django
    from django.conf import settings

    settings.DATABASES["default"].update(json.loads(os.environ["CTI_CHILD_DATABASE"]))
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    for line in sys.stdin:
        key, number = line.split()
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v1/match",
            "QUERY_STRING": f"caller_number={number}",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "HTTP_AUTHORIZATION": f"Api-Key {key}",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        statuses: list[str] = []

        def start_response(
            status: str, headers: Any, exc_info: Any = None, statuses: list[str] = statuses
        ) -> Any:
            statuses.append(status)

        with CaptureQueriesContext(connection) as queries:
            body = b"".join(handler(environ, start_response))
        answer = json.loads(body)
        out = {
            "status": int(statuses[0].split()[0]),
            "queries": len(
                [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
            ),
            "actions": [a["name"] for a in answer.get("actions", [])]
            + [a["name"] for m in answer.get("matches", []) for a in m["actions"]],
            "matches": [m["notification"]["title"] for m in answer.get("matches", [])],
        }
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
