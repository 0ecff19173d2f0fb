"""Profile: where one matching-API request spends its time, in process. Prints figures; asserts nothing.

    .venv/bin/python bench/profile_match.py [--numbers 10000] [--requests 3000] [--top 30]
    DATABASE_URL=postgres://… .venv/bin/python bench/profile_match.py

Fills a throw-away database (SQLite by default) with cached numbers, two scripts and an API key,
then sends GET /api/v1/match through Django's WSGI handler (the full middleware stack, no HTTP
server) and prints the mean time per request, the queries per request and cProfile's top
functions by cumulative time.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import pstats
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The product's settings plus the one-lookup floor's URL (bench/floor), to compare in process.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor.settings")
_tmp = tempfile.mkdtemp(prefix="cti-profile-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# Each request's call-log entry written as its response closes (CPU time counts it either way;
# no writer thread outliving the throw-away database).
os.environ.setdefault("CALL_JOURNAL_BATCH_SECONDS", "0")

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def _environ(number: str, key: str, *, path: str = "/api/v1/match", query: str = "") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query or f"caller_number={number}",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Api-Key {key}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace) -> None:
    from integrations.models import Integration, PhoneCacheEntry
    from integrations.services import integration_create, script_create
    from tenants.services import api_key_create, tenant_create

    tenant, _ = tenant_create(name="Bench", admin_username="bench", admin_password="bench-password")
    _, key = api_key_create(tenant=tenant, name="bench")
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        settings_values={"url": "https://dav.example/book/", "username": "u", "password": "p"},
        start_sync=False,
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    PhoneCacheEntry.objects.bulk_create(
        [
            PhoneCacheEntry(
                tenant=tenant,
                integration_id=book.pk,
                generation=1,
                e164=f"+3161{i:07d}",
                number_as_written=f"06-1{i:07d}",
                record_id=f"r{i}",
                record_type="contact",
                display_name=f"Caller {i}",
                fields={"Company": "Big BV", "Email": f"c{i}@big.example"},
            )
            for i in range(args.numbers)
        ],
        batch_size=5_000,
    )
    script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )
    script_create(tenant=tenant, integration=book, name="Open", template="https://crm.example/c/$(Company)")

    handler = WSGIHandler()
    rng = random.Random(1)
    numbers = [f"%2B3161{rng.randrange(args.numbers):07d}" for _ in range(args.requests)]

    def request(number: str) -> None:
        # As a WSGI server: read the body, then close the response (the call log is written then).
        result = handler(_environ(number, key), _start_response)
        body = b"".join(result)
        result.close()
        assert b'"matches":[{' in body, body[:300]

    def floor(number: str) -> None:
        query = f"tenant={tenant.pk}&caller_number={number}"
        result = handler(_environ(number, key, path="/bench/floor", query=query), _start_response)
        body = b"".join(result)
        result.close()
        assert b'"matches":[{' in body, body[:300]

    for number in numbers[:200]:  # warm up: imports, caches, the first queries
        request(number)
    with CaptureQueriesContext(connection) as queries:
        request(numbers[0])
    print(
        f"database: {connection.vendor}; {args.numbers:,} cached numbers; {len(queries)} queries per request:"
    )
    for query in queries.captured_queries:
        print(f"  {(query['sql'] or '(a prepared statement)')[:160]}")

    for number in numbers[:200]:
        floor(number)
    timings: dict[str, list[float]] = {"match": [], "floor": []}
    for _round in range(3):  # interleaved, as the wrk bench does
        for name, send in (("match", request), ("floor", floor)):
            # Process CPU time: SQLite runs in this process, and the machine is shared, so CPU
            # time is steadier than the wall clock when other work competes for the cores.
            started = time.process_time()
            for number in numbers:
                send(number)
            timings[name].append((time.process_time() - started) / args.requests * 1000)
    match_ms, floor_ms = min(timings["match"]), min(timings["floor"])
    print(
        f"{args.requests} requests x 3 rounds (best round of CPU time, no profiler, response closed): "
        f"match {match_ms:.3f} ms, floor {floor_ms:.3f} ms each; floor/match {floor_ms / match_ms:.2f}"
    )

    _time_call_log_write(request, numbers)

    profiler = cProfile.Profile()
    profiler.enable()
    for number in numbers:
        request(number)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())


def _time_call_log_write(request: Any, numbers: list[str]) -> None:
    """The call log's share: the requests' entries queued (not written), then written in one
    batch as the batch writer thread does; CPU time per entry."""
    from django.test.utils import override_settings

    from integrations.journal import _BatchWriter, journal_flush

    with (
        override_settings(CALL_JOURNAL_BATCH_SECONDS=3600, CALL_JOURNAL_BATCH_MAX=10**9),
        mock.patch.object(_BatchWriter, "_run", return_value=None),  # no writer thread
    ):
        for number in numbers:
            request(number)
        started = time.process_time()
        written = journal_flush()
        spent = time.process_time() - started
    print(f"call log: {written} entries written in one batch, {spent / written * 1000:.3f} ms CPU each")


if __name__ == "__main__":
    main()
