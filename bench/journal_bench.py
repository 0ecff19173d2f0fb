"""Benchmark: the match answer's latency with the call log on and off, interleaved in one run.

    .venv/bin/python bench/journal_bench.py [--numbers 20000] [--lookups 1000]

Each request goes through Django's WSGI handler in-process, as a WSGI server drives it: the
handler returns the response (the answer is ready to send: "answer" below), then the server
sends it and calls `close()`, which is where the call log writes its entry ("close" below). The
log is switched on and off between requests (`CALL_JOURNAL_ENABLED`), so both series see the
same cache, database and machine load. Uses a throw-away SQLite file (or DATABASE_URL's test
database). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configurator.settings")
_tmp = tempfile.mkdtemp(prefix="cti-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
# Throw-away keys for the throw-away database (settings refuse to start without keys).
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # plain http in-process
# The call log written as each response closes, in this thread: the throw-away database is
# SQLite's shared in-memory one, which a second (writer) thread would find locked.
os.environ.setdefault("CALL_JOURNAL_BATCH_SECONDS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=20_000, help="cached numbers to look up among")
    parser.add_argument("--lookups", type=int, default=1_000, help="requests per series (log on, log off)")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(args: argparse.Namespace) -> None:
    from integrations.models import CallJournalEntry, Integration, PhoneCacheEntry
    from integrations.services import integration_create, script_create
    from tenants.services import api_key_create, tenant_create

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    print(f"database: {connection.vendor}  python {sys.version.split()[0]}")
    tenant, _ = tenant_create(name="Bench", admin_username="bench", admin_password="bench-password")
    _, key = api_key_create(tenant=tenant, name="bench")
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        settings_values={"url": "https://dav.example.com/book/", "username": "u", "password": "p"},
        start_sync=False,
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    PhoneCacheEntry.objects.bulk_create(
        (
            PhoneCacheEntry(
                tenant=tenant,
                integration_id=book.pk,
                generation=1,
                e164=f"+3161{i:07d}",
                number_as_written=f"06-1{i:07d}",
                record_id=f"r{i}",
                record_type="contact",
                display_name=f"Caller {i}",
                fields={"Company": "Big BV"},
            )
            for i in range(args.numbers)
        ),
        batch_size=5_000,
    )
    script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )

    handler = WSGIHandler()
    rng = random.Random(1)

    def request(number: str) -> tuple[float, float, int]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v1/match",
            "QUERY_STRING": f"caller_number={number}",
            "HTTP_AUTHORIZATION": f"Api-Key {key}",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_NAME": "testserver",
            "wsgi.input": io.BytesIO(b""),
        }
        setup_testing_defaults(environ)
        statuses: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return lambda data: None

        t0 = time.perf_counter()
        response = handler(environ, start_response)
        body = b"".join(response)  # what the server sends
        answer = time.perf_counter()
        response.close()  # after sending: the call log writes here
        closed = time.perf_counter()
        assert statuses[0].startswith("200"), statuses
        return (answer - t0) * 1000, (closed - answer) * 1000, len(body)

    for _ in range(50):  # warm up caches, connections and code paths
        request(f"061{rng.randrange(args.numbers):07d}")

    answers: dict[bool, list[float]] = {True: [], False: []}
    closes: dict[bool, list[float]] = {True: [], False: []}
    for index in range(args.lookups * 2):
        log_on = index % 2 == 0
        settings.CALL_JOURNAL_ENABLED = log_on
        number = (
            f"061{rng.randrange(args.numbers):07d}" if index % 4 < 2 else f"062{rng.randrange(10**7):07d}"
        )
        answer_ms, close_ms, _ = request(number)
        answers[log_on].append(answer_ms)
        closes[log_on].append(close_ms)
    settings.CALL_JOURNAL_ENABLED = True

    logged = CallJournalEntry.objects.count()
    print(
        f"{args.lookups} requests per series among {args.numbers:,} cached numbers (half of them hits), "
        f"interleaved; {logged} entries written"
    )
    for log_on in (False, True):
        label = "log on " if log_on else "log off"
        a, c = answers[log_on], closes[log_on]
        print(
            f"{label}: answer p50 {statistics.median(a):.2f} ms, p95 {_percentile(a, 0.95):.2f} ms; "
            f"close (after sending) p50 {statistics.median(c):.2f} ms, p95 {_percentile(c, 0.95):.2f} ms"
        )
    difference = statistics.median(answers[True]) - statistics.median(answers[False])
    print(f"answer p50 difference (on - off): {difference:+.2f} ms")


if __name__ == "__main__":
    main()
