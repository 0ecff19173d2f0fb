"""Formatting of phone numbers and times, before percent-encoding."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import phonenumbers

from scripts_engine.errors import gettext_noop, message

PHONE_FORMATS: tuple[str, ...] = ("e164", "international", "national", "digits")
TIME_FORMATS: tuple[str, ...] = ("iso", "epoch")

# A fixed moment to try strftime patterns on when a template is saved.
_SAMPLE_TIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)

_PNF = phonenumbers.PhoneNumberFormat


class FormatError(ValueError):
    """A format after the colon of a placeholder is not acceptable (message for admins)."""


def check_phone_format(fmt: str, property_name: str) -> str:
    """Return the canonical spelling of a phone format, or raise :class:`FormatError`.

    Formats match ignoring case and surrounding spaces (``" E164"`` is ``"e164"``).
    """
    canonical = fmt.strip().lower()
    if canonical not in PHONE_FORMATS:
        raise FormatError(
            message(
                gettext_noop(
                    'Unknown phone number format "%(format)s" for %(property)s; use one of: %(formats)s'
                ),
                format=fmt,
                property=property_name,
                formats=", ".join(PHONE_FORMATS),
            )
        )
    return canonical


def check_time_format(fmt: str, property_name: str) -> str:
    """Return the canonical spelling of a time format, or raise :class:`FormatError`.

    ``iso`` and ``epoch`` match ignoring case and surrounding spaces; anything with a
    ``%`` is a strftime pattern and is kept exactly as written (its spaces matter).
    """
    if "%" in fmt:
        try:
            _SAMPLE_TIME.strftime(fmt)
        except ValueError as exc:  # embedded NUL, unencodable characters, platform quirks
            raise FormatError(
                message(
                    gettext_noop(
                        'The time pattern "%(format)s" for %(property)s cannot be used: %(problem)s'
                    ),
                    format=fmt,
                    property=property_name,
                    problem=str(exc),
                )
            ) from None
        return fmt
    canonical = fmt.strip().lower()
    if canonical not in TIME_FORMATS:
        raise FormatError(
            message(
                gettext_noop(
                    'Unknown time format "%(format)s" for %(property)s; use iso, epoch or a strftime pattern '
                    "such as %%Y-%%m-%%d %%H:%%M"
                ),
                format=fmt,
                property=property_name,
            )
        )
    return canonical


def format_time(value: datetime | None, fmt: str | None) -> str:
    """Render a call's start time; ``fmt`` is a value returned by :func:`check_time_format`.

    ``None``/``"iso"``: ISO 8601 to the second with the offset of the aware datetime
    (``2024-05-01T14:03:00+02:00``); ``"epoch"``: integer Unix seconds; otherwise a
    ``datetime.strftime`` pattern. The caller converts the time to the tenant's zone
    first. A missing time renders as ``""``.
    """
    if value is None:
        return ""
    if fmt is None or fmt == "iso":
        return value.isoformat(timespec="seconds")
    if fmt == "epoch":
        return str(int(value.timestamp()))
    try:
        return value.strftime(fmt)
    except ValueError:
        # Patterns are checked when saved, but render must never raise on the hot path.
        return ""


def format_phone(raw: str, fmt: str | None, country: str) -> str:
    """Format a phone number from a call, without any URL encoding.

    ``country`` is the tenant's ISO 3166-1 alpha-2 code (``"NL"``; case-insensitive,
    may be ``""``), used as the default region for numbers written nationally and to
    decide what "national" means. ``fmt``:

    - ``None`` (the manual's "national full subscriber number"): a number of the
      tenant's country as its national number with trunk prefix and no spaces
      (``0201234567``); any other number in E.164 (``+442079460958``).
    - ``"e164"``: ITU-T E.164 with ``+`` (``+31201234567``).
    - ``"international"``: ``+31 20 123 4567``.
    - ``"national"``: ``020 123 4567``.
    - ``"digits"``: E.164 without the ``+`` (``31201234567``).

    A number libphonenumber cannot parse or that is not a possible number (internal
    extensions such as ``201``, ``anonymous``, ``""``) is returned as written with
    its whitespace removed, whatever the format.

    Raises ``ValueError`` for a ``fmt`` not listed above.
    """
    if fmt is not None and fmt not in PHONE_FORMATS:
        raise ValueError(f"unknown phone format {fmt!r}; expected one of {PHONE_FORMATS}")
    return _format_phone(raw, fmt, country.strip().upper())


@functools.lru_cache(maxsize=4096)
def _format_phone(raw: str, fmt: str | None, country: str) -> str:
    # Cached: one call renders several scripts with the same numbers, and parsing with
    # libphonenumber is the most expensive step of a render.
    as_written = "".join(raw.split())
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        return as_written
    if not phonenumbers.is_possible_number(number):
        return as_written
    if fmt == "international":
        return phonenumbers.format_number(number, _PNF.INTERNATIONAL)
    if fmt == "national":
        return phonenumbers.format_number(number, _PNF.NATIONAL)
    e164 = phonenumbers.format_number(number, _PNF.E164)
    if fmt == "e164":
        return e164
    if fmt == "digits":
        return e164[1:]
    if country and phonenumbers.region_code_for_number(number) == country:
        # National formats differ per country ("(201) 555-0123", "020 123 4567"); the
        # digits alone are the full subscriber number with trunk prefix. The extension
        # is left out so its digits do not run into the number.
        number.extension = None
        national = phonenumbers.format_number(number, _PNF.NATIONAL)
        return "".join(ch for ch in national if ch.isdigit())
    return e164
