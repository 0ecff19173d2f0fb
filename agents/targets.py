"""Which agents a call is for: comparing the numbers and names a PBX sends with the agents' targets.

A target's `key` and a call's candidates are read the same way (`target_key`, `call_keys`):

- a number of at most the tenant's `internal_number_length` digits is an extension: its digits
  ("201", "0201" stays "0201");
- a longer number is read as E.164 in the tenant's country (`integrations.phones.normalize_phone`:
  "020 555 0100", "31205550100" and "+31 20 555 0100" are all "+31205550100");
- anything else (a user name as Zammad's and sipgate's `user[]` send it, a SIP address, a queue
  name) is compared case-insensitively with runs of spaces as one.

Devices are compared with every number and name of the call; DDIs with its numbers; queues with
its names (Zammad's `queue`, the match API's `ddi_name`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from agents.models import AgentProfile, TargetKind
from integrations.phones import PhoneNumberError, normalize_phone
from tenants.models import Tenant

# What a number (not a name) looks like: digits with the usual separators, or a tel: URI.
_NUMBER = re.compile(r"(?:tel:)?\+?[0-9][0-9 ()./-]*", re.IGNORECASE)


def _name_key(value: str) -> str:
    return " ".join(value.casefold().split())[:100]


def number_key(value: str, *, tenant: Tenant) -> str | None:
    """The comparable form of a number (see the module docstring), or None if `value` is no number."""
    text = value.strip()
    if not text or not _NUMBER.fullmatch(text):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) <= tenant.internal_number_length and not text.startswith("+"):
        return digits
    try:
        return normalize_phone(text, country=tenant.country).e164
    except PhoneNumberError:
        return digits[:100]


def target_key(kind: str, value: str, *, tenant: Tenant) -> str:
    """The key a target of `kind` with `value` is stored and looked up under.

    Raises ValueError for an empty value or a DDI that is not a number.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty")
    if kind == TargetKind.QUEUE:
        return _name_key(text)
    key = number_key(text, tenant=tenant)
    if key is not None:
        return key
    if kind == TargetKind.DDI:
        raise ValueError(f"“{text[:40]}” is not a phone number")
    return _name_key(text)


@dataclass(frozen=True)
class CallKeys:
    """A call's comparable numbers and names (`call_keys`)."""

    numbers: frozenset[str] = field(default_factory=frozenset)
    names: frozenset[str] = field(default_factory=frozenset)
    queues: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.numbers or self.names or self.queues)


def call_keys(
    *, tenant: Tenant, numbers: Iterable[str] = (), names: Iterable[str] = (), queues: Iterable[str] = ()
) -> CallKeys:
    """The keys of a call's device/called `numbers`, device `names` (a "a, b" list is split) and
    `queues`. A "number" that is not one counts as a name (sipgate sends a user's name in `user`)."""
    number_keys: set[str] = set()
    name_keys: set[str] = set()
    for value in numbers:
        key = number_key(value, tenant=tenant)
        if key is not None:
            number_keys.add(key)
        elif value.strip():
            name_keys.add(_name_key(value))
    for value in names:
        for part in [value, *value.split(",")]:
            if part.strip():
                name_keys.add(_name_key(part))
    queue_keys = {_name_key(v) for v in queues if v.strip()}
    return CallKeys(frozenset(number_keys), frozenset(name_keys), frozenset(queue_keys))


def agents_for_keys(*, tenant: Tenant, keys: CallKeys) -> QuerySet[AgentProfile]:
    """The tenant's active agents with a target among `keys` (none for empty keys)."""
    if not keys:
        return AgentProfile.objects.none()
    any_key = keys.numbers | keys.names
    match = (
        Q(targets__kind=TargetKind.DEVICE, targets__key__in=any_key)
        | Q(targets__kind=TargetKind.DDI, targets__key__in=keys.numbers)
        | Q(targets__kind=TargetKind.QUEUE, targets__key__in=keys.queues)
    )
    active = get_user_model().objects.filter(is_active=True).values("pk")
    return (
        AgentProfile.objects.filter(tenant=tenant, targets__tenant=tenant, user__in=active)
        .filter(match)
        .distinct()
        .order_by("id")
    )


def agent_for_device(*, tenant: Tenant, keys: CallKeys) -> AgentProfile | None:
    """The one active agent whose device is among `keys` (the device that answered or dialled),
    or None when no agent's or several agents' devices are."""
    if not (keys.numbers or keys.names):
        return None
    active = get_user_model().objects.filter(is_active=True).values("pk")
    found = list(
        AgentProfile.objects.filter(
            tenant=tenant,
            user__in=active,
            targets__tenant=tenant,
            targets__kind=TargetKind.DEVICE,
            targets__key__in=keys.numbers | keys.names,
        ).distinct()[:2]
    )
    return found[0] if len(found) == 1 else None
