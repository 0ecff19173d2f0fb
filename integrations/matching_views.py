"""Screens around matching: match order, several matches, the ignore list and the test lookup.

Thin, like integrations/views.py: each view is wrapped in `tenant_admin_required` (which passes
the tenant), resolves the tenant's rows (404 for another tenant's ids), calls a service and
renders or redirects. The test lookup calls `match_call_explained`, so it shows exactly what the
matching API would answer.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from configurator.forms import BootstrapFormMixin
from configurator.frame import example_caller_number, render_page, tenant_admin_required
from integrations.calls import CallInputError, call_from_params, max_length
from integrations.ignore_list import ignored_number_add, ignored_number_list, ignored_number_remove
from integrations.matching import match_call_explained
from integrations.models import IgnoreAction, IgnoreKind, Integration
from integrations.selectors import integration_get
from integrations.several_matches import (
    integration_move,
    integration_reorder,
    integration_set_multiple_matches,
)
from integrations.texts import translated
from tenants.models import Tenant

# At most this many ids in a reorder request (a tenant has far fewer integrations).
MAX_REORDER_IDS = 500


def _integration_or_404(*, tenant: Tenant, integration_id: int) -> Integration:
    try:
        return integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        raise Http404("No such integration.") from None


# Match order and several matches ----------------------------------------------------------


@tenant_admin_required
@require_POST
def integration_order_move(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Move an integration one place up or down in the match order (`direction` up|down).

    The keyboard way to reorder: plain form buttons, no JavaScript needed.
    """
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    direction = request.POST.get("direction", "")
    if direction not in ("up", "down"):
        messages.error(request, _("Choose up or down."))
    else:
        integration_move(tenant=tenant, integration=integration, offset=-1 if direction == "up" else 1)
        moved = (
            _("“%(name)s” moved up in the match order.")
            if direction == "up"
            else _("“%(name)s” moved down in the match order.")
        )
        messages.success(request, moved % {"name": integration.name})
    return redirect(reverse("home") + f"#order-{integration.pk}")


