"""Rendering a parsed template for one call: the hot path of the matching API."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from scripts_engine.formats import format_phone, format_time
from scripts_engine.names import CALL_PROPERTIES_BY_KEY, normalize_name
from scripts_engine.parser import Literal, Placeholder, Template
from scripts_engine.schemes import DEFAULT_ALLOWED_SCHEMES, allowed_schemes, scheme_of

# Characters that may stand in a URL as they are (RFC 3986 reserved and unreserved,
# plus "%" so that escapes already in the value survive). Everything else (space,
# controls, non-ASCII, "<>\"^`{|}") is escaped, so a value inserted as the URL
# cannot hide a scheme behind whitespace that browsers would strip.
_URL_SAFE = ";/?:@&=+$,-_.!~*'()#[]%"

# Dial links need the "+" of a global number as it is: RFC 3966 `global-number-digits` is a
# literal "+", and `tel:%2B31…` is not a valid tel URI. Only phone-number values keep it.
_DIAL_SCHEMES = frozenset({"tel", "callto", "sip", "sips"})


@dataclass(frozen=True)
class CallProperties:
    """The properties of one call, as the PBX reported them.

    Numbers are as received (``"020 123 4567"``, ``"+31201234567"``, ``"201"``);
    ``start_time`` is an aware ``datetime`` already converted to the tenant's time
    zone. Unknown values are ``""`` / ``None`` and render as ``""``.
    """

    caller_name: str = ""
    caller_number: str = ""
    device_name: str = ""
    device_number: str = ""
    ddi_name: str = ""
    ddi_number: str = ""
    start_time: datetime | None = None
    call_id: str = ""
    direction: str = ""


def render(
    template: Template,
    *,
    call: CallProperties,
    record: Mapping[str, str] | None = None,
    country: str = "",
    extra_schemes: Collection[str] = (),
) -> str | None:
    """Render ``template`` into the link for one call, or ``None`` if it must not be shown.

    ``record`` holds the matched CRM record's fields, keys in any spelling (they are
    compared with :func:`normalize_name`); fields that are missing, or a missing
    record, render as ``""``. ``country`` is the tenant's ISO 3166-1 alpha-2 code for
    :func:`format_phone`.

    Each value is percent-encoded as UTF-8 per RFC 3986 section 2: everything but the
    unreserved ``A-Z a-z 0-9 - . _ ~`` is escaped, so a value cannot add ``&``, ``=``,
    ``/``, ``?``, ``#`` or ``:`` to the link. A placeholder that begins the template is
    the exception: its value is inserted as a URL (``$(PopUpUri)`` alone is a screen
    pop), escaping only characters that may not appear in a URL.

    Returns ``None`` unless the result starts with ``scheme:`` (RFC 3986 / WHATWG URL
    scheme syntax, at the very first character) whose scheme, ignoring case, is in
    :data:`DEFAULT_ALLOWED_SCHEMES` or ``extra_schemes`` (names with or without the
    colon, any case), never one of :data:`NEVER_ALLOWED_SCHEMES`. That refuses
    ``javascript:``, ``data:``, ``vbscript:``, ``file:`` and relative or empty results.
    Never raises for any values.
    """
    parts: list[str] = []
    fields: dict[str, str] | None = None
    first = True
    leading = template.tokens[0] if template.tokens else None
    dial = isinstance(leading, Literal) and scheme_of(leading.text) in _DIAL_SCHEMES
    for token in template.tokens:
        if isinstance(token, Literal):
            parts.append(token.text)
        else:
            safe = ""
            if token.kind == "call":
                value = _call_value(token, call, country)
                if dial and CALL_PROPERTIES_BY_KEY[token.key].kind == "phone":
                    safe = "+"
            else:
                if fields is None:
                    fields = _normalize_record(record)
                value = fields.get(token.key, "")
            if first:
                parts.append(quote(value, safe=_URL_SAFE, errors="replace"))
            else:
                parts.append(quote(value, safe=safe, errors="replace"))
        first = False
    link = "".join(parts)
    scheme = scheme_of(link)
    if scheme is None:
        return None
    # The default set answers almost every call; build the tenant's set only when needed.
    if scheme in DEFAULT_ALLOWED_SCHEMES or (extra_schemes and scheme in allowed_schemes(extra_schemes)):
        return link
    return None


def _call_value(placeholder: Placeholder, call: CallProperties, country: str) -> str:
    prop = CALL_PROPERTIES_BY_KEY[placeholder.key]
    value = getattr(call, prop.attribute)
    if prop.kind == "time":
        return format_time(value, placeholder.format)
    if value is None:
        return ""
    text = str(value)
    if prop.kind == "phone":
        return format_phone(text, placeholder.format, country)
    return text


def _normalize_record(record: Mapping[str, str] | None) -> dict[str, str]:
    if not record:
        return {}
    # Values may come from JSON; a None or a number must still render.
    return {normalize_name(key): "" if value is None else str(value) for key, value in record.items()}


@dataclass(frozen=True)
class RenderedPart:
    """One token of a template rendered as plain text (no escaping).

    ``value`` is True for a placeholder's value, False for template text; ``start`` is where
    the token begins in the template source.
    """

    text: str
    value: bool
    start: int


def render_parts(
    template: Template,
    *,
    call: CallProperties,
    record: Mapping[str, str] | None = None,
    country: str = "",
) -> tuple[RenderedPart, ...]:
    """Render ``template`` token by token as plain text, for callers that escape values themselves.

    Phone numbers and times are formatted as in :func:`render`; nothing is percent-encoded and
    no scheme is checked (a server request's header values and JSON or form bodies use this).
    Never raises for any values.
    """
    parts: list[RenderedPart] = []
    fields: dict[str, str] | None = None
    position = 0
    for token in template.tokens:
        if isinstance(token, Literal):
            parts.append(RenderedPart(token.text, False, position))
            position += len(token.text)
            continue
        if token.kind == "call":
            value = _call_value(token, call, country)
        else:
            if fields is None:
                fields = _normalize_record(record)
            value = fields.get(token.key, "")
        parts.append(RenderedPart(value, True, token.start))
        position = token.end
    return tuple(parts)
