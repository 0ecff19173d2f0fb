"""Views of the call log (`/call-log/`, an entry, the options) and the match-quality report.

Thin, like the other screens: each view is wrapped in `tenant_admin_required`, reads through the
selectors of `integrations.journal` with `tenant=` (another tenant's entry is a 404) and renders.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from configurator.forms import BootstrapFormMixin
from configurator.frame import render_page, tenant_admin_required
from integrations.journal import (
    DayCount,
    call_journal_daily,
    call_journal_entry_get,
    call_journal_list,
    call_journal_options_get,
    call_journal_options_update,
    call_journal_senders,
    match_quality_report,
)
from integrations.models import CallJournalEntry
from integrations.server_scripts import (
    server_script_failures_count,
    server_script_runs_of_call,
    server_script_runs_recent,
)
from tenants.models import Tenant

PAGE_SIZE = 50
CHART_DAYS = 14  # the chart's default range, ending today
MAX_RANGE_DAYS = 366
MAX_DAYS_KEPT = 3650
_MAX_ID = 2**63 - 1
# Days the filter accepts: far enough from the calendar's ends for time-zone arithmetic.
EARLIEST_DAY = dt.date(1970, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)


class CallLogFilterForm(BootstrapFormMixin, forms.Form):
    """The call log's filter (GET): a number, a date range (tenant time zone), matched or not, sender."""

    q = forms.CharField(required=False, max_length=64, label=gettext_lazy("Number"))
    date_from = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    matched = forms.ChoiceField(
        required=False,
        choices=[
            ("", gettext_lazy("All calls")),
            ("yes", gettext_lazy("Matched")),
            ("no", gettext_lazy("Not matched")),
        ],
        label=gettext_lazy("Match"),
    )
    sender = forms.ChoiceField(required=False, label=gettext_lazy("Sender"))

    def __init__(self, *args: Any, senders: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sender_field = self.fields["sender"]
        assert isinstance(sender_field, forms.ChoiceField)
        sender_field.choices = [("", "All senders"), *((s, s) for s in senders)]

    def clean_q(self) -> str:
        value = str(self.cleaned_data.get("q") or "")
        if "\x00" in value:
            raise forms.ValidationError(_("A number cannot contain a NUL character."))
        return value.strip()

    def _clean_day(self, name: str) -> dt.date | None:
        day = self.cleaned_data.get(name)
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise forms.ValidationError(
                _("Choose a day from %(first)s to %(last)s.")
                % {"first": f"{EARLIEST_DAY:%Y}", "last": f"{LATEST_DAY:%Y}"}
            )
        return day if isinstance(day, dt.date) else None

    def clean_date_from(self) -> dt.date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._clean_day("date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first day comes after the last one."))
            if (end - start).days >= MAX_RANGE_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)s days.") % {"days": MAX_RANGE_DAYS})
        return data


class CallLogOptionsForm(BootstrapFormMixin, forms.Form):
    """The tenant's call-log options."""

    enabled = forms.BooleanField(required=False, label=gettext_lazy("Log every match request and call event"))
    days_kept = forms.IntegerField(min_value=1, max_value=MAX_DAYS_KEPT, label=gettext_lazy("Days kept"))
    mask_numbers = forms.BooleanField(
        required=False,
        label=gettext_lazy("Mask caller numbers (keep the last 4 digits)"),
        help_text=gettext_lazy("Applies to calls logged from now on, in their request and answer too."),
    )


@dataclasses.dataclass(frozen=True)
class ChartBar:
    """One day of the chart, with its geometry in SVG user units."""

    day: dt.date
    matched: int
    unmatched: int
    x: float
    width: float
    matched_y: float
    matched_height: float
    unmatched_y: float
    unmatched_height: float
    label: str


@dataclasses.dataclass(frozen=True)
class Chart:
    """A server-rendered bar chart of matched vs unmatched inbound calls per day."""

    width: int
    height: int
    plot_left: int
    plot_bottom: int
    plot_top: int
    plot_right: int
    top_value: int
    bars: list[ChartBar]
    matched: int
    unmatched: int


def chart_of(days: list[DayCount]) -> Chart:
    """The chart's geometry for `days`: stacked bars, matched at the bottom, 0 to the top value."""
    width, height, left, right, top, bottom = 760, 220, 40, 750, 12, 190
    top_value = max((d.total for d in days), default=0)
    top_value = max(top_value, 1)
    if top_value > 5:
        step = 10 ** math.floor(math.log10(top_value))
        top_value = math.ceil(top_value / step) * step
    slot = (right - left) / max(len(days), 1)
    bar_width = max(slot * 0.7, 1.0)
    label_every = max(1, math.ceil(len(days) / 10))
    scale = (bottom - top) / top_value
    bars = []
    for index, day in enumerate(days):
        x = left + index * slot + (slot - bar_width) / 2
        matched_height = day.matched * scale
        unmatched_height = day.unmatched * scale
        bars.append(
            ChartBar(
                day=day.day,
                matched=day.matched,
                unmatched=day.unmatched,
                x=round(x, 2),
                width=round(bar_width, 2),
                matched_y=round(bottom - matched_height, 2),
                matched_height=round(matched_height, 2),
                unmatched_y=round(bottom - matched_height - unmatched_height, 2),
                unmatched_height=round(unmatched_height, 2),
                label=day.day.strftime("%d %b") if index % label_every == 0 else "",
            )
        )
    return Chart(
        width=width,
        height=height,
        plot_left=left,
        plot_bottom=bottom,
        plot_top=top,
        plot_right=right,
        top_value=top_value,
        bars=bars,
        matched=sum(d.matched for d in days),
        unmatched=sum(d.unmatched for d in days),
    )


