"""The API-keys screens: list and create a tenant's keys for the matching API, revoke one."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from configurator.frame import match_curl_line, render_page, tenant_admin_required
from tenants.forms import ApiKeyCreateForm
from tenants.models import Tenant, TenantAPIKey
from tenants.selectors import api_key_list
from tenants.services import api_key_create, api_key_revoke


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """List the tenant's API keys; POST creates one and shows it once (it is stored hashed)."""
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and not _form_token_take(request, request.POST.get("form_token", "")):
        # A reload (or a second click) of a form whose key was already created: no second key.
        messages.info(
            request,
            _(
                "That form was already used: its key was shown once and is not shown again. "
                "Create a new key if it was not copied, and revoke the old one."
            ),
        )
        return redirect("api-keys")
    if request.method == "POST" and form.is_valid():
        try:
            api_key, key = api_key_create(tenant=tenant, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            curl = match_curl_line(request, tenant, key=key)
            # Rendered, not redirected: the key must not travel through a URL, session or message.
            return render_page(
                request,
                "configurator/api_key_created.html",
                tenant=tenant,
                context={"api_key": api_key, "key": key, "curl": curl, "active": "api-keys"},
            )
    return render_page(
        request,
        "configurator/api_keys.html",
        tenant=tenant,
        context={
            "form": form,
            "form_token": _form_token_issue(request),
            "api_keys": api_key_list(tenant=tenant),
            "active": "api-keys",
        },
    )


FORM_TOKENS_SESSION_KEY = "api_key_form_tokens"
MAX_FORM_TOKENS = 20


def _form_token_issue(request: HttpRequest) -> str:
    """A one-time token for the "Create a key" form, remembered in the session (the last 20)."""
    token = secrets.token_urlsafe(16)
    tokens = [t for t in request.session.get(FORM_TOKENS_SESSION_KEY, []) if isinstance(t, str)]
    request.session[FORM_TOKENS_SESSION_KEY] = [*tokens, token][-MAX_FORM_TOKENS:]
    return token


def _form_token_take(request: HttpRequest, token: str) -> bool:
    """Use up `token`: True the first time a form issued by `_form_token_issue` comes back."""
    tokens = request.session.get(FORM_TOKENS_SESSION_KEY, [])
    if not token or not isinstance(tokens, list) or token not in tokens:
        return False
    request.session[FORM_TOKENS_SESSION_KEY] = [t for t in tokens if t != token]
    return True


@tenant_admin_required
@require_GET
def api_key_revoke_confirm(request: HttpRequest, tenant: Tenant, prefix: str) -> HttpResponse:
    """Ask before revoking one of the tenant's active keys; its form posts to `api_key_revoke_view`."""
    api_key = api_key_list(tenant=tenant).filter(prefix=prefix, revoked=False).first()
    if api_key is None:
        raise Http404("No such active API key.")
    return render_page(
        request,
        "configurator/api_key_revoke.html",
        tenant=tenant,
        context={"api_key": api_key, "active": "api-keys"},
    )


@tenant_admin_required
@require_POST
def api_key_revoke_view(request: HttpRequest, tenant: Tenant, prefix: str) -> HttpResponse:
    """Revoke one of the tenant's keys (404 for another tenant's); asked first by `api_key_revoke_confirm`."""
    try:
        api_key = api_key_revoke(tenant=tenant, prefix=prefix)
    except TenantAPIKey.DoesNotExist:
        raise Http404("No such API key.") from None
    messages.success(
        request,
        _("The API key “%(name)s” is revoked; PBXs using it are refused from now on.")
        % {"name": api_key.name},
    )
    return redirect("api-keys")
