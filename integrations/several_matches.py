"""Several matches: the integrations' match order, each one's policy, and duplicate numbers.

A caller's matches are ordered by integration order (`Integration.position`, which the admin
changes on the home page by drag or with the up/down buttons), then the preset's record types,
then name (`integrations.matching.match_call`). Per integration, `multiple_matches` says what
several records for one number become: all, the first, or a list to choose from (Efecte's
drop-down). Every write saves only the changed column, so the audit log records each change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils.translation import gettext as _

from integrations.models import Integration, MultipleMatches, PhoneCacheEntry
from tenants.models import Tenant


@transaction.atomic
def integration_reorder(*, tenant: Tenant, ordered_ids: Sequence[int]) -> list[Integration]:
    """Put the tenant's integrations in the order of `ordered_ids` (positions 0, 1, 2 …).

    `ordered_ids` must name each of the tenant's integrations exactly once; otherwise (another
    tenant's id, a missing or repeated one) raises `ValidationError` and nothing changes. Returns
    the integrations in their new order.
    """
    rows = {row.pk: row for row in Integration.objects.select_for_update().filter(tenant=tenant)}
    if len(ordered_ids) != len(set(ordered_ids)) or set(ordered_ids) != set(rows):
        raise ValidationError(
            _("The order must list each of your integrations once; reload the page and try again.")
        )
    ordered = [rows[pk] for pk in ordered_ids]
    for position, row in enumerate(ordered):
        if row.position != position:
            row.position = position
            row.save(update_fields=["position"])
    return ordered


def integration_move(*, tenant: Tenant, integration: Integration, offset: int) -> list[Integration]:
    """Move one integration `offset` places (-1 up, +1 down) in the tenant's match order.

    Moving past either end leaves it there. Another tenant's integration raises `ValidationError`.
    Returns the integrations in their new order.
    """
    ids = list(
        Integration.objects.filter(tenant=tenant).order_by("position", "id").values_list("pk", flat=True)
    )
    if integration.pk not in ids:
        raise ValidationError(_("No such integration."))
    index = ids.index(integration.pk)
    target = max(0, min(len(ids) - 1, index + offset))
    ids.insert(target, ids.pop(index))
    return integration_reorder(tenant=tenant, ordered_ids=ids)


def integration_set_multiple_matches(*, tenant: Tenant, integration: Integration, policy: str) -> Integration:
    """Set what the PBX gets when the integration has several records for a number.

    `policy` is "all", "first" or "choose" (`MultipleMatches`); anything else raises
    `ValidationError({"multiple_matches": ...})`. Saves only that column; another tenant's
    integration is left unchanged.
    """
    if policy not in MultipleMatches.values:
        raise ValidationError({"multiple_matches": f'"{policy}" is not one of all, first or choose.'})
    row = Integration.objects.filter(pk=integration.pk, tenant=tenant).first()
    if row is not None and row.multiple_matches != policy:
        row.multiple_matches = policy
        row.save(update_fields=["multiple_matches"])
    integration.refresh_from_db()
    return integration


@dataclass(frozen=True)
class DuplicateRecord:
    """One record that holds a duplicate number: its id, name, link and the number as written."""

    record_id: str
    title: str
    url: str
    number_as_written: str


@dataclass(frozen=True)
class DuplicateNumber:
    """A number (E.164) that more than one record of one integration holds."""

    e164: str
    records: list[DuplicateRecord]


def duplicate_numbers(
    *, tenant: Tenant, integration: Integration, limit: int = 50
) -> tuple[list[DuplicateNumber], int]:
    """Numbers held by more than one record in the integration's current cache generation.

    Returns at most `limit` numbers (most records first, then by number) with their records,
    and how many such numbers there are in all. Another tenant's integration has none.
    """
    current = PhoneCacheEntry.objects.filter(
        tenant=tenant,
        integration=integration,
        integration__tenant=tenant,
        generation=F("integration__cache_generation"),
    )
    grouped = (
        current.values("e164")
        .annotate(records=Count("record_id", distinct=True))
        .filter(records__gt=1)
        .order_by("-records", "e164")
    )
    total = grouped.count()
    numbers = [row["e164"] for row in grouped[:limit]]
    by_number: dict[str, dict[str, DuplicateRecord]] = {number: {} for number in numbers}
    for entry in current.filter(e164__in=numbers).order_by("display_name", "record_id"):
        by_number[entry.e164].setdefault(
            entry.record_id,
            DuplicateRecord(
                record_id=entry.record_id,
                title=entry.display_name,
                url=entry.record_url,
                number_as_written=entry.number_as_written,
            ),
        )
    return [DuplicateNumber(e164=n, records=list(by_number[n].values())) for n in numbers], total
