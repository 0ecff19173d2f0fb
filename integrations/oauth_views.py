"""The OAuth 2.0 screens: "Connect" starts the authorization code flow, the callback ends it.

Connect (GET) keeps `state` and the PKCE verifier in the session and sends the admin to the CRM's
authorization page; the CRM sends the admin back to `/integrations/oauth/callback/`
(`OAUTH_REDIRECT_BASE_URL` + path, or built from the request), where `state` is checked, the code
exchanged and the token stored encrypted with the integration (`integrations.oauth`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET

from configurator.frame import tenant_admin_required
from integrations.connectors.base import ConnectorError
from integrations.models import Integration
from integrations.oauth import authorization_start, exchange_code, oauth_config_for
from integrations.selectors import integration_get
from integrations.services import integration_sync_request
from integrations.sync import connector_settings
from integrations.texts import Text, translated
from tenants.models import Tenant

SESSION_KEY = "oauth_flows"
MAX_PENDING_FLOWS = 5
STATE_MESSAGE = Text(
    gettext_noop(
        "This OAuth answer does not belong to a Connect started here (missing or unknown state); "
        "nothing was stored. Start again with Connect on the integration's overview."
    )
)


def redirect_uri(request: HttpRequest) -> str:
    """The callback URL the CRM sends the admin back to (RFC 6749 §3.1.2)."""
    path = reverse("integration-oauth-callback")
    base = str(settings.OAUTH_REDIRECT_BASE_URL).rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _return_to(request: HttpRequest) -> str:
    """The local path `?next=` asks to come back to after the callback (the wizard's next step), or ""."""
    target = request.GET.get("next", "")
    local = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    )
    return target if local else ""


def _integration_or_404(*, tenant: Tenant, integration_id: int) -> Integration:
    try:
        return integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        raise Http404("No such integration.") from None


@tenant_admin_required
@require_GET
def integration_oauth_connect(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Start the authorization code flow with PKCE for the tenant's integration (404 for others').

    `?next=` (a local path, e.g. the "Add New Integration" wizard's next step) is where the
    callback sends the admin afterwards instead of the overview.
    """
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    config = oauth_config_for(integration)
    overview = reverse("integration-overview", args=[integration.pk])
    if config is None or not config.needs_connect:
        messages.error(request, _("This integration does not use OAuth 2.0: there is nothing to connect."))
        return redirect(overview)
    try:
        started = authorization_start(
            config, settings=connector_settings(integration), redirect_uri=redirect_uri(request)
        )
    except ConnectorError as exc:
        # The message framework stores plain text: translate it now, for this reader.
        messages.error(request, translated(exc.message))
        return redirect(overview)
    flows: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    while len(flows) >= MAX_PENDING_FLOWS:
        flows.pop(next(iter(flows)))
    flows[started.state] = {
        "integration_id": integration.pk,
        "tenant_id": tenant.pk,
        "code_verifier": started.code_verifier,
        "return_to": _return_to(request),
    }
    request.session[SESSION_KEY] = flows
    return redirect(started.url)


def _refuse(request: HttpRequest, message: str) -> HttpResponse:
    return TemplateResponse(request, "configurator/refused.html", {"message": message}, status=400)


@tenant_admin_required
@require_GET
def integration_oauth_callback(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """End the flow: check `state` (RFC 6749 §10.12), exchange the code, store the token.

    A missing or unknown state gives 400 and stores nothing; an error answer from the CRM
    (`error=access_denied`) or a failed exchange goes back to the overview with the message.
    """
    state = request.GET.get("state", "")
    flows: dict[str, Any] = dict(request.session.get(SESSION_KEY, {}))
    flow = flows.pop(state, None) if state else None
    if not isinstance(flow, dict) or flow.get("tenant_id") != tenant.pk:
        return _refuse(request, STATE_MESSAGE)
    request.session[SESSION_KEY] = flows
    integration = _integration_or_404(tenant=tenant, integration_id=int(flow["integration_id"]))
    overview = str(flow.get("return_to") or "") or reverse("integration-overview", args=[integration.pk])
    config = oauth_config_for(integration)
    if config is None:
        messages.error(request, _("This integration no longer uses OAuth 2.0: nothing was stored."))
        return redirect(overview)
    error = request.GET.get("error", "")
    code = request.GET.get("code", "")
    if error or not code:
        described = request.GET.get("error_description", "") or error or "no authorization code"
        messages.error(
            request,
            _("The CRM did not grant access (%(reason)s); nothing was stored.") % {"reason": described[:200]},
        )
        return redirect(overview)
    try:
        exchange_code(
            integration,
            config,
            settings=connector_settings(integration),
            code=code,
            code_verifier=str(flow["code_verifier"]),
            redirect_uri=redirect_uri(request),
        )
    except ConnectorError as exc:
        messages.error(request, _("Connecting failed: %(reason)s") % {"reason": translated(exc.message)})
        return redirect(overview)
    # The first sync waited for Connect; a reconnect of an integration that synced before leaves
    # the schedule alone (its next sync uses the new token).
    integration.refresh_from_db()
    never_synced = integration.last_sync_at is None and not integration.sync_runs.exists()
    if never_synced and integration_sync_request(tenant=tenant, integration=integration):
        messages.success(
            request,
            _("%(name)s is connected to the CRM; its first sync has started.") % {"name": integration.name},
        )
    else:
        messages.success(
            request,
            _("%(name)s is connected to the CRM; Sync now fetches its phone numbers.")
            % {"name": integration.name},
        )
    return redirect(overview)
