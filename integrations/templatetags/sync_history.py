"""Template filters of the overview's sync history."""

from __future__ import annotations

from django import template
from django.utils import formats
from django.utils.translation import gettext as _

from integrations.models import SyncRun

register = template.Library()


@register.filter
def run_duration(run: SyncRun) -> str:
    """How long `run` took: "3,5 s" / "3.5 s" under a minute (the language's decimal mark), else
    "12 min 5 s" or "2 h 3 min"; "—" while it runs."""
    if run.finished_at is None:
        return "—"
    seconds = max(0.0, (run.finished_at - run.started_at).total_seconds())
    if seconds < 60:
        shown = round(seconds, 1)
        decimals = 0 if shown == int(shown) else 1
        return _("%(seconds)s s") % {"seconds": formats.number_format(shown, decimal_pos=decimals)}
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return _("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
