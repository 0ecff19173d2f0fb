"""manage.py apikey_create: create a matching-API key for a tenant; the key is printed once."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from configurator.audit import AuditedCommand
from tenants.models import Tenant
from tenants.services import api_key_create


class Command(AuditedCommand):
    help = "Create an API key for the matching API. The key is printed once and stored hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant name or id")
        parser.add_argument("--name", required=True, help="what uses the key, e.g. the PBX's name")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_name_or_id(options["tenant"])
        try:
            _, key = api_key_create(tenant=tenant, name=options["name"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(key)


def tenant_by_name_or_id(value: str) -> Tenant:
    """The tenant named `value` (or with id `value`); raises CommandError if there is none."""
    tenant = Tenant.objects.filter(name=value).first()
    if tenant is None and value.isdigit():
        tenant = Tenant.objects.filter(pk=int(value)).first()
    if tenant is None:
        raise CommandError(f"No tenant named or numbered {value!r}.")
    return tenant
