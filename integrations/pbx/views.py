"""The PBX event endpoints (`POST /pbx/<format>/<token>/`) and the "Connect your PBX" page (`/pbx/`).

The endpoints are plain Django views (each format answers in its own shape: JSON or XML), CSRF
exempt (PBXs post from outside; the token in the URL, and for signed formats the signature,
authenticate them). The page is tenant-scoped like every UI view (`tenant_admin_required`).
"""

from __future__ import annotations

import secrets as random_tokens
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from configurator.forms import BootstrapFormMixin
from configurator.frame import match_curl_line, render_page, tenant_admin_required
from configurator.middleware import machine_endpoint
from integrations.pbx import formats, handler_for
from integrations.pbx.base import PbxError, handle_event, json_response
from integrations.pbx.models import PbxFormat, PbxSender
from integrations.pbx.services import (
    pbx_sender_create,
    pbx_sender_delete,
    pbx_sender_get,
    pbx_sender_list,
    pbx_sender_rotate,
    pbx_sender_set_enabled,
)
from tenants.models import Tenant


@machine_endpoint  # the UI's middleware steps aside (configurator.middleware)
@csrf_exempt
def pbx_event(request: HttpRequest, format_slug: str, token: str) -> HttpResponse:
    """Receive one call event of `format_slug` from the sender with `token` (see `base.handle_event`)."""
    # English whatever Accept-Language a PBX sends: configurator.middleware.LocaleMiddleware.
    handler = handler_for(format_slug)
    if handler is None:
        return json_response({"detail": "Unknown PBX format in the URL."}, status=404)
    if request.method != "POST":
        response = handler.error(PbxError(405, "PBX events are sent with POST."))
        response["Allow"] = "POST"
        return response
    return handle_event(handler, request=request, token=token)


class PbxSenderForm(BootstrapFormMixin, forms.Form):
    """Add a PBX sender: its format and a name."""

    format = forms.ChoiceField(choices=PbxFormat.choices, label=gettext_lazy("PBX format"))
    name = forms.CharField(
        max_length=100, label=gettext_lazy("Name"), help_text=gettext_lazy("e.g. “Office PBX”.")
    )


FORM_TOKENS_SESSION_KEY = "pbx_sender_form_tokens"


def _form_token_issue(request: HttpRequest) -> str:
    token = random_tokens.token_urlsafe(16)
    tokens = [t for t in request.session.get(FORM_TOKENS_SESSION_KEY, []) if isinstance(t, str)]
    request.session[FORM_TOKENS_SESSION_KEY] = [*tokens, token][-20:]
    return token


def _form_token_take(request: HttpRequest, token: str) -> bool:
    tokens = request.session.get(FORM_TOKENS_SESSION_KEY, [])
    if not token or not isinstance(tokens, list) or token not in tokens:
        return False
    request.session[FORM_TOKENS_SESSION_KEY] = [t for t in tokens if t != token]
    return True


def sender_url(request: HttpRequest, sender: PbxSender) -> str:
    """The absolute URL the PBX posts to: `https://host/pbx/<format>/<token>/`."""
    return request.build_absolute_uri(reverse("pbx-event", args=[sender.format, sender.token]))


def _rows(request: HttpRequest, tenant: Tenant) -> list[dict[str, Any]]:
    all_formats = formats()
    rows = []
    for sender in pbx_sender_list(tenant=tenant):
        handler = all_formats[sender.format]
        url = sender_url(request, sender)
        rows.append(
            {
                "sender": sender,
                "handler": handler,
                "url": url,
                "settings": handler.settings_rows(url=url, secret=None),
            }
        )
    return rows


def _shown_once(request: HttpRequest, tenant: Tenant, sender: PbxSender, *, rotated: bool) -> HttpResponse:
    handler = formats()[sender.format]
    url = sender_url(request, sender)
    # Rendered, not redirected: the secret must not travel through a URL, session or message.
    return render_page(
        request,
        "integrations/pbx/sender_created.html",
        tenant=tenant,
        context={
            "sender": sender,
            "handler": handler,
            "settings": handler.settings_rows(url=url, secret=sender.secret if handler.uses_secret else None),
            "rotated": rotated,
            "active": "pbx",
        },
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def pbx_senders(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """List the tenant's PBX senders with their URLs; POST adds one and shows its settings once."""
    form = PbxSenderForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not _form_token_take(request, request.POST.get("form_token", "")):
            messages.info(request, gettext("That form was already used; its sender is in the list below."))
            return redirect("pbx-senders")
        if form.is_valid():
            try:
                sender = pbx_sender_create(
                    tenant=tenant, format_slug=form.cleaned_data["format"], name=form.cleaned_data["name"]
                )
            except ValidationError as exc:
                form.add_error("name", exc)
            else:
                return _shown_once(request, tenant, sender, rotated=False)
        status = 400
    return render_page(
        request,
        "integrations/pbx/senders.html",
        tenant=tenant,
        status=status,
        context={
            "form": form,
            "form_token": _form_token_issue(request),
            "rows": _rows(request, tenant),
            "formats": list(formats().values()),
            "match_curl": match_curl_line(request, tenant),
            "active": "pbx",
        },
    )


def _sender_or_404(tenant: Tenant, sender_id: int) -> PbxSender:
    try:
        return pbx_sender_get(tenant=tenant, sender_id=sender_id)
    except PbxSender.DoesNotExist:
        raise Http404(gettext("No such PBX sender.")) from None


@tenant_admin_required
@require_POST
def pbx_sender_rotate_view(request: HttpRequest, tenant: Tenant, sender_id: int) -> HttpResponse:
    """Replace the sender's token (URL) and secret; shows the new settings once."""
    _sender_or_404(tenant, sender_id)
    sender = pbx_sender_rotate(tenant=tenant, sender_id=sender_id)
    return _shown_once(request, tenant, sender, rotated=True)


@tenant_admin_required
@require_POST
def pbx_sender_enable_view(request: HttpRequest, tenant: Tenant, sender_id: int) -> HttpResponse:
    """Enable the sender."""
    sender = _sender_or_404(tenant, sender_id)
    pbx_sender_set_enabled(tenant=tenant, sender_id=sender.pk, enabled=True)
    messages.success(
        request, gettext("“%(name)s” is enabled: its events are matched again.") % {"name": sender.name}
    )
    return redirect("pbx-senders")


@tenant_admin_required
@require_POST
def pbx_sender_disable_view(request: HttpRequest, tenant: Tenant, sender_id: int) -> HttpResponse:
    """Disable the sender: its events are refused until it is enabled again."""
    sender = _sender_or_404(tenant, sender_id)
    pbx_sender_set_enabled(tenant=tenant, sender_id=sender.pk, enabled=False)
    messages.success(
        request, gettext("“%(name)s” is disabled: its events are refused.") % {"name": sender.name}
    )
    return redirect("pbx-senders")


@tenant_admin_required
@require_POST
def pbx_sender_delete_view(request: HttpRequest, tenant: Tenant, sender_id: int) -> HttpResponse:
    """Delete the sender; its URL is refused from now on."""
    sender = _sender_or_404(tenant, sender_id)
    pbx_sender_delete(tenant=tenant, sender_id=sender.pk)
    messages.success(
        request, gettext("“%(name)s” is deleted; its URL is refused from now on.") % {"name": sender.name}
    )
    return redirect("pbx-senders")
