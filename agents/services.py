"""Writes on agents and their targets; every function takes the tenant explicitly (another tenant's
agent id raises `AgentProfile.DoesNotExist`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from agents.live import agent_disconnect
from agents.models import AgentProfile, AgentTarget, TargetKind
from agents.targets import target_key
from tenants.models import Tenant, TenantMembership

# At most this many targets of each kind per agent.
MAX_TARGETS = 50


def _targets(
    tenant: Tenant, kind: str, values: Iterable[str], errors: dict[str, list[str]]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        text = value.strip()[:100]
        if not text:
            continue
        try:
            out.setdefault(target_key(kind, text, tenant=tenant), text)
        except ValueError as exc:
            errors.setdefault(f"{kind}s", []).append(str(exc))
    if len(out) > MAX_TARGETS:
        errors.setdefault(f"{kind}s", []).append(_("At most %(count)s per agent.") % {"count": MAX_TARGETS})
    return out


@transaction.atomic
def agent_targets_set(
    *,
    tenant: Tenant,
    agent_id: int,
    devices: Iterable[str],
    ddis: Iterable[str] = (),
    queues: Iterable[str] = (),
) -> AgentProfile:
    """Replace the agent's devices (numbers or names as the PBX sends them), DDIs and queues.

    Raises ValidationError ({"devices"|"ddis"|"queues": [...]}) for a DDI that is not a number or
    more than `MAX_TARGETS` of a kind; `AgentProfile.DoesNotExist` for another tenant's agent.
    """
    agent = AgentProfile.objects.select_for_update().get(tenant=tenant, pk=agent_id)
    errors: dict[str, list[str]] = {}
    wanted = {
        TargetKind.DEVICE: _targets(tenant, TargetKind.DEVICE, devices, errors),
        TargetKind.DDI: _targets(tenant, TargetKind.DDI, ddis, errors),
        TargetKind.QUEUE: _targets(tenant, TargetKind.QUEUE, queues, errors),
    }
    if errors:
        raise ValidationError(errors)
    agent.targets.all().delete()
    AgentTarget.objects.bulk_create(
        AgentTarget(tenant=tenant, agent=agent, kind=kind, key=key, value=value)
        for kind, keyed in wanted.items()
        for key, value in keyed.items()
    )
    return agent


@transaction.atomic
def agent_invite(
    *,
    tenant: Tenant,
    username: str,
    display_name: str,
    email: str = "",
    devices: Iterable[str] = (),
    ddis: Iterable[str] = (),
    queues: Iterable[str] = (),
) -> AgentProfile:
    """Create an agent of `tenant`: a user without the tenant-admin privilege and without a
    password (they set it with `agent_invitation_path`), and their targets.

    Raises ValidationError for a taken user name or bad targets (see `agent_targets_set`).
    """
    username = username.strip()
    user_model = get_user_model()
    if not username:
        raise ValidationError({"username": _("Enter a user name.")})
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("The user name “%(name)s” is taken.") % {"name": username[:40]}})
    user = user_model.objects.create_user(username=username, email=email.strip(), password=None)
    TenantMembership.objects.create(user=user, tenant=tenant, is_tenant_admin=False)
    agent = AgentProfile.objects.create(
        user=user, tenant=tenant, display_name=display_name.strip()[:100] or username
    )
    agent_targets_set(tenant=tenant, agent_id=agent.pk, devices=devices, ddis=ddis, queues=queues)
    return agent


def agent_rename(*, tenant: Tenant, agent_id: int, display_name: str) -> AgentProfile:
    """Change the name colleagues see; raises ValidationError for an empty name."""
    name = display_name.strip()[:100]
    if not name:
        raise ValidationError({"display_name": _("Enter the name colleagues see.")})
    agent = AgentProfile.objects.get(tenant=tenant, pk=agent_id)
    agent.display_name = name
    agent.save(update_fields=["display_name"])
    return agent


def agent_invitation_path(*, tenant: Tenant, agent_id: int) -> tuple[str, str]:
    """(uidb64, token) of a link where the agent sets their password (Django's password-reset
    token: valid `PASSWORD_RESET_TIMEOUT` seconds, and spent once the password is set)."""
    agent = AgentProfile.objects.select_related("user").get(tenant=tenant, pk=agent_id)
    return urlsafe_base64_encode(force_bytes(agent.user.pk)), default_token_generator.make_token(agent.user)


def agent_set_active(*, tenant: Tenant, agent_id: int, active: bool) -> AgentProfile:
    """Let the agent sign in (again), or not; deactivating closes their open pages.

    A tenant admin's own account is never deactivated here (their profile only).
    """
    agent = AgentProfile.objects.select_related("user").get(tenant=tenant, pk=agent_id)
    membership = TenantMembership.objects.filter(user_id=agent.user_id, tenant=tenant).first()
    if membership is not None and membership.is_tenant_admin:
        raise ValidationError(_("A tenant admin's account is managed by your provider."))
    if agent.user.is_active != active:
        agent.user.is_active = active
        agent.user.save(update_fields=["is_active"])
    if not active:
        agent_disconnect(agent_id=agent.pk)
    return agent


@transaction.atomic
def agent_delete(*, tenant: Tenant, agent_id: int) -> None:
    """Remove the agent: their account too, unless it is a tenant admin's (then only the profile)."""
    agent = AgentProfile.objects.select_related("user").get(tenant=tenant, pk=agent_id)
    membership = TenantMembership.objects.filter(user_id=agent.user_id, tenant=tenant).first()
    agent_id = agent.pk
    if membership is not None and not membership.is_tenant_admin:
        agent.user.delete()
    else:
        agent.delete()
    transaction.on_commit(lambda: agent_disconnect(agent_id=agent_id))