@tenant_admin_required
@require_POST
def integration_order_save(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Save the whole match order from a drag: `order` is the integrations' ids, comma-separated.

    Answers JSON `{"order": [ids]}`, or 400 `{"detail": ...}` when the ids are not exactly the
    tenant's integrations (another tenant's id, a missing, repeated or malformed one).
    """
    raw = request.POST.get("order", "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_REORDER_IDS or not all(p.isascii() and p.isdigit() for p in parts):
        return JsonResponse({"detail": "order must be the integrations' ids, comma-separated."}, status=400)
    try:
        ordered = integration_reorder(tenant=tenant, ordered_ids=[int(p) for p in parts])
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    return JsonResponse({"order": [row.pk for row in ordered]})


@tenant_admin_required
@require_POST
def integration_multiple_matches(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Set what the PBX gets when this integration has several records for a number."""
    integration = _integration_or_404(tenant=tenant, integration_id=integration_id)
    try:
        integration_set_multiple_matches(
            tenant=tenant, integration=integration, policy=request.POST.get("multiple_matches", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Several matches: %(choice)s.") % {"choice": integration.get_multiple_matches_display()},
        )
    return redirect(reverse("integration-overview", args=[integration.pk]) + "#several-matches")


# Ignore list ------------------------------------------------------------------------------


class IgnoredNumberForm(BootstrapFormMixin, forms.Form):
    """Add a number or prefix to the ignore list; `ignored_number_add` checks the number."""

    number = forms.CharField(
        max_length=40,
        label=gettext_lazy("Number or prefix"),
        help_text=gettext_lazy(
            "A whole number (020 123 4567, +31 20 123 4567) or, as a prefix, its start (+3190)."
        ),
    )
    kind = forms.ChoiceField(
        choices=IgnoreKind.choices, initial=IgnoreKind.NUMBER, label=gettext_lazy("Kind")
    )
    action = forms.ChoiceField(
        choices=IgnoreAction.choices, initial=IgnoreAction.IGNORE, label=gettext_lazy("Action")
    )
    note = forms.CharField(max_length=200, required=False, label=gettext_lazy("Note"))


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def ignore_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The tenant's ignore list; POST adds an entry (a malformed number is a form error, HTTP 400)."""
    form = IgnoredNumberForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                entry = ignored_number_add(
                    tenant=tenant,
                    number=form.cleaned_data["number"],
                    kind=form.cleaned_data["kind"],
                    action=form.cleaned_data["action"],
                    note=form.cleaned_data["note"],
                    added_by=request.user,
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(
                    request,
                    _("%(number)s is on the ignore list (%(action)s).")
                    % {"number": entry.number, "action": entry.get_action_display()},
                )
                return redirect("ignore-list")
        status = 400
    return render_page(
        request,
        "integrations/ignore_list.html",
        tenant=tenant,
        context={"form": form, "entries": ignored_number_list(tenant=tenant), "active": "ignore-list"},
        status=status,
    )


@tenant_admin_required
@require_POST
def ignore_list_remove(request: HttpRequest, tenant: Tenant, entry_id: int) -> HttpResponse:
    """Remove one entry of the tenant's ignore list (404 for another tenant's)."""
    if not ignored_number_remove(tenant=tenant, entry_id=entry_id):
        raise Http404("No such entry.")
    messages.success(request, _("The entry is removed from the ignore list."))
    return redirect("ignore-list")


# Test lookup ------------------------------------------------------------------------------


class TestLookupForm(BootstrapFormMixin, forms.Form):
    """A call as a PBX would send it; every field but the caller number may stay empty."""

    caller_number = forms.CharField(
        max_length=max_length("caller_number"), label=gettext_lazy("Caller number")
    )
    caller_name = forms.CharField(
        max_length=max_length("caller_name"), required=False, label=gettext_lazy("Caller name")
    )
    device_number = forms.CharField(
        max_length=max_length("device_number"), required=False, label=gettext_lazy("Device (extension)")
    )
    ddi_number = forms.CharField(
        max_length=max_length("ddi_number"), required=False, label=gettext_lazy("DDI (number dialled)")
    )
    direction = forms.ChoiceField(
        choices=[("", "—"), ("in", "in"), ("out", "out")], required=False, label=gettext_lazy("Direction")
    )
    start_time = forms.CharField(
        max_length=max_length("start_time"),
        required=False,
        label=gettext_lazy("Start time"),
        help_text=gettext_lazy("ISO 8601 (2026-11-21T10:15:00+01:00) or Unix seconds; empty for now."),
    )


@tenant_admin_required
@require_GET
def test_lookup(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Type a number, see exactly the JSON the PBX would get, and why (`match_call_explained`).

    A bad parameter is a form error (HTTP 400) with the matching API's own message.
    """
    form = TestLookupForm(
        request.GET or None, initial={"caller_number": example_caller_number(country=tenant.country)}
    )
    context: dict[str, Any] = {"form": form, "active": "test-lookup", "answer": None, "reasons": None}
    status = 200
    if form.is_bound:
        if form.is_valid():
            params = {name: value for name, value in form.cleaned_data.items() if value}
            try:
                call = call_from_params(tenant=tenant, params=params)
            except CallInputError as exc:
                for name, error in exc.errors.items():
                    shown = translated(exc.texts.get(name, error))
                    form.add_error(name if name in form.fields else None, shown)
            else:
                answer, reasons = match_call_explained(tenant=tenant, call=call)
                context.update(
                    answer=answer,
                    answer_json=json.dumps(answer, indent=2, ensure_ascii=False),
                    reasons=reasons,
                    integration_names={row["id"]: row["name"] for row in reasons["integrations"]},
                )
        if context["answer"] is None:
            status = 400
    return render_page(
        request, "integrations/test_lookup.html", tenant=tenant, context=context, status=status
    )
