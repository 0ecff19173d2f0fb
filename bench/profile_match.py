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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configurator.settings")
_tmp = tempfile.mkdtemp(prefix="cti-profile-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def _environ(number: str, key: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/match",
        "QUERY_STRING": f"caller_number={number}",
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
        body = b"".join(handler(_environ(number, key), _start_response))
        assert b'"matches":[{' in body, body[:300]

    for number in numbers[:200]:  # warm up: imports, caches, the first queries
        request(number)
    with CaptureQueriesContext(connection) as queries:
        request(numbers[0])
    print(
        f"database: {connection.vendor}; {args.numbers:,} cached numbers; {len(queries)} queries per request:"
    )
    for query in queries.captured_queries:
        print(f"  {query['sql'][:160]}")

    started = time.perf_counter()
    for number in numbers:
        request(number)
    elapsed = time.perf_counter() - started
    print(f"{args.requests} requests: {elapsed / args.requests * 1000:.3f} ms each (no profiler)")

    profiler = cProfile.Profile()
    profiler.enable()
    for number in numbers:
        request(number)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
