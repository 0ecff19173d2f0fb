"""Agents, the numbers and queues they answer, and the calls shown to them.

An agent is a user of one tenant without the tenant-admin privilege (`TenantMembership` with
`is_tenant_admin` False) who has an `AgentProfile`: the configurator refuses them, the live page
(`/agent/`) lets them in. A tenant admin may have a profile too and then sees both.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from tenants.models import Tenant


class AgentProfile(models.Model):
    """An agent of `tenant`: the user who signs in, and the name colleagues see."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    display_name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return f"{self.display_name} @ {self.tenant}"


class TargetKind(models.TextChoices):
    """What a call is matched by: the device that rings, the number dialled, or the queue."""

    DEVICE = "device", gettext_lazy("Device / extension")
    DDI = "ddi", gettext_lazy("DDI (number dialled)")
    QUEUE = "queue", gettext_lazy("Queue")


class AgentTarget(models.Model):
    """One device number or name, DDI or queue whose calls `agent` is shown.

    `value` is what the admin typed; `key` its comparable form (`agents.routing_keys.target_key`):
    a DDI as E.164, a short extension as its digits, a name or queue in lower case.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=8, choices=TargetKind.choices)
    value = models.CharField(max_length=100)
    key = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "kind", "key"], name="agents_target_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "key"], name="agents_target_lookup")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class CallState(models.TextChoices):
    """Where a call is: ringing, answered, ended after an answer, or missed (ended unanswered)."""

    RINGING = "ringing", gettext_lazy("Ringing")
    ANSWERED = "answered", gettext_lazy("Answered")
    ENDED = "ended", gettext_lazy("Ended")
    MISSED = "missed", gettext_lazy("Missed")


class AgentCall(models.Model):
    """One incoming call as the agents it was offered to see it.

    `source` says who reported it: "pbx:<sender id>" or "api"; with `call_id` it identifies the
    call for its later events. `answer` is the match (`integrations.matching.match_call`'s JSON)
    the card is drawn from. A missed call stays highlighted until `called_back_at` is set.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=40)
    call_id = models.CharField(max_length=255, blank=True)
    caller_number = models.CharField(max_length=64, blank=True)
    caller_e164 = models.CharField(max_length=20, blank=True)
    called_number = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.RINGING)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_calls"
    )
    called_back_at = models.DateTimeField(null=True, blank=True)
    called_back_by = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.JSONField(null=True, blank=True)
    offered_to = models.ManyToManyField(AgentProfile, related_name="offered_calls", blank=True)

    class Meta:
        constraints = [
            # One row per call of a sender; the match API's calls without an id are each their own.
            models.UniqueConstraint(
                fields=["tenant", "source", "call_id"], condition=~Q(call_id=""), name="agents_call_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "started_at"], name="agents_call_day"),
            models.Index(fields=["tenant", "caller_e164", "state"], name="agents_call_callback"),
        ]

    def __str__(self) -> str:
        return f"{self.caller_number or 'unknown'} → {self.called_number} ({self.state})"
