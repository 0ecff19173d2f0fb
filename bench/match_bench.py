"""Benchmark: phone-cache sync throughput and matching-API latency. Prints figures; asserts nothing.

    .venv/bin/python bench/match_bench.py [--numbers 200000] [--lookups 2000]
    DATABASE_URL=postgres://… .venv/bin/python bench/match_bench.py

Uses a throw-away SQLite file (or the database in DATABASE_URL, whose tables it creates in a fresh
test database). The sync reads an RFC 6352 CardDAV double in-process, so the figure is our side of
the work: parsing vCards, normalizing to E.164 and writing the cache.
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

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=200_000, help="cached numbers to look up among")
    parser.add_argument("--sync-cards", type=int, default=20_000, help="vCards in the synced address book")
    parser.add_argument("--lookups", type=int, default=2_000)
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
    from integrations.sync import phone_cache_sync
    from tenants.services import api_key_create, tenant_create
    from tests.carddav_double import CardDavDouble, vcard

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    print(f"database: {connection.vendor}  python {sys.version.split()[0]}")
    tenant, _ = tenant_create(name="Bench", admin_username="bench", admin_password="bench-password")
    _, key = api_key_create(tenant=tenant, name="bench")

    # 1. Sync throughput through the connector, normalizer and bulk writer.
    cards = {
        f"c{i}.vcf": vcard(
            f"uid-{i}", f"Person {i}", f"work:020 {i // 10000 % 10}{i % 10000:04d} 99"[:22], org="Bench BV"
        )
        for i in range(args.sync_cards)
    }
    double = CardDavDouble(cards)
    book = integration_create(
        tenant=tenant, preset_slug="carddav", name="Book", settings_values=double.settings(), start_sync=False
    )
    started = time.perf_counter()
    result = phone_cache_sync(
        integration_id=book.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    elapsed = time.perf_counter() - started
    print(
        f"sync: {result.records} vCards -> {result.numbers} numbers in {elapsed:.2f} s "
        f"= {result.records / elapsed:,.0f} records/s ({result.status}, {result.skipped} skipped)"
    )

    # 2. A large cache to look up in: bulk rows for a second integration.
    big = integration_create(
        tenant=tenant, preset_slug="carddav", name="Big", settings_values=double.settings(), start_sync=False
    )
    Integration.objects.filter(pk=big.pk).update(cache_generation=1)
    started = time.perf_counter()
    batch = []
    for i in range(args.numbers):
        batch.append(
            PhoneCacheEntry(
                tenant=tenant,
                integration_id=big.pk,
                generation=1,
                e164=f"+3161{i:07d}",
                number_as_written=f"06-1{i:07d}",
                record_id=f"r{i}",
                record_type="contact",
                display_name=f"Caller {i}",
                fields={"Company": "Big BV", "Email": f"c{i}@big.example"},
            )
        )
        if len(batch) == 10_000:
            PhoneCacheEntry.objects.bulk_create(batch)
            batch.clear()
    PhoneCacheEntry.objects.bulk_create(batch)
    print(f"cache: {args.numbers:,} rows written in {time.perf_counter() - started:.1f} s")
    script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )

    # 3. Matching API latency, in-process (Django test client: full middleware, DRF, auth, JSON).
    client = Client()
    rng = random.Random(1)
    latencies = []
    hits = 0
    for _ in range(args.lookups):
        number = f"061{rng.randrange(args.numbers):07d}"
        t0 = time.perf_counter()
        response = client.get("/api/v1/match", {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
        latencies.append((time.perf_counter() - t0) * 1000)
        hits += bool(response.json()["matches"])
    latencies.sort()
    print(
        f"match API: {args.lookups} lookups among {args.numbers:,} numbers, {hits} hits; "
        f"p50 {statistics.median(latencies):.2f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.2f} ms, "
        f"{args.lookups / (sum(latencies) / 1000):,.0f} req/s on one core"
    )


if __name__ == "__main__":
    main()
