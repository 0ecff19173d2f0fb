"""manage.py integration_sync: sync one integration's phone cache now, in this process."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.models import Integration, SyncMode, SyncTrigger
from integrations.sync import phone_cache_sync


class Command(BaseCommand):
    help = (
        "Sync one integration's phone cache now (runs in this process, not on a worker). "
        "Exits non-zero when the sync fails, is held (the CRM returned far fewer numbers) or is busy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("integration_id", type=int)
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Apply only the records changed since the last successful sync "
            "(connectors that can list changes).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not Integration.objects.filter(pk=options["integration_id"]).exists():
            raise CommandError(f"No integration {options['integration_id']}.")
        mode = SyncMode.INCREMENTAL if options["incremental"] else SyncMode.FULL
        result = phone_cache_sync(
            integration_id=options["integration_id"], trigger=SyncTrigger.CLI, mode=mode
        )
        if result.status == "busy":
            raise CommandError("A sync of this integration is already running.")
        if result.status == "failed":
            raise CommandError(f"Sync failed, the old phone cache is kept: {result.error}")
        if result.status == "held":
            raise CommandError(f"Sync held: {result.error}")
        self.stdout.write(
            f"Synced: {result.numbers} phone numbers from {result.records} records; {result.skipped} skipped."
        )
