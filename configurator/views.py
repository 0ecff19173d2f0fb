"""Views of the admin UI's frame: sign-in, the tenant-admin gate, the main screen and API keys.

Every UI view is wrapped in `tenant_admin_required`, which resolves the tenant the signed-in
user administers and passes it to the view as its second argument; views hand it on to
selectors and services explicitly (there is no "current tenant" global).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

import phonenumbers
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

import scripts_engine
from configurator.audit import audit_entry_list, audit_integration_name, audit_kinds, audit_rows
from configurator.forms import AuditLogFilterForm, SignInForm
from integrations.models import Integration, SyncState
from integrations.registry import find_preset
from integrations.selectors import integration_list, script_list
from integrations.sync import sync_is_stale
from tenants.models import Tenant
from tenants.selectors import api_key_list, tenant_admin_tenant
from tenants.services import tenant_set_internal_number_length

P = ParamSpec("P")

NO_PRIVILEGE_MESSAGE = gettext_lazy(
    "You do not have the tenant-admin privilege needed to configure integrations for your "
    "organization. Please inquire with your telephony provider."
)


def tenant_admin_required(
    view: Callable[Concatenate[HttpRequest, Tenant, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Let only tenant admins in; call `view(request, tenant, ...)` with the tenant they administer.

    Anonymous users are sent to the sign-in page (htmx requests get an `HX-Redirect` so that a
    polling fragment does not swap the sign-in page into itself). Signed-in users without the
    privilege get the refusal page (HTTP 403) with a sign-out button.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            response = redirect_to_login(request.get_full_path())
            if getattr(request, "htmx", False):
                return HttpResponse(headers={"HX-Redirect": response["Location"]})
            return response
        tenant = tenant_admin_tenant(user=request.user)
        if tenant is None:
            return TemplateResponse(
                request, "configurator/refused.html", {"message": NO_PRIVILEGE_MESSAGE}, status=403
            )
        return view(request, tenant, *args, **kwargs)

    return wrapper


# The sidebar's status dot of an integration: (state, text for screen readers), most urgent first.
SIDEBAR_STATES = {
    "disabled": gettext_lazy("Disabled"),
    "error": gettext_lazy("Error"),
    "held": gettext_lazy("Sync result held"),
    "syncing": gettext_lazy("Syncing"),
    "synced": gettext_lazy("Synced"),
}


def sidebar_state(integration: Integration, *, has_phone_data: bool) -> str:
    """The sidebar dot's state of `integration`: disabled, error, held, syncing or synced.

    The same facts as the overview's status card: a disabled integration is only "disabled"; an error
    (the last sync failed, the CRM wants a reconnect, or a sync went silent) beats a held result, which
    beats a sync under way. A screen pop integration without phone data is "synced" when nothing is wrong.
    """
    if not integration.enabled:
        return "disabled"
    if integration.last_error or integration.oauth_reconnect_required or sync_is_stale(integration):
        return "error"
    if has_phone_data and integration.held_generation is not None:
        return "held"
    if has_phone_data and integration.sync_state in (SyncState.QUEUED, SyncState.RUNNING):
        return "syncing"
    return "synced"


def sidebar_integrations(*, tenant: Tenant) -> list[dict[str, Any]]:
    """The tenant's integrations as the sidebar shows them: the row, its phone data, its status dot."""
    rows = []
    for integration in integration_list(tenant=tenant):
        preset = find_preset(integration.preset)
        has_phone_data = preset is not None and preset.has_phone_data
        state = sidebar_state(integration, has_phone_data=has_phone_data)
        rows.append(
            {
                "integration": integration,
                "has_phone_data": has_phone_data,
                "state": state,
                "state_label": SIDEBAR_STATES[state],
            }
        )
    return rows


def render_page(
    request: HttpRequest,
    template_name: str,
    *,
    tenant: Tenant,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> TemplateResponse:
    """Render a page of the app frame (top bar and sidebar) for `tenant`."""
    page_context: dict[str, Any] = {
        "tenant": tenant,
        "sidebar_integrations": sidebar_integrations(tenant=tenant),
        **(context or {}),
    }
    return TemplateResponse(request, template_name, page_context, status=status)


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
        from agents.selectors import agent_for_user  # agents' views import this module

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


def example_caller_number(*, country: str) -> str:
    """An example caller number of `country` in E.164: "+31201234567" for NL, libphonenumber's otherwise."""
    if country == "NL":
        return "+31201234567"
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    if example is None:
        return "+31201234567"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


API_KEY_PLACEHOLDER = "<your-api-key>"


def match_curl_line(request: HttpRequest, tenant: Tenant, *, key: str = API_KEY_PLACEHOLDER) -> str:
    """A ready `curl` call of the matching API on this host, with `key` (or a placeholder for it)."""
    caller_number = scripts_engine.format_phone(
        example_caller_number(country=tenant.country), None, tenant.country
    )
    match_url = request.build_absolute_uri(reverse("api-match"))
    query = urlencode({"caller_number": caller_number})
    return f'curl -H "Authorization: Api-Key {key}" "{match_url}?{query}"'


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
