"""Views of the admin UI's frame: sign-in, the main screen, the organization's numbers, the audit log.

Every UI view is wrapped in `configurator.frame.tenant_admin_required`, which passes the tenant
the signed-in user administers as the view's second argument.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from agents.selectors import agent_for_user
from configurator.audit import audit_entry_list, audit_integration_name, audit_kinds, audit_rows
from configurator.forms import AuditLogFilterForm, SignInForm
from configurator.frame import render_page, tenant_admin_required
from integrations.selectors import script_list
from tenants.models import Tenant
from tenants.selectors import api_key_list, tenant_admin_tenant
from tenants.services import tenant_set_internal_number_length


class SignInView(auth_views.LoginView):
    """Sign in with local credentials (a pluggable auth backend may accept the PBX's).

    Repeated failures lock the account out from that address (django-axes, see
    `sign_in_locked_out`).
    """

    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        """Agents (an agent profile, no tenant-admin privilege) land on their live page."""
        user = self.request.user
        if tenant_admin_tenant(user=user) is None and agent_for_user(user=user) is not None:
            return reverse("agent-page")
        return str(super().get_default_redirect_url())


def locked_out_message() -> str:
    """The sign-in page's lockout message, naming the cool-off from `settings.AXES_COOLOFF_MINUTES`."""
    return _(
        "Too many failed sign-ins for this account from your address; try again in %(minutes)s minutes."
    ) % {"minutes": settings.AXES_COOLOFF_MINUTES}


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): the sign-in page again, HTTP 429.

    The UI's and the Django admin's sign-in pages are re-rendered with the lockout message as the
    form's only error (not "wrong password": a locked-out account is refused even with the right
    one). Any other response becomes a plain-text 429 with the same message.
    """
    message = locked_out_message()
    if isinstance(original_response, TemplateResponse) and isinstance(original_response.context_data, dict):
        form = original_response.context_data.get("form")
        if isinstance(form, Form):
            form.errors.pop(NON_FIELD_ERRORS, None)
            form.add_error(None, message)
            response = TemplateResponse(
                request, original_response.template_name, original_response.context_data, status=429
            )
            return response.render()  # middleware runs after Django renders template responses
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


@tenant_admin_required
def home(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The main screen: who you are, your organization, and the tenant-wide scripts."""
    return render_page(
        request,
        "configurator/home.html",
        tenant=tenant,
        context={
            "scripts": script_list(tenant=tenant),
            "active": "home",
            "has_api_key": api_key_list(tenant=tenant).filter(revoked=False).exists(),
        },
    )


@tenant_admin_required
@require_POST
def tenant_numbers(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Save the tenant's internal-number length (caller numbers that short are never matched)."""
    raw = request.POST.get("internal_number_length", "").strip()
    try:
        length = int(raw) if raw.isdigit() and len(raw) <= 3 else 0
        tenant_set_internal_number_length(tenant=tenant, length=length)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Caller numbers of up to %(length)s digits are now internal and never matched.")
            % {"length": length},
        )
    return redirect("home")


AUDIT_LOG_PAGE_SIZE = 50


@tenant_admin_required
@require_GET
def audit_log(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The tenant's audit log, newest first, 50 entries a page.

    `?type=` narrows to one kind of object (integration, script, api-key, organization, admin),
    `?integration=<id>` to one integration's history (its scripts included), `?page=` pages.
    A bad filter value gets the page with the form's message and HTTP 400.
    """
    kinds = audit_kinds()
    form = AuditLogFilterForm(request.GET or None, kinds=[(k.slug, k.label) for k in kinds])
    context: dict[str, Any] = {"form": form, "active": "audit-log", "rows": [], "page": None}
    if form.is_bound and not form.is_valid():
        return render_page(request, "configurator/audit_log.html", tenant=tenant, context=context, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    kind = filters.get("type") or None
    integration_id = filters.get("integration")
    entries = audit_entry_list(tenant=tenant, kind=kind, integration_id=integration_id)
    page = Paginator(entries, AUDIT_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    history_of = None
    if integration_id is not None:
        history_of = audit_integration_name(tenant=tenant, integration_id=integration_id) or (
            _("integration %(id)s") % {"id": integration_id}
        )
    rows = audit_rows(page.object_list)
    context.update(
        {"rows": rows, "page": page, "history_of": history_of, "filtered": bool(kind or integration_id)}
    )
    return render_page(request, "configurator/audit_log.html", tenant=tenant, context=context)
