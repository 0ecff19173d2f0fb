"""The tenant's ignore list: numbers and prefixes that never produce a notification.

Like Placetel's ignore list and Zammad's block list: an entry is one whole number (E.164) or a
prefix (`+3190`: every number that starts with it); its action is "ignore" (the answer has no
matches and no actions, and says `"ignored": true`) or "reject" (the same, and adapters whose PBX
can reject a call, such as Zammad's generic CTI API, tell it to). One lookup per call is one
indexed query, whatever the size of the list (see bench/ignore_list_bench.py).
"""

from __future__ import annotations

import re

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from integrations.models import IgnoreAction, IgnoredNumber, IgnoreKind
from integrations.phones import PhoneNumberError, normalize_phone
from tenants.models import Tenant

# E.164 numbers have at most 15 digits after "+"; a prefix is a start of such a number.
_MAX_DIGITS = 15
_PREFIX_SEPARATORS = re.compile(r"[\s\-./()]")
_TRUNK_IN_BRACKETS = re.compile(r"(?<=\d)\s*\(0\)")


def caller_ignored(tenant: Tenant, e164: str | None) -> IgnoredNumber | None:
    """The ignore-list entry that covers caller `e164` ("+31201234567"), or None.

    The most specific entry wins: the whole number before any prefix, a longer prefix before a
    shorter one (so "+3190 reject" with "+31901234567 ignore" ignores that one number). None for
    a caller without an E.164 number (withheld, internal). One query on (tenant, number).
    """
    if not e164 or not e164.startswith("+"):
        return None
    prefixes = [e164[:end] for end in range(2, len(e164) + 1)]
    # One IN on the (tenant, number) index; which kind may cover the caller is sorted out here.
    candidates = [
        entry
        for entry in IgnoredNumber.objects.filter(tenant=tenant, number__in=prefixes)
        if entry.kind == IgnoreKind.PREFIX or entry.number == e164
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda entry: (entry.kind == IgnoreKind.NUMBER, len(entry.number)))


def ignored_number_list(*, tenant: Tenant) -> QuerySet[IgnoredNumber]:
    """The tenant's ignore list, by number."""
    return IgnoredNumber.objects.filter(tenant=tenant).select_related("added_by").order_by("number", "id")


def ignore_prefix_normalize(raw: str, *, country: str) -> str:
    """A prefix as the start of E.164 numbers: "+31 90" -> "+3190", "0031 90" -> "+3190".

    A prefix written nationally ("090") gets the country code of `country` (ISO 3166 alpha-2)
    instead of its trunk prefix ("0"). Raises `ValueError` (in words) for anything else: letters,
    no digits, more than 15 digits, a country code that does not exist.
    """
    # "+31 (0)90": the bracketed trunk prefix is not dialled from abroad, as libphonenumber reads it.
    text = _PREFIX_SEPARATORS.sub("", _TRUNK_IN_BRACKETS.sub("", raw.strip()))
    if not text:
        raise ValueError("Enter a prefix, e.g. +3190.")
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    else:
        digits = ""
        trunk = _trunk_prefix(country)
        if trunk and text.startswith(trunk) and text.isdigit():
            code = phonenumbers.country_code_for_region(country)
            digits = f"{code}{text[len(trunk) :]}"
        if not digits:
            raise ValueError(
                f'"{raw}" is not a prefix: start it with + and the country code (+3190) or with '
                "the national trunk prefix (090)."
            )
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f'"{raw}" is not a prefix: use digits only after the +, e.g. +3190.')
    if len(digits) > _MAX_DIGITS:
        raise ValueError(f'"{raw}" is longer than a whole phone number (at most 15 digits).')
    if not _country_code_known(digits):
        raise ValueError(f'"{raw}" does not start with a country code.')
    return f"+{digits}"


def _trunk_prefix(country: str) -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country.upper()) if country else None
    return str(metadata.national_prefix or "") if metadata is not None else ""


def _country_code_known(digits: str) -> bool:
    # Country codes are 1 to 3 digits; a prefix may stop inside one ("+3" covers +31, +32, …).
    for length in range(1, 4):
        code = digits[:length]
        if len(code) < length:
            break
        if phonenumbers.region_code_for_country_code(int(code)) != phonenumbers.UNKNOWN_REGION:
            return True
        if int(code) in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
            return True
    if len(digits) < 3:
        return any(str(code).startswith(digits) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    return False


def ignored_number_clean(*, tenant: Tenant, number: str, kind: str) -> str:
    """`number` as stored for an entry of `kind`: E.164 for a number, "+digits" for a prefix.

    Raises `ValidationError({"number": ...})` for a malformed number or prefix, `{"kind": ...}`
    for an unknown kind. Numbers are read with the tenant's country as the default region.
    """
    if kind not in IgnoreKind.values:
        raise ValidationError({"kind": f'"{kind}" is not number or prefix.'})
    if kind == IgnoreKind.PREFIX:
        try:
            return ignore_prefix_normalize(number, country=tenant.country)
        except ValueError as exc:
            raise ValidationError({"number": str(exc)}) from None
    try:
        parsed = normalize_phone(number, country=tenant.country)
    except PhoneNumberError as exc:
        raise ValidationError({"number": f"Not a phone number: {exc}."}) from None
    if parsed.extension:
        raise ValidationError({"number": _("Enter the number without an extension: callers have none.")})
    return parsed.e164


def ignored_number_add(
    *,
    tenant: Tenant,
    number: str,
    kind: str = IgnoreKind.NUMBER,
    action: str = IgnoreAction.IGNORE,
    note: str = "",
    added_by: AbstractBaseUser | AnonymousUser | None = None,
) -> IgnoredNumber:
    """Add a number or prefix to the tenant's ignore list (the audit log records it).

    Raises `ValidationError` naming the field: a malformed number or prefix, an unknown kind or
    action, a note over 200 characters, or an entry the list already has.
    """
    stored = ignored_number_clean(tenant=tenant, number=number, kind=kind)
    if action not in IgnoreAction.values:
        raise ValidationError({"action": f'"{action}" is not ignore or reject.'})
    note = note.strip()
    if len(note) > 200:
        raise ValidationError({"note": _("Keep the note under 200 characters.")})
    user = added_by if isinstance(added_by, User) else None
    try:
        with transaction.atomic():
            return IgnoredNumber.objects.create(
                tenant=tenant,
                number=stored,
                kind=kind,
                action=action,
                note=note,
                added_by=user,
                added_by_name=user.get_username() if user is not None else "",
            )
    except IntegrityError:
        raise ValidationError({"number": f"{stored} is already on the ignore list."}) from None


def ignored_number_remove(*, tenant: Tenant, entry_id: int) -> bool:
    """Remove one entry of the tenant's ignore list; False if it has no such entry (another tenant's)."""
    entry = IgnoredNumber.objects.filter(tenant=tenant, pk=entry_id).first()
    if entry is None:
        return False
    entry.delete()
    return True
