"""manage.py tenant_create: a provider creates a tenant with its first tenant admin."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from configurator.audit import AuditedCommand
from tenants.services import tenant_create


class Command(AuditedCommand):
    help = "Create a tenant and its first tenant admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--country", default="NL", help="ISO 3166 country for numbers without country code"
        )
        parser.add_argument("--time-zone", default="Europe/Amsterdam")
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant, user = tenant_create(
                name=options["name"],
                country=options["country"],
                time_zone=options["time_zone"],
                admin_username=options["admin_username"],
                admin_password=options["admin_password"],
                admin_email=options["admin_email"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created tenant {tenant.pk} {tenant.name!r} with tenant admin {user.username!r}.")
