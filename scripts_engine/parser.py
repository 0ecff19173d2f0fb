"""Parsing URL templates into tokens: done once, when a script is saved or loaded."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from urllib.parse import unquote

from scripts_engine.errors import TemplateError, gettext_noop, message
from scripts_engine.formats import FormatError, check_phone_format, check_time_format
from scripts_engine.names import CALL_PROPERTIES, CALL_PROPERTIES_BY_KEY, normalize_name

# Openers and closers may be written plainly or percent-encoded, since the manual's
# mailto example stores the whole template URL-encoded (%23%28Callernumber%29).
_OPENER = re.compile(r"(?:#|%23)(?:\(|%28)|(?:\$|%24)(?:\(|%28)")
_CLOSER = re.compile(r"\)|%29")
_COLON = re.compile(r":|%3a", re.IGNORECASE)

_CALL_NAMES = ", ".join(prop.name for prop in CALL_PROPERTIES)


@dataclass(frozen=True)
class Literal:
    """Template text copied to the rendered link unchanged."""

    text: str


@dataclass(frozen=True)
class Placeholder:
    """A ``#(NAME)`` (``kind="call"``) or ``$(NAME)`` (``kind="record"``) in a template.

    ``key`` is the matching key: for call properties the canonical
    :attr:`CallProperty.key`, for record fields ``normalize_name(name)``. ``name`` is
    the name as written (percent-decoded), without the format. ``format`` is the
    canonical format (``"e164"``, ``"iso"``, a strftime pattern…) or ``None`` for
    the default. ``start``/``end`` delimit the placeholder in the source
    (``source[start:end]``), openers and closer included.
    """

    kind: typing.Literal["call", "record"]
    key: str
    name: str
    format: str | None
    start: int
    end: int


Token = Literal | Placeholder


@dataclass(frozen=True)
class Template:
    """A parsed template: the source and its tokens, in order, never two literals in a row."""

    source: str
    tokens: tuple[Token, ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        """The placeholders, in source order."""
        return tuple(token for token in self.tokens if isinstance(token, Placeholder))

    @property
    def record_field_keys(self) -> frozenset[str]:
        """Normalized names of the CRM record fields used, e.g. ``{"displayname"}``."""
        return frozenset(
            token.key for token in self.tokens if isinstance(token, Placeholder) and token.kind == "record"
        )

    @property
    def begins_with_placeholder(self) -> bool:
        """Whether the first token is a placeholder, whose value is then inserted as a URL."""
        return bool(self.tokens) and isinstance(self.tokens[0], Placeholder)


def starts_with_placeholder_opener(source: str) -> bool:
    """Whether ``source`` starts with ``#(``, ``$(`` or an encoded form of them."""
    return _OPENER.match(source) is not None


def parse(source: str) -> Template:
    """Parse a URL template into a :class:`Template`.

    Placeholders are ``#(NAME)`` for call properties and ``$(NAME)`` for CRM record
    fields, optionally ``#(NAME:FORMAT)`` (split at the first colon). Each of ``#``,
    ``$``, ``(`` and ``)`` may also be percent-encoded (``%23``, ``%24``, ``%28``,
    ``%29``, RFC 3986 section 2.1); inside such an encoded placeholder the format is
    percent-decoded too. Names are always percent-decoded, as no name contains ``%``.

    Any non-empty record field name is accepted here (which fields exist depends on
    the integration; :func:`scripts_engine.validate` checks them). An empty source
    parses to a template without tokens.

    Raises :class:`TemplateError`, positioned at the placeholder's first character,
    for a placeholder without closing bracket, an empty name, an unknown call
    property, a format on a property or field that takes none, and an unknown format.
    """
    tokens: list[Token] = []
    pos = 0
    length = len(source)
    while pos < length:
        opener = _OPENER.search(source, pos)
        if opener is None:
            tokens.append(Literal(source[pos:]))
            break
        if opener.start() > pos:
            tokens.append(Literal(source[pos : opener.start()]))
        placeholder = _parse_placeholder(source, opener)
        tokens.append(placeholder)
        pos = placeholder.end
    return Template(source=source, tokens=tuple(tokens))


def _parse_placeholder(source: str, opener: re.Match[str]) -> Placeholder:
    start = opener.start()
    opening = opener.group()
    is_call = opening[0] == "#" or opening.startswith("%23")
    kind: typing.Literal["call", "record"] = "call" if is_call else "record"
    closer = _CLOSER.search(source, opener.end())
    # A new opener before the closer means this one was never closed: report it here,
    # not as a strange name running into the next placeholder.
    if closer is None or _OPENER.search(source, opener.end(), closer.start()) is not None:
        bracket = "#(" if kind == "call" else "$("
        raise TemplateError(
            message(gettext_noop('This "%(bracket)s" has no closing bracket ")"'), bracket=bracket), start
        )

    encoded = "%" in opening or closer.group() != ")"
    inner = source[opener.end() : closer.start()]
    colon = _COLON.search(inner)
    if colon is None:
        raw_name, raw_format = inner, None
    else:
        raw_name, raw_format = inner[: colon.start()], inner[colon.end() :]
    name = unquote(raw_name)
    fmt = unquote(raw_format) if encoded and raw_format is not None else raw_format
    key = normalize_name(name)

    if not key:
        example = "#(Caller number)" if kind == "call" else "$(DisplayName)"
        raise TemplateError(
            message(
                gettext_noop("This placeholder has no name; write one like %(example)s"), example=example
            ),
            start,
        )

    if kind == "record":
        if fmt is not None:
            raise TemplateError(
                message(
                    gettext_noop('The CRM field "%(name)s" takes no format; remove ":%(format)s"'),
                    name=name,
                    format=fmt,
                ),
                start,
            )
        return Placeholder("record", key, name, None, start, closer.end())

    prop = CALL_PROPERTIES_BY_KEY.get(key)
    if prop is None:
        raise TemplateError(
            message(
                gettext_noop('Unknown call property "%(name)s"; use one of: %(names)s'),
                name=name,
                names=_CALL_NAMES,
            ),
            start,
        )
    if fmt is not None:
        if prop.kind == "text":
            raise TemplateError(
                message(
                    gettext_noop('The call property "%(name)s" takes no format; remove ":%(format)s"'),
                    name=prop.name,
                    format=fmt,
                ),
                start,
            )
        if not fmt.strip():
            raise TemplateError(
                message(gettext_noop('The format after "%(name)s:" is missing'), name=prop.name), start
            )
        try:
            if prop.kind == "phone":
                fmt = check_phone_format(fmt, prop.name)
            else:
                fmt = check_time_format(fmt, prop.name)
        except FormatError as exc:
            raise TemplateError(exc.args[0], start) from None
    return Placeholder("call", prop.key, name, fmt, start, closer.end())
