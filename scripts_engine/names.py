"""Names of call properties and how placeholder names are matched."""

from __future__ import annotations

import typing
from dataclasses import dataclass

PropertyKind = typing.Literal["phone", "time", "text"]


def normalize_name(name: str) -> str:
    """Return the matching key of a placeholder or field name.

    Names match ignoring case, whitespace and underscores, so that the manual's own
    ``#(Callernumber)`` and ``#(caller_number)`` mean ``#(Caller number)``:
    ``normalize_name("Caller_number ") == "callernumber"``. ``casefold`` rather than
    ``lower`` so that CRM field names outside ASCII compare the way people expect.
    """
    return "".join(name.casefold().replace("_", " ").split())


@dataclass(frozen=True)
class CallProperty:
    """One property of a call that ``#(NAME)`` can insert.

    ``name`` is the canonical spelling shown to admins, ``key`` its
    :func:`normalize_name` form, ``kind`` decides which formats apply
    (``"phone"``: e164/international/national/digits, ``"time"``: iso/epoch/strftime,
    ``"text"``: none) and ``attribute`` is the field of
    :class:`scripts_engine.CallProperties` holding the value.
    """

    name: str
    key: str
    kind: PropertyKind
    attribute: str


def _property(name: str, kind: PropertyKind) -> CallProperty:
    attribute = name.lower().replace(" ", "_")
    return CallProperty(name=name, key=normalize_name(name), kind=kind, attribute=attribute)


CALL_PROPERTIES: tuple[CallProperty, ...] = (
    # The seven of the CloudCTI manual (seed 003), in its order, then our extensions.
    _property("Caller name", "text"),
    _property("Caller number", "phone"),
    _property("Device name", "text"),
    _property("Device number", "phone"),
    _property("Ddi name", "text"),
    _property("Ddi number", "phone"),
    _property("Start time", "time"),
    _property("Call id", "text"),
    _property("Direction", "text"),
)

CALL_PROPERTIES_BY_KEY: dict[str, CallProperty] = {prop.key: prop for prop in CALL_PROPERTIES}
