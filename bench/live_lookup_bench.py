"""Benchmark: match-API latency with a cached integration vs a live-lookup one. Prints figures;
asserts nothing.

    .venv/bin/python bench/live_lookup_bench.py [--lookups 300] [--numbers 20000]

Three tenants' answers are timed in-process (Django test client: middleware, DRF, auth, JSON):
a cached integration (one query on the phone cache), a live integration whose per-number cache
is cold (each call asks a local JSON search server on 127.0.0.1 over HTTP), and the same live
integration with the per-number cache warm. Uses a throw-away SQLite file (or DATABASE_URL).
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
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain http
# The call log written as each response closes, in this thread: the throw-away database is
# SQLite's shared in-memory one, which a second (writer) thread would find locked.
os.environ.setdefault("CALL_JOURNAL_BATCH_SECONDS", "0")
os.environ.setdefault("CACHE_URL", "locmemcache://")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=20_000, help="numbers in the cache and the CRM")
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _percentiles(label: str, latencies: list[float], hits: int) -> None:
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"{label:<28} {len(latencies)} calls, {hits} matched; "
        f"p50 {statistics.median(latencies):7.2f} ms  p95 {p95:7.2f} ms"
    )


def run(args: argparse.Namespace) -> None:
    from integrations.models import Integration, LookupMode, PhoneCacheEntry
    from integrations.services import integration_create, integration_set_lookup_mode
    from tenants.services import api_key_create, tenant_create
    from tests.carddav_double import CardDavDouble
    from tests.live_lookup_server import SearchApi, search_api_server

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the CRM is a local server on 127.0.0.1
    backend = settings.CACHES["default"]["BACKEND"]
    print(f"database: {connection.vendor}  python {sys.version.split()[0]}  cache: {backend}")
    numbers = [f"+3161{i:07d}" for i in range(args.numbers)]

    cached_tenant, _ = tenant_create(name="Cached", admin_username="cached", admin_password="bench-password")
    _, cached_key = api_key_create(tenant=cached_tenant, name="bench")
    book = integration_create(
        tenant=cached_tenant,
        preset_slug="carddav",
        name="Book",
        settings_values=CardDavDouble({}).settings(),
        start_sync=False,
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    PhoneCacheEntry.objects.bulk_create(
        [
            PhoneCacheEntry(
                tenant=cached_tenant,
                integration_id=book.pk,
                generation=1,
                e164=number,
                number_as_written=number,
                record_id=f"r{i}",
                record_type="contact",
                display_name=f"Caller {i}",
                fields={"Company": "Big BV"},
            )
            for i, number in enumerate(numbers)
        ],
        batch_size=5_000,
    )

    contacts = [
        {"id": f"r{i}", "name": f"Caller {i}", "company": "Big BV", "phones": [{"number": n}]}
        for i, n in enumerate(numbers)
    ]
    with search_api_server(SearchApi(contacts=contacts)) as crm:
        live_tenant, _ = tenant_create(name="Live", admin_username="live", admin_password="bench-password")
        _, live_key = api_key_create(tenant=live_tenant, name="bench")
        live = integration_create(
            tenant=live_tenant,
            preset_slug="rest_json",
            name="Live CRM",
            settings_values={
                "base_url": crm.base_url,
                "list_path": "/contacts",
                "records_path": "results",
                "phone_paths": "phones[*].number",
                "extra_fields": "Company=company",
                "lookup_path": "/search?phone={number}",
            },
            start_sync=False,
        )
        integration_set_lookup_mode(tenant=live_tenant, integration=live, mode=LookupMode.LIVE)

        client = Client()
        rng = random.Random(1)
        sample = [rng.choice(numbers) for _ in range(args.lookups)]

        def measure(key: str, *, clear: bool) -> tuple[list[float], int]:
            latencies, hits = [], 0
            for number in sample:
                if clear:
                    cache.clear()
                t0 = time.perf_counter()
                response = client.get(
                    "/api/v1/match", {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}"
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                hits += bool(response.json()["matches"])
            return latencies, hits

        print(f"{args.numbers:,} numbers in the phone cache and in the CRM; {args.lookups} calls each")
        _percentiles("cached integration", *measure(cached_key, clear=True))
        _percentiles("live, per-number cache cold", *measure(live_key, clear=True))
        cache.clear()
        measure(live_key, clear=False)  # warm every sampled number
        _percentiles("live, per-number cache warm", *measure(live_key, clear=False))
        print(f"CRM search requests: {crm.hits}")


if __name__ == "__main__":
    main()
