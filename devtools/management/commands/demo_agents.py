"""manage.py demo_agents: the demo agent `make run` shows a newcomer (after `demo_setup`).

Creates (or refreshes) the agent "agent" of the demo tenant on extension 201 with a known
password, and a Zammad PBX sender whose endpoint the printed `curl` line posts a call to; writes
that endpoint's path to `--path-file`.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from agents.models import AgentProfile
from agents.services import agent_invite, agent_targets_set
from devtools.management.commands.demo_setup import DEMO_TENANT
from integrations.pbx.models import PbxSender
from integrations.pbx.services import pbx_sender_create
from tenants.models import Tenant

DEMO_SENDER = "Demo PBX (make run)"


class Command(BaseCommand):
    help = "Create or refresh the demo tenant's agent (extension 201) and a Zammad sender for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", default=DEMO_TENANT)
        parser.add_argument("--username", default="agent")
        parser.add_argument("--password", default="agent-demo-2026")
        parser.add_argument("--extension", default="201")
        parser.add_argument("--path-file", default="", help="write the Zammad endpoint's path here")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(name=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}: run demo_setup first.")
        agent = AgentProfile.objects.filter(tenant=tenant, user__username=options["username"]).first()
        if agent is None:
            agent = agent_invite(
                tenant=tenant,
                username=options["username"],
                display_name="Anna Agent",
                devices=[options["extension"]],
            )
        else:
            agent_targets_set(tenant=tenant, agent_id=agent.pk, devices=[options["extension"]])
        agent.user.set_password(options["password"])
        agent.user.is_active = True
        agent.user.save()
        sender = PbxSender.objects.filter(tenant=tenant, name=DEMO_SENDER, format="zammad").first()
        if sender is None:
            sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name=DEMO_SENDER)
        path = f"/pbx/zammad/{sender.token}/"
        if options["path_file"]:
            with open(options["path_file"], "w", encoding="utf-8") as f:
                f.write(path)
        self.stdout.write(
            f"Demo agent {options['username']} on extension {options['extension']}; Zammad events: {path}"
        )
