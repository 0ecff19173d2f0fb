"""The agent's live page (`/agent/`), where an invited agent sets their password, and the tenant
admin's agents screen (`/agents/`).

The live page is for agents only (`agent_required`); the agents screen, like every configuration
page, for tenant admins only (`configurator.frame.tenant_admin_required`), so an agent is refused
there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from agents.forms import AgentInviteForm, AgentSetPasswordForm, AgentTargetsForm, split_lines
from agents.models import AgentProfile, TargetKind
from agents.selectors import agent_calls_today_for_admin, agent_day_counts, agent_for_user, agent_list
from agents.services import (
    agent_delete,
    agent_invitation_path,
    agent_invite,
    agent_rename,
    agent_set_active,
    agent_targets_set,
)
from configurator.frame import render_page, tenant_admin_required
from tenants.models import Tenant

P = ParamSpec("P")

NOT_AN_AGENT_MESSAGE = (
    "This page is for agents: ask your tenant admin to add you as an agent on the Agents screen."
)


def agent_required(
    view: Callable[Concatenate[HttpRequest, AgentProfile, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Let only signed-in agents in; call `view(request, agent, ...)`. Others: sign-in or 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        agent = agent_for_user(user=request.user)
        if agent is None:
            return TemplateResponse(
                request, "configurator/refused.html", {"message": NOT_AN_AGENT_MESSAGE}, status=403
            )
        return view(request, agent, *args, **kwargs)

    return wrapper


@agent_required
@require_safe
def agent_page(request: HttpRequest, agent: AgentProfile) -> HttpResponse:
    """The live notification page an agent keeps open; agent.js draws the cards."""
    return TemplateResponse(
        request,
        "agents/agent_page.html",
        {
            "agent": agent,
            "tenant": agent.tenant,
            "targets": list(agent.targets.order_by("kind", "value")),
            "texts": agent_page_texts(),
        },
    )


def agent_page_texts() -> dict[str, str]:
    """The words agent.js writes on the cards, in the agent's language (the page embeds them with
    json_script); `%(name)s` parts are filled in by the script."""
    return {
        "ringing": _("Ringing"),
        "answered": _("Answered"),
        "ended": _("Ended"),
        "missed": _("Missed"),
        "withheld": _("Withheld number"),
        "incoming": _("Incoming call"),
        "by_you": _("%(state)s by you"),
        "by_name": _("%(state)s by %(name)s"),
        "no_number": _("No number"),
        "no_name": _("(no name)"),
        "more": _("+%(count)s more"),
        "open_record": _("Open record"),
        "choose": _("Choose the record in %(integration)s"),
        "no_record": _("No CRM record has this number."),
        "you": _("you"),
        "colleague": _("a colleague"),
        "called_back_by": _("Called back by %(who)s at %(time)s"),
        "call_back": _("Call back %(number)s"),
        "called_back": _("Called back"),
        "hide": _("Hide"),
        "show": _("Show"),
        "notification": _("Call: %(caller)s"),
        "next_try": _(" (next try in %(seconds)s s)"),
        "offline": _("Offline"),
        "reconnecting": _("Reconnecting…"),
        "connecting": _("Connecting…"),
        "live": _("Live"),
    }


class AgentWelcomeView(auth_views.PasswordResetConfirmView):
    """The invitation link: the agent chooses their password, then signs in."""

    template_name = "agents/welcome.html"
    form_class = AgentSetPasswordForm
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        """Save the password and send the agent to the sign-in page with a note."""
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Sign in to see your calls."))
        return response


def _target_text(agent: AgentProfile, kind: str) -> str:
    return "\n".join(t.value for t in agent.targets.all() if t.kind == kind)


def _apply_errors(form: AgentTargetsForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _invited_page(
    request: HttpRequest, tenant: Tenant, agent: AgentProfile, *, renewed: bool
) -> HttpResponse:
    uid, token = agent_invitation_path(tenant=tenant, agent_id=agent.pk)
    link = request.build_absolute_uri(reverse("agent-welcome", args=[uid, token]))
    # Rendered, not redirected: the link must not travel through a URL, session or message.
    return render_page(
        request,
        "agents/agent_invited.html",
        tenant=tenant,
        context={"agent": agent, "link": link, "renewed": renewed, "active": "agents"},
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def agents_screen(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The tenant's agents with today's answered and missed calls; POST invites a new agent."""
    form = AgentInviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                agent = agent_invite(
                    tenant=tenant,
                    username=data["username"],
                    display_name=data["display_name"],
                    email=data["email"],
                    devices=split_lines(data["devices"]),
                    ddis=split_lines(data["ddis"]),
                    queues=split_lines(data["queues"]),
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                return _invited_page(request, tenant, agent, renewed=False)
        status = 400
    return render_page(
        request,
        "agents/agents.html",
        tenant=tenant,
        status=status,
        context={"form": form, "days": agent_day_counts(tenant=tenant), "active": "agents"},
    )


def _agent_or_404(tenant: Tenant, agent_id: int) -> AgentProfile:
    agent = agent_list(tenant=tenant).filter(pk=agent_id).first()
    if agent is None:
        raise Http404("No such agent.")
    return agent


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def agent_edit(request: HttpRequest, tenant: Tenant, agent_id: int) -> HttpResponse:
    """Change an agent's name, devices, DDIs and queues."""
    agent = _agent_or_404(tenant, agent_id)
    initial = {
        "display_name": agent.display_name,
        "devices": _target_text(agent, TargetKind.DEVICE),
        "ddis": _target_text(agent, TargetKind.DDI),
        "queues": _target_text(agent, TargetKind.QUEUE),
    }
    form = AgentTargetsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                agent_rename(tenant=tenant, agent_id=agent.pk, display_name=data["display_name"])
                agent_targets_set(
                    tenant=tenant,
                    agent_id=agent.pk,
                    devices=split_lines(data["devices"]),
                    ddis=split_lines(data["ddis"]),
                    queues=split_lines(data["queues"]),
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("“%(name)s” is saved.") % {"name": agent.display_name})
                return redirect("agents")
        status = 400
    return render_page(
        request,
        "agents/agent_edit.html",
        tenant=tenant,
        status=status,
        context={
            "form": form,
            "agent": agent,
            "calls": agent_calls_today_for_admin(tenant=tenant, agent=agent),
            "active": "agents",
        },
    )


@tenant_admin_required
@require_POST
def agent_link(request: HttpRequest, tenant: Tenant, agent_id: int) -> HttpResponse:
    """A new link where the agent sets their password (shown once)."""
    agent = _agent_or_404(tenant, agent_id)
    return _invited_page(request, tenant, agent, renewed=True)


@tenant_admin_required
@require_POST
def agent_activate(request: HttpRequest, tenant: Tenant, agent_id: int) -> HttpResponse:
    """POST `active=0|1`: stop or allow the agent's sign-in (stopping closes their open pages)."""
    agent = _agent_or_404(tenant, agent_id)
    active = request.POST.get("active") == "1"
    try:
        agent_set_active(tenant=tenant, agent_id=agent.pk, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        done = (
            _("“%(name)s” may sign in again.")
            if active
            else _("“%(name)s” can no longer sign in; their open pages were closed.")
        )
        messages.success(request, done % {"name": agent.display_name})
    return redirect("agents")


@tenant_admin_required
@require_POST
def agent_remove(request: HttpRequest, tenant: Tenant, agent_id: int) -> HttpResponse:
    """Delete the agent (and their account, unless it is a tenant admin's)."""
    agent = _agent_or_404(tenant, agent_id)
    agent_delete(tenant=tenant, agent_id=agent.pk)
    messages.success(request, _("“%(name)s” is removed.") % {"name": agent.display_name})
    return redirect("agents")
