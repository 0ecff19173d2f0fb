"""manage.py match: run a match for a tenant and print the same JSON as the matching API."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.matching import CALL_PARAMETERS, CallInputError, call_from_params, match_call
from tenants.management.commands.apikey_create import tenant_by_name_or_id


class Command(BaseCommand):
    help = "Match a caller number for a tenant and print the matching API's JSON answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant name or id")
        parser.add_argument("caller_number")
        for name in CALL_PARAMETERS:
            if name != "caller_number":
                parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_name_or_id(options["tenant"])
        params = {name: options[name] for name in CALL_PARAMETERS if options.get(name) is not None}
        try:
            call = call_from_params(tenant=tenant, params=params)
        except CallInputError as exc:
            raise CommandError(f"Bad call parameters: {exc}") from exc
        self.stdout.write(json.dumps(match_call(tenant=tenant, call=call), indent=2, ensure_ascii=False))
