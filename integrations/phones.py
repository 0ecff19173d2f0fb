"""Phone-number normalization for the phone cache and the matching API (libphonenumber).

Numbers are stored and compared as E.164 (ITU-T E.164: `+` country code subscriber number,
at most 15 digits); the tenant's country is the default region for numbers written without a
country code, so `020 123 4567`, `+31 (0)20 123 4567` and `0031 20 1234567` are all `+31201234567`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

# What PBXs send for withheld numbers (CLIR); such calls match nothing.
ANONYMOUS_CALLER_NUMBERS = frozenset({"anonymous", "withheld", "private", "restricted", "unknown", "clir"})

# Digits, the usual separators, a leading +, brackets, and an optional extension marker.
_PHONE_CHARACTERS = re.compile(r"[0-9+()\-./\s]+((ext\.?|extension|x|#|;ext=)\s*[0-9]+)?", re.IGNORECASE)


class PhoneNumberError(ValueError):
    """A text that is not a phone number; `str()` says why, in words an admin understands."""


@dataclass(frozen=True)
class NormalizedNumber:
    """A parsed number: `e164` like "+31201234567", `extension` like "12" or ""."""

    e164: str
    extension: str


def normalize_phone(raw: str, *, country: str) -> NormalizedNumber:
    """Parse `raw` as written in a CRM or by a PBX into E.164.

    `country` is the ISO 3166 alpha-2 default region. Raises `PhoneNumberError` when the text is
    not a phone number, or not a possible number length for its country.
    """
    text = raw.strip()
    if not text:
        raise PhoneNumberError("the number is empty")
    if not _PHONE_CHARACTERS.fullmatch(text):
        raise PhoneNumberError(f'"{raw}" contains characters that do not belong in a phone number')
    try:
        number = phonenumbers.parse(text, country or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f'"{raw}" is not a phone number: {exc._msg}') from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneNumberError(f'"{raw}" has the wrong number of digits for a phone number of its country')
    return NormalizedNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        extension=number.extension or "",
    )
