"""The agents' test world: Acme's agents Alice (extension 201) and Bob (202, and the sales DDI),
Globex's agent Carol (also extension 201), a Zammad sender per tenant, and Acme's address book
with Jan Jansen and a screen-pop script that opens automatically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from agents.models import AgentProfile
from agents.services import agent_invite
from integrations.models import Integration
from integrations.pbx.models import PbxSender
from integrations.pbx.services import pbx_sender_create
from integrations.presets import ScriptApplies
from integrations.services import integration_create, script_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.carddav_double import CardDavDouble, vcard
from tests.conftest import PASSWORD

SALES_DDI = "+31 20 555 0100"
JAN = "31201234567"  # Jan Jansen, as Zammad sends it (country code first, no "+")


@dataclass
class AgentsWorld:
    tenant: Tenant
    other_tenant: Tenant
    alice: AgentProfile
    bob: AgentProfile
    carol: AgentProfile
    zammad: PbxSender
    other_zammad: PbxSender
    crm: Integration


def make_agent(tenant: Tenant, username: str, name: str, **targets: Any) -> AgentProfile:
    agent = agent_invite(tenant=tenant, username=username, display_name=name, **targets)
    agent.user.set_password(PASSWORD)
    agent.user.save()
    return agent


def address_book(tenant: Tenant) -> Integration:
    double = CardDavDouble(
        {
            "jan.vcf": vcard(
                "jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV", email="jan@acme.test"
            )
        }
    )
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Sales CRM",
        settings_values=double.settings(),
        notification_fields=["Company", "Email"],
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    script_create(
        tenant=tenant,
        integration=integration,
        name="Screen pop",
        template="https://crm.example.test/contacts/$(Identifier)",
        applies=ScriptApplies.ON_MATCH,
        auto_open=True,
    )
    script_create(
        tenant=tenant,
        integration=None,
        name="Create contact",
        template="https://crm.example.test/new?phone=#(Caller number)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    return integration


def agents_world(tenant: Tenant, other_tenant: Tenant) -> AgentsWorld:
    return AgentsWorld(
        tenant=tenant,
        other_tenant=other_tenant,
        alice=make_agent(tenant, "alice", "Alice Agent", devices=["201"]),
        bob=make_agent(tenant, "bob", "Bob Agent", devices=["202"], ddis=[SALES_DDI]),
        carol=make_agent(other_tenant, "carol", "Carol Other", devices=["201"]),
        zammad=pbx_sender_create(tenant=tenant, format_slug="zammad", name="Office"),
        other_zammad=pbx_sender_create(tenant=other_tenant, format_slug="zammad", name="Office"),
        crm=address_book(tenant),
    )


def zammad_url(sender: PbxSender) -> str:
    return f"/pbx/zammad/{sender.token}/"


def zammad_body(event: str, call_id: str, *, caller: str = JAN, to: str = "201", **extra: Any) -> str:
    """A Zammad generic CTI event as JSON (https://docs.zammad.org/en/latest/api/generic-cti/)."""
    body = {"event": event, "from": caller, "to": to, "direction": "in", "callId": call_id, **extra}
    return json.dumps(body)
