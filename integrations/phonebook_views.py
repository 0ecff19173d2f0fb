"""Views of the phone book upload: upload a file, map its columns with a preview, import it.

Thin, like `integrations.views`: each view resolves the tenant's rows (404 for another tenant's
ids), calls `integrations.phonebook_upload` and renders or redirects.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from configurator.frame import render_page, tenant_admin_required
from integrations.models import Integration, PhoneBookUpload
from integrations.phonebook_upload import (
    ROLE_CHOICES,
    ImportOutcome,
    is_phonebook_integration,
    phonebook_upload_get,
    phonebook_upload_import,
    phonebook_upload_latest,
    phonebook_upload_preview,
    phonebook_upload_receive,
    problem_lines,
)
from integrations.selectors import integration_get
from tenants.models import Tenant


class PhoneBookUploadForm(forms.Form):
    """The overview's upload form: one CSV or vCard file."""

    file = forms.FileField(
        label=gettext_lazy("Phone book file (CSV or vCard)"),
        help_text=gettext_lazy("A CSV with a header row (any delimiter and encoding), or a .vcf file."),
    )


def _phonebook_integration_or_404(*, tenant: Tenant, integration_id: int) -> Integration:
    try:
        integration = integration_get(tenant=tenant, integration_id=integration_id)
    except Integration.DoesNotExist:
        raise Http404("No such integration.") from None
    if not is_phonebook_integration(integration):
        raise Http404("This integration does not take phone book uploads.")
    return integration


def phonebook_overview_context(*, tenant: Tenant, integration: Integration) -> dict[str, Any]:
    """The overview's upload section (form, last import's unreadable rows); {} for other presets."""
    if not is_phonebook_integration(integration):
        return {}
    latest = phonebook_upload_latest(tenant=tenant, integration=integration)
    return {
        "phonebook": {
            "form": PhoneBookUploadForm(),
            "latest": latest,
            "problems": problem_lines(latest) if latest else [],
            "more_problems": (latest.problem_count - len(latest.problems)) if latest else 0,
            "max_bytes": settings.PHONEBOOK_MAX_UPLOAD_BYTES,
        }
    }


@tenant_admin_required
@require_POST
def phonebook_upload(request: HttpRequest, tenant: Tenant, integration_id: int) -> HttpResponse:
    """Receive a file; on to the mapping step, or back to the overview with what is wrong."""
    integration = _phonebook_integration_or_404(tenant=tenant, integration_id=integration_id)
    form = PhoneBookUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a CSV or vCard file to upload."))
        return redirect("integration-overview", integration_id=integration.pk)
    uploaded = form.cleaned_data["file"]
    limit: int = settings.PHONEBOOK_MAX_UPLOAD_BYTES
    # Read one byte past the limit: enough to refuse a larger file without reading all of it.
    content = uploaded.read(limit + 1)
    try:
        upload = phonebook_upload_receive(
            tenant=tenant, integration=integration, file_name=uploaded.name or "", content=content
        )
    except ValidationError as exc:
        messages.error(request, f"{uploaded.name}: {' '.join(exc.messages)}")
        return redirect("integration-overview", integration_id=integration.pk)
    return redirect("phonebook-map", integration_id=integration.pk, upload_id=upload.pk)


def _outcome_message(request: HttpRequest, outcome: ImportOutcome, *, cached: int) -> None:
    result = outcome.result
    unreadable = ""
    if outcome.problem_count:
        shown = "; ".join(outcome.problems[:5])
        more = outcome.problem_count - min(5, len(outcome.problems))
        unreadable = " " + _("%(count)s unreadable: %(shown)s") % {
            "count": outcome.problem_count,
            "shown": shown,
        }
        if more:
            unreadable += _("; and %(more)s more") % {"more": more}
        unreadable += "."
    if result.status == "ok":
        messages.success(
            request,
            _("Imported %(records)s contacts with %(numbers)s phone numbers.")
            % {"records": result.records, "numbers": result.numbers}
            + unreadable,
        )
    elif result.status == "held":
        messages.warning(
            request,
            _(
                "The new phone book has %(records)s contacts with %(numbers)s phone numbers, "
                "far fewer than the %(cached)s cached now, so it was not applied yet: accept it or keep "
                "the old one below."
            )
            % {"records": result.records, "numbers": result.numbers, "cached": cached}
            + unreadable,
        )
    elif result.status == "busy":
        messages.warning(
            request, _("A sync of this integration is running; import the file again when it ends.")
        )
    else:
        messages.error(
            request, _("The import failed: %(error)s The old phone book is kept.") % {"error": result.error}
        )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def phonebook_map(request: HttpRequest, tenant: Tenant, integration_id: int, upload_id: int) -> HttpResponse:
    """The mapping step: a preview of the first rows, a role per column, and "Import"."""
    integration = _phonebook_integration_or_404(tenant=tenant, integration_id=integration_id)
    try:
        upload = phonebook_upload_get(tenant=tenant, integration=integration, upload_id=upload_id)
    except PhoneBookUpload.DoesNotExist:
        raise Http404("No such upload.") from None
    preview = phonebook_upload_preview(upload=upload)
    errors: list[str] = []
    mapping = preview.mapping
    if request.method == "POST":
        mapping = [request.POST.get(f"column-{index}", "ignore") for index in range(len(preview.header))]
        if preview.kind == "vcard":
            mapping = []
        try:
            outcome = phonebook_upload_import(tenant=tenant, upload=upload, mapping=mapping)
        except ValidationError as exc:
            errors = list(exc.messages)
        else:
            integration.refresh_from_db(fields=["cached_numbers"])
            _outcome_message(request, outcome, cached=integration.cached_numbers)
            return redirect("integration-overview", integration_id=integration.pk)
    columns = [
        {"index": index, "title": title or _("Column %(number)s") % {"number": index + 1}, "role": role}
        for index, (title, role) in enumerate(zip(preview.header, mapping, strict=False))
    ]
    return render_page(
        request,
        "integrations/phonebook_map.html",
        tenant=tenant,
        context={
            "integration": integration,
            "upload": upload,
            "preview": preview,
            "columns": columns,
            "role_choices": ROLE_CHOICES,
            "errors": errors,
            "active_integration_id": integration.pk,
        },
        status=400 if errors else 200,
    )
