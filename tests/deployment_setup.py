"""Create the deployment test's tenants, API keys and integrations: `python -m tests.deployment_setup`.

Run by tests/test_deployment.py as a child process on the production settings
(`DJANGO_SETTINGS_MODULE=configurator.settings` and the environment the test gives), after
`manage.py migrate`. Reads one JSON document on stdin:
`{"tenants": [{"name": str, "books": [{"book": int, "settings": {...}}]}]}` (settings of a
"rest_json" integration), creates every tenant with an API key and one integration per book
(no sync queued; the nightly sync moved a day ahead so that nothing is due yet) and prints one
JSON line: `{"tenants": [{"id": int, "key": str, "integrations": {"<book>": int}}]}`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys


def main() -> None:
    """Create what stdin describes and print the ids and keys."""
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    # A throw-away database: a fast password hash for the tenant admins (production's PBKDF2 would
    # cost seconds here and proves nothing for this test).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    from integrations.models import Integration
    from integrations.services import integration_create
    from tenants.services import api_key_create, tenant_create

    spec = json.load(sys.stdin)
    out = []
    for number, described in enumerate(spec["tenants"]):
        tenant, _ = tenant_create(
            name=described["name"],
            admin_username=f"admin{number}",
            admin_password="deployment-admin-password",
        )
        _, key = api_key_create(tenant=tenant, name="pbx")
        integrations = {}
        for book in described["books"]:
            integration = integration_create(
                tenant=tenant,
                preset_slug="rest_json",
                name=f"Book {book['book']}",
                settings_values=book["settings"],
                start_sync=False,
            )
            integrations[str(book["book"])] = integration.pk
        out.append({"id": tenant.pk, "key": key, "integrations": integrations})
    Integration.objects.update(next_sync_at=timezone.now() + dt.timedelta(days=1))
    print(json.dumps({"tenants": out}), flush=True)


if __name__ == "__main__":
    main()
