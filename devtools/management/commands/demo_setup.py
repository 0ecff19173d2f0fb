"""manage.py demo_setup: the demo tenant `make run` shows a newcomer.

Creates (or updates) the tenant "Demo BV" with a tenant admin, uploads the demo address book to a
CardDAV server, adds a CardDAV integration for it and the manual's Google search script, syncs the
phone cache in this process, and prints a fresh API key (earlier demo keys are revoked).
"""

import json
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from devtools.demo_contacts import demo_vcards, upload_address_book
from integrations.models import Integration, Script
from integrations.presets import ScriptApplies
from integrations.registry import get_preset
from integrations.services import integration_create, integration_settings_clean, script_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create, api_key_revoke, tenant_create

DEMO_TENANT = "Demo BV"
DEMO_KEY_NAME = "Demo PBX (make run)"


class Command(BaseCommand):
    help = "Create or refresh the demo tenant, its CardDAV integration and phone cache; print an API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--carddav-url", required=True, help="address book URL on the demo CardDAV server"
        )
        parser.add_argument("--carddav-username", default="demo")
        parser.add_argument("--carddav-password", default="demo-carddav")
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--admin-password", default="admin-demo-2026")
        parser.add_argument("--key-file", default="", help="also write the API key to this file")

    def handle(self, *args: Any, **options: Any) -> None:
        auth = (options["carddav_username"], options["carddav_password"])
        with httpx.Client(timeout=30) as client:
            uploaded = upload_address_book(
                client, url=options["carddav_url"], contacts=demo_vcards(), auth=auth
            )
        self.stdout.write(f"Uploaded {uploaded} demo contacts to {options['carddav_url']}")

        with transaction.atomic():
            tenant = Tenant.objects.filter(name=DEMO_TENANT).first()
            if tenant is None:
                tenant, _ = tenant_create(
                    name=DEMO_TENANT,
                    country="NL",
                    time_zone="Europe/Amsterdam",
                    admin_username=options["admin_username"],
                    admin_password=options["admin_password"],
                )
            settings = {"url": options["carddav_url"], "username": auth[0], "password": auth[1]}
            integration = Integration.objects.filter(tenant=tenant, preset="carddav").first()
            if integration is None:
                integration = integration_create(
                    tenant=tenant,
                    preset_slug="carddav",
                    name="Demo address book",
                    settings_values=settings,
                    notification_fields=["Company", "Title", "Email"],
                    start_sync=False,
                )
            else:  # the demo server may listen on another port than last time
                plain, secrets = integration_settings_clean(preset=get_preset("carddav"), values=settings)
                Integration.objects.filter(pk=integration.pk).update(settings=plain, secrets=secrets)
            if not Script.objects.filter(tenant=tenant, integration=None).exists():
                script_create(
                    tenant=tenant,
                    integration=None,
                    name="Google",
                    template="https://www.google.nl?q=#(Caller number)",
                    applies=ScriptApplies.ALWAYS,
                )
            # Revoked one by one (model saves), so the audit log records it; a web process that
            # remembers the old key refuses it within API_KEY_CACHE_SECONDS
            # (integrations.api_key_cache).
            for old in TenantAPIKey.objects.filter(tenant=tenant, name=DEMO_KEY_NAME, revoked=False):
                api_key_revoke(tenant=tenant, prefix=old.prefix)
            _, key = api_key_create(tenant=tenant, name=DEMO_KEY_NAME)

        result = phone_cache_sync(integration_id=integration.pk)
        if result.status != "ok":
            raise CommandError(f"Demo sync failed: {result.error or result.status}")
        self.stdout.write(
            f"Synced {result.numbers} phone numbers from {result.records} contacts "
            f"({result.skipped} skipped)."
        )
        if options["key_file"]:
            with open(options["key_file"], "w", encoding="utf-8") as f:
                f.write(key)
        self.stdout.write(json.dumps({"tenant": tenant.name, "api_key": key}))
