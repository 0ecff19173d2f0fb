"""A web process with a read replica, for tests/test_replica.py: `python -m tests.replica_process`.

The environment gives the primary (`CTI_TEST_DATABASE_URL`) and the replica
(`CTI_TEST_DATABASE_REPLICA_URL`, `CTI_TEST_REPLICA_MAX_LAG_SECONDS`). On start it migrates the
primary, creates a tenant with an API key and one cached number, waits until the replica has
them, and prints `ready`. Then each stdin line "match" is answered with one JSON line
`{"matches": [titles], "queries": {"default": n, "replica": m}}` for GET /api/v1/match.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from typing import Any


def main() -> None:
    """Set up, then answer "match" lines until stdin closes."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "configurator.settings_test"
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from integrations.models import Integration, PhoneCacheEntry
    from integrations.services import integration_create
    from tenants.models import Tenant
    from tenants.services import api_key_create, tenant_create

    call_command("migrate", verbosity=0)
    tenant, _ = tenant_create(name="Replica", admin_username="replica", admin_password="replica-password-1")
    _, key = api_key_create(tenant=tenant, name="pbx")
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        settings_values={"url": "https://dav.example/book/", "username": "u", "password": "p"},
        start_sync=False,
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration_id=book.pk,
        generation=1,
        e164="+31201234567",
        number_as_written="020 123 4567",
        record_id="jan-1",
        record_type="contact",
        display_name="Jan Jansen",
        fields={},
    )
    deadline = time.monotonic() + 60
    while not Tenant.objects.using("replica").filter(pk=tenant.pk).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the replica never received the data")
        time.sleep(0.1)
    print("ready", flush=True)

    handler = WSGIHandler()
    for _ in sys.stdin:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v1/match",
            "QUERY_STRING": "caller_number=0201234567",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "HTTP_AUTHORIZATION": f"Api-Key {key}",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            return None

        with (
            CaptureQueriesContext(connections["default"]) as primary,
            CaptureQueriesContext(connections["replica"]) as replica,
        ):
            body = json.loads(b"".join(handler(environ, start_response)))

        def cache_queries(queries: CaptureQueriesContext) -> int:
            return sum("integrations_phonecacheentry" in q["sql"] for q in queries.captured_queries)

        out = {
            "matches": [m["notification"]["title"] for m in body.get("matches", [])],
            "queries": {"default": cache_queries(primary), "replica": cache_queries(replica)},
        }
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