def _today(tenant: Tenant) -> dt.date:
    return timezone.now().astimezone(tenant.zone).date()


def _options_form(tenant: Tenant, data: Any = None) -> CallLogOptionsForm:
    options = call_journal_options_get(tenant=tenant)
    initial = {
        "enabled": options.enabled,
        "days_kept": options.days_kept,
        "mask_numbers": options.mask_numbers,
    }
    return CallLogOptionsForm(data, initial=initial)


def _call_log_page(
    request: HttpRequest, tenant: Tenant, *, options_form: CallLogOptionsForm, status: int = 200
) -> HttpResponse:
    senders = call_journal_senders(tenant=tenant)
    form = CallLogFilterForm(request.GET or None, senders=senders)
    context: dict[str, Any] = {
        "form": form,
        "options_form": options_form,
        "active": "call-log",
        "page": None,
        "chart": None,
        "server_failures": server_script_failures_count(tenant=tenant),
    }
    if form.is_bound and not form.is_valid():
        return render_page(request, "integrations/call_log.html", tenant=tenant, context=context, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    matched = {"yes": True, "no": False}.get(filters.get("matched") or "")
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    entries = call_journal_list(
        tenant=tenant,
        number=filters.get("q") or "",
        date_from=date_from,
        date_to=date_to,
        matched=matched,
        sender=filters.get("sender") or "",
    )
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    chart_to = date_to or (
        min(_today(tenant), date_from + dt.timedelta(days=CHART_DAYS - 1)) if date_from else _today(tenant)
    )
    chart_from = date_from or chart_to - dt.timedelta(days=CHART_DAYS - 1)
    days = call_journal_daily(
        tenant=tenant, date_from=chart_from, date_to=chart_to, sender=filters.get("sender") or ""
    )
    context.update(
        {
            "page": page,
            "chart": chart_of(days),
            "chart_from": chart_from,
            "chart_to": chart_to,
            "filtered": any(filters.get(name) for name in ("q", "date_from", "date_to", "matched", "sender")),
        }
    )
    return render_page(request, "integrations/call_log.html", tenant=tenant, context=context, status=status)


@tenant_admin_required
@require_GET
def call_log(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The tenant's call log, newest first, 50 a page, with the per-day chart and the options.

    `?q=` a number (any notation), `?date_from=`/`?date_to=` days (YYYY-MM-DD, tenant time zone),
    `?matched=yes|no`, `?sender=`, `?page=`. A bad filter gets the page with the form's message
    and HTTP 400.
    """
    return _call_log_page(request, tenant, options_form=_options_form(tenant))


@tenant_admin_required
@require_POST
def call_log_options(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Save the tenant's call-log options; invalid values get the page with the errors (HTTP 400)."""
    form = _options_form(tenant, request.POST)
    if not form.is_valid():
        return _call_log_page(request, tenant, options_form=form, status=400)
    call_journal_options_update(
        tenant=tenant,
        enabled=form.cleaned_data["enabled"],
        days_kept=form.cleaned_data["days_kept"],
        mask_numbers=form.cleaned_data["mask_numbers"],
    )
    messages.success(request, _("The call-log options are saved."))
    return redirect("call-log")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@tenant_admin_required
@require_GET
def call_log_entry(request: HttpRequest, tenant: Tenant, entry_id: int) -> HttpResponse:
    """One entry: when, who sent it, the request and the exact answer as pretty JSON (404 for
    another tenant's)."""
    if entry_id > _MAX_ID:
        raise Http404("No such call-log entry.")
    try:
        entry = call_journal_entry_get(tenant=tenant, entry_id=entry_id)
    except CallJournalEntry.DoesNotExist:
        raise Http404("No such call-log entry.") from None
    context = {
        "entry": entry,
        "request_json": _pretty(entry.request),
        "answer_json": _pretty(entry.answer) if entry.answer is not None else "",
        "server_runs": server_script_runs_of_call(tenant=tenant, call_id=entry.call_id),
        "active": "call-log",
    }
    return render_page(request, "integrations/call_log_entry.html", tenant=tenant, context=context)


@tenant_admin_required
@require_GET
def server_requests(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The tenant's recent requests of scripts the server runs, each with its attempts;
    `?failed=1` shows only the failed and refused ones."""
    failed_only = request.GET.get("failed") == "1"
    runs = server_script_runs_recent(tenant=tenant, failed_only=failed_only)
    return render_page(
        request,
        "integrations/server_requests.html",
        tenant=tenant,
        context={"runs": runs, "failed_only": failed_only, "active": "call-log"},
    )


@tenant_admin_required
@require_GET
def match_quality(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The match-quality report: matched shares over 7 and 30 days, per integration and for the
    tenant, the most frequent unmatched callers with "create contact" links, and numbers that
    matched several records."""
    report = match_quality_report(tenant=tenant)
    return render_page(
        request,
        "integrations/match_quality.html",
        tenant=tenant,
        context={"report": report, "active": "match-quality"},
    )
