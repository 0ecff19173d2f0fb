"""manage.py integration_add: add an integration from a preset with its settings."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from configurator.audit import AuditedCommand
from integrations.connectors.base import ConnectorError
from integrations.registry import PRESETS, UnknownPresetError, get_preset
from integrations.services import (
    integration_create,
    integration_set_lookup_mode,
    integration_settings_clean,
    integration_test_connection,
)
from tenants.management.commands.apikey_create import tenant_by_name_or_id


class Command(AuditedCommand):
    help = "Add an integration of a preset to a tenant, e.g. --preset carddav --setting url=https://…"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant name or id")
        parser.add_argument("--preset", required=True, help=f"one of: {', '.join(p.slug for p in PRESETS)}")
        parser.add_argument("--name", default="", help="integration name (default: the preset's name)")
        parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--no-test", action="store_true", help="skip the connection test")
        parser.add_argument(
            "--lookup",
            choices=("cached", "live"),
            default="cached",
            help="match against the phone cache (default) or ask the CRM live on each call "
            "(presets that can search by number; no sync is queued then)",
        )
        parser.add_argument(
            "--no-sync",
            action="store_true",
            help="do not queue the first sync now (the dispatcher still runs it at its next round)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_name_or_id(options["tenant"])
        try:
            preset = get_preset(options["preset"])
        except UnknownPresetError as exc:
            raise CommandError(str(exc)) from exc
        values: dict[str, str] = {}
        for item in options["setting"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--setting {item!r}: write NAME=VALUE.")
            values[name.strip()] = value
        try:
            # Checked before the connection test, so a malformed or refused URL is reported as
            # such and never reaches the connector.
            plain, secrets = integration_settings_clean(preset=preset, values=values)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not options["no_test"]:
            try:
                integration_test_connection(preset=preset, settings_values={**plain, **secrets})
            except ConnectorError as exc:
                raise CommandError(f"Connection test failed: {exc.message}") from exc
        try:
            with transaction.atomic():  # a refused lookup mode leaves nothing behind
                integration = integration_create(
                    tenant=tenant,
                    preset_slug=preset.slug,
                    name=options["name"],
                    settings_values=values,
                    start_sync=not options["no_sync"] and options["lookup"] == "cached",
                )
                if options["lookup"] != "cached":
                    integration_set_lookup_mode(
                        tenant=tenant, integration=integration, mode=options["lookup"]
                    )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created integration {integration.pk} {integration.name!r} ({preset.name}).")
