"""Benchmark: matching-API latency with an empty ignore list vs one of 10,000 entries, in one run.

    .venv/bin/python bench/ignore_list_bench.py [--entries 10000] [--numbers 20000] [--lookups 1000]
    DATABASE_URL=postgres://… .venv/bin/python bench/ignore_list_bench.py

Uses a throw-away SQLite file (or a fresh test database beside DATABASE_URL). The same callers
are looked up through the matching API (Django test client: middleware, DRF, key check, JSON)
of two tenants with the same phone cache, alternately: one with an empty ignore list, one with
`--entries` entries (numbers and prefixes, some covering callers of the run). Prints p50 and p99
of each; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configurator.settings")
_tmp = tempfile.mkdtemp(prefix="cti-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
# Throw-away keys for the throw-away database (settings refuse to start without keys).
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain http
# The call log written as each response closes, in this thread: the throw-away database is
# SQLite's shared in-memory one, which a second (writer) thread would find locked.
os.environ.setdefault("CALL_JOURNAL_BATCH_SECONDS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000, help="ignore-list entries")
    parser.add_argument("--numbers", type=int, default=20_000, help="cached numbers")
    parser.add_argument("--lookups", type=int, default=1_000)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _ask(client: Client, key: str, number: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    response = client.get("/api/v1/match", {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    elapsed = (time.perf_counter() - t0) * 1000
    body: dict[str, Any] = response.json()
    return elapsed, body


def _tenant_with_cache(name: str, numbers: int) -> tuple[Any, str]:
    from integrations.models import Integration, PhoneCacheEntry
    from integrations.services import script_create
    from tenants.services import api_key_create, tenant_create

    tenant, _ = tenant_create(name=name, admin_username=name.lower(), admin_password="bench-password")
    _, key = api_key_create(tenant=tenant, name="bench")
    crm = Integration.objects.create(tenant=tenant, preset="carddav", name="CRM")
    PhoneCacheEntry.objects.bulk_create(
        (
            PhoneCacheEntry(
                tenant=tenant,
                integration=crm,
                generation=0,
                e164=f"+3161{i:07d}",
                number_as_written=f"06-1{i:07d}",
                record_id=f"r{i}",
                record_type="contact",
                display_name=f"Caller {i}",
            )
            for i in range(numbers)
        ),
        batch_size=5_000,
    )
    script_create(
        tenant=tenant, integration=None, name="Search", template="https://s.example/?q=#(Caller number)"
    )
    return tenant, key


def run(args: argparse.Namespace) -> None:
    from integrations.models import IgnoredNumber, IgnoreKind

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    print(f"database: {connection.vendor}  python {sys.version.split()[0]}")
    # Two tenants with the same phone cache: one without an ignore list, one with a long one.
    # Their lookups alternate, so a busy machine slows both alike.
    _, empty_key = _tenant_with_cache("Empty", args.numbers)
    listed, listed_key = _tenant_with_cache("Listed", args.numbers)
    rng = random.Random(9)
    entries = []
    for i in range(args.entries):
        if i % 10 == 0:  # whole numbers, some of them callers of this run
            entries.append(IgnoredNumber(tenant=listed, number=f"+3161{rng.randrange(args.numbers):07d}"))
        elif i % 10 == 1:  # prefixes of another country
            entries.append(IgnoredNumber(tenant=listed, number=f"+44{i:07d}", kind=IgnoreKind.PREFIX))
        else:
            entries.append(IgnoredNumber(tenant=listed, number=f"+4930{i:08d}"))
    IgnoredNumber.objects.bulk_create(entries, batch_size=5_000, ignore_conflicts=True)
    size = IgnoredNumber.objects.filter(tenant=listed).count()

    callers = [f"061{rng.randrange(args.numbers):07d}" for _ in range(args.lookups)]
    client = Client()
    for number in callers[:50]:  # warm up: imports, caches, query plans
        _ask(client, empty_key, number)
        _ask(client, listed_key, number)
    empty: list[float] = []
    full: list[float] = []
    hits = ignored = 0
    for number in callers:
        elapsed, _ = _ask(client, empty_key, number)
        empty.append(elapsed)
        elapsed, body = _ask(client, listed_key, number)
        full.append(elapsed)
        hits += bool(body["matches"])
        ignored += bool(body["ignored"])

    def line(name: str, latencies: list[float]) -> str:
        latencies = sorted(latencies)
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99)]
        return f"{name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms"

    print(f"match API, {args.lookups} lookups each among {args.numbers:,} cached numbers (alternating)")
    print(line("  ignore list empty          ", empty))
    print(line(f"  ignore list {size:>6,} entries", full) + f" ({hits} matched, {ignored} ignored)")
    print(f"  difference in p50: {statistics.median(full) - statistics.median(empty):+.2f} ms")


if __name__ == "__main__":
    main()
