"""Benchmark: PBX event endpoints, events/s and latency per format. Prints figures; asserts nothing.

    .venv/bin/python bench/pbx_events_bench.py [--numbers 50000] [--events 1000]

Each format posts incoming-call events (the ones that are matched) with random callers among
`--numbers` cached numbers, signed where the format signs (Placetel's HMAC, sipgate's RSA with a
throw-away key pair), through the Django test client (full middleware; the client's signing is
not timed). Uses a throw-away SQLite
file (or the database in DATABASE_URL, in a fresh test database).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configurator.settings")
_tmp = tempfile.mkdtemp(prefix="cti-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The call log written as each response closes, in this thread: the throw-away database is
# SQLite's shared in-memory one, which a second (writer) thread would find locked.
os.environ.setdefault("CALL_JOURNAL_BATCH_SECONDS", "0")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=50_000, help="cached numbers to look up among")
    parser.add_argument("--events", type=int, default=1_000, help="incoming-call events per format")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


Request = tuple[bytes, str, dict[str, Any]]


def run(args: argparse.Namespace) -> None:
    from integrations.models import Integration, PhoneCacheEntry
    from integrations.pbx.placetel import placetel_signature
    from integrations.pbx.services import pbx_sender_create
    from integrations.services import integration_create
    from tenants.services import tenant_create

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.PBX_SIPGATE_PUBLIC_KEY = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    print(f"database: {connection.vendor}  python {sys.version.split()[0]}")
    tenant, _ = tenant_create(name="Bench", admin_username="bench", admin_password="bench-password")
    book = integration_create(
        tenant=tenant, preset_slug="phonebook_upload", name="Book", settings_values={}, start_sync=False
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    rows = [
        PhoneCacheEntry(
            tenant=tenant,
            integration_id=book.pk,
            generation=1,
            e164=f"+3161{i:07d}",
            number_as_written=f"06-1{i:07d}",
            record_id=f"r{i}",
            record_type="contact",
            display_name=f"Caller {i}",
            fields={},
        )
        for i in range(args.numbers)
    ]
    PhoneCacheEntry.objects.bulk_create(rows, batch_size=10_000)

    senders = {
        slug: pbx_sender_create(tenant=tenant, format_slug=slug, name=slug)
        for slug in ("zammad", "placetel", "sipgate", "anywhere365", "cloudcti")
    }
    form = "application/x-www-form-urlencoded"

    def zammad(n: int, call: str) -> Request:
        body = f"event=newCall&from=3161{n:07d}&to=31201234567&direction=in&callId={call}&user[]=Alice"
        return body.encode(), form, {}

    def placetel(n: int, call: str) -> Request:
        body = f"event=IncomingCall&from=061{n:07d}&to=0201234567&call_id={call}".encode()
        return body, form, {"HTTP_X_PLACETEL_SIGNATURE": placetel_signature(senders["placetel"].secret, body)}

    def sipgate(n: int, call: str) -> Request:
        body = f"event=newCall&from=3161{n:07d}&to=31201234567&direction=in&callId={call}".encode()
        signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
        return body, form, {"HTTP_X_SIPGATE_SIGNATURE": signature}

    def anywhere365(n: int, call: str) -> Request:
        payload = {"SubscriptionId": "s", "SessionType": 0, "ImAddress": "sip:a@b.example", "eventType": 3,
                   "callId": call, "ani": f"+3161{n:07d}"}  # fmt: skip
        return json.dumps(payload).encode(), "application/json", {}

    def cloudcti(n: int, call: str) -> Request:
        payload = {"CallId": call, "CallerNumber": f"+3161{n:07d}", "CalledNumber": "+31201234567",
                   "Direction": "inbound", "State": "ringing", "StartTime": "2026-12-01T09:15Z"}  # fmt: skip
        return json.dumps(payload).encode(), "application/json", {}

    builders: dict[str, Callable[[int, str], Request]] = {
        "zammad": zammad,
        "placetel": placetel,
        "sipgate": sipgate,
        "anywhere365": anywhere365,
        "cloudcti": cloudcti,
    }
    client = Client()
    rng = random.Random(1)
    for slug, build in builders.items():
        sender = senders[slug]
        url = f"/pbx/{slug}/{sender.token}/"
        requests = [build(rng.randrange(args.numbers), f"{slug}-{i}") for i in range(args.events)]
        latencies = []
        statuses: dict[int, int] = {}
        hits = 0
        for body, content_type, headers in requests:
            t0 = time.perf_counter()
            response = client.generic("POST", url, body, content_type=content_type, **headers)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response["Content-Type"] == "application/json":
                hits += bool(response.json().get("matches"))
        latencies.sort()
        rate = args.events / (sum(latencies) / 1000)
        print(
            f"{slug:12s} {args.events} incoming events among {args.numbers:,} numbers: "
            f"{rate:,.0f} events/s, p50 {statistics.median(latencies):.2f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)]:.2f} ms, statuses {statuses}"
            + (f", {hits} matched" if hits else "")
        )


if __name__ == "__main__":
    main()
