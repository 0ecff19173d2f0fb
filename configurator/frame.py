"""The admin UI's frame, shared by every app's screens: the tenant-admin gate, the page frame.

`tenant_admin_required` resolves the tenant the signed-in user administers and passes it to the
view as its second argument; views hand it on to selectors and services explicitly (there is no
"current tenant" global). `render_page` renders a page inside the frame (top bar, sidebar with
the tenant's integrations). Also the example caller number and the ready `curl` line that pages
show next to the matching API. Not a views module: the apps' views import it, never each other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

import phonenumbers
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy

import scripts_engine
from integrations.models import Integration, SyncState
from integrations.registry import find_preset
from integrations.selectors import integration_list
from integrations.sync import sync_is_stale
from tenants.models import Tenant
from tenants.selectors import tenant_admin_tenant

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
