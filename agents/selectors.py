"""Reads of agents, their targets and their calls; every function takes the tenant or agent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from agents.live import agent_calls
from agents.models import AgentCall, AgentProfile, CallState
from tenants.models import Tenant

# At most this many calls are listed on an agent's page.
MAX_CALLS_LISTED = 200


def agent_for_user(*, user: AbstractBaseUser | AnonymousUser | None) -> AgentProfile | None:
    """The active agent profile of `user` (with its tenant and user), or None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return AgentProfile.objects.select_related("tenant", "user").filter(user_id=user.pk).first()


def tenant_midnight(*, tenant: Tenant, now: dt.datetime | None = None) -> dt.datetime:
    """The start of today in the tenant's time zone (aware)."""
    local = (now or timezone.now()).astimezone(tenant.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def agent_calls_today(*, agent: AgentProfile) -> list[AgentCall]:
    """The agent's calls of today (the tenant's day), newest first, at most `MAX_CALLS_LISTED`."""
    since = tenant_midnight(tenant=agent.tenant)
    return list(
        agent_calls(agent=agent)
        .filter(started_at__gte=since)
        .select_related("tenant", "answered_by", "called_back_by")
        .order_by("-started_at", "-id")[:MAX_CALLS_LISTED]
    )


def agent_calls_today_for_admin(*, tenant: Tenant, agent: AgentProfile) -> list[AgentCall]:
    """What the admin sees of one agent today: the calls they answered and those offered to them
    that nobody answered (missed), newest first, at most `MAX_CALLS_LISTED`."""
    since = tenant_midnight(tenant=tenant)
    return list(
        AgentCall.objects.filter(tenant=tenant, started_at__gte=since)
        .filter(Q(answered_by=agent) | Q(offered_to=agent, state=CallState.MISSED))
        .select_related("answered_by", "called_back_by")
        .distinct()
        .order_by("-started_at", "-id")[:MAX_CALLS_LISTED]
    )


def agent_list(*, tenant: Tenant) -> QuerySet[AgentProfile]:
    """The tenant's agents with their user and targets."""
    return AgentProfile.objects.filter(tenant=tenant).select_related("user").prefetch_related("targets")


@dataclass(frozen=True)
class AgentDay:
    """An agent's calls today: answered by them, missed (offered, nobody answered), of which not
    yet called back."""

    agent: AgentProfile
    answered: int
    missed: int
    missed_open: int


def agent_day_counts(*, tenant: Tenant, now: dt.datetime | None = None) -> list[AgentDay]:
    """Per agent of `tenant`, today's answered and missed calls (the tenant's day)."""
    since = tenant_midnight(tenant=tenant, now=now)
    rows = agent_list(tenant=tenant).annotate(
        n_answered=Count(
            "answered_calls",
            filter=Q(answered_calls__started_at__gte=since, answered_calls__tenant=tenant),
            distinct=True,
        ),
        n_missed=Count(
            "offered_calls",
            filter=Q(
                offered_calls__started_at__gte=since,
                offered_calls__state=CallState.MISSED,
                offered_calls__tenant=tenant,
            ),
            distinct=True,
        ),
        n_missed_open=Count(
            "offered_calls",
            filter=Q(
                offered_calls__started_at__gte=since,
                offered_calls__state=CallState.MISSED,
                offered_calls__called_back_at=None,
                offered_calls__tenant=tenant,
            ),
            distinct=True,
        ),
    )
    return [AgentDay(r, r.n_answered, r.n_missed, r.n_missed_open) for r in rows]
