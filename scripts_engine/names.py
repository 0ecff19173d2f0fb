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
    """One property of a call: the single declaration the whole product shares.

    ``name`` is the canonical spelling shown to admins (``#(Caller number)``), ``key`` its
    :func:`normalize_name` form, ``kind`` decides which formats apply
    (``"phone"``: e164/international/national/digits, ``"time"``: iso/epoch/strftime,
    ``"text"``: none) and ``attribute`` is both the field of
    :class:`scripts_engine.CallProperties` holding the value and the call parameter's name in the
    matching API, the PBX adapters, the call log and the OpenAPI schema (``caller_number``).
    ``max_length`` is the longest value a PBX may send, in characters; ``description`` and
    ``example`` document the parameter (the API docs show them).
    """

    name: str
    key: str
    kind: PropertyKind
    attribute: str
    max_length: int = 64
    description: str = ""
    example: str = ""


def _property(
    name: str, kind: PropertyKind, *, description: str, example: str, max_length: int = 64
) -> CallProperty:
    attribute = name.lower().replace(" ", "_")
    return CallProperty(
        name=name,
        key=normalize_name(name),
        kind=kind,
        attribute=attribute,
        max_length=max_length,
        description=description,
        example=example,
    )


CALL_PROPERTIES: tuple[CallProperty, ...] = (
    # The seven of the CloudCTI manual (seed 003), in its order, then our extensions.
    _property(
        "Caller name",
        "text",
        max_length=200,
        description="The caller's name from the phone system, if it knows one.",
        example="Reception Acme",
    ),
    _property(
        "Caller number",
        "phone",
        description=(
            "The caller's number as the PBX has it, in any notation (`020 123 4567`, `+31201234567`, "
            "`0031 20 1234567`, `31201234567`, `1-800-FLOWERS`, with an optional extension), a `tel:` "
            "or `sip:` URI (`tel:+31-20-123-4567;ext=12`, `sip:+31201234567@pbx;user=phone`), an "
            "internal extension (`201`, `*12`; up to the tenant's internal-number length), a word for "
            "a withheld number (`anonymous`, `withheld`, `private`, `restricted`, `unknown`, `clir`, "
            "`unavailable`; any case), or empty. National numbers are read in the tenant's country. "
            "The answer's `call.caller_kind` says how it was read."
        ),
        example="+31201234567",
    ),
    _property(
        "Device name",
        "text",
        max_length=200,
        description="The name of the device or user the call rings on.",
        example="Alice",
    ),
    _property(
        "Device number", "phone", description="The extension or device the call rings on.", example="201"
    ),
    _property(
        "Ddi name",
        "text",
        max_length=200,
        description="The name of the DDI (e.g. a queue or department).",
        example="Sales",
    ),
    _property(
        "Ddi number", "phone", description="The number the caller dialled (DDI).", example="+31207654321"
    ),
    _property(
        "Start time",
        "time",
        description=(
            "When the call started: ISO 8601 (`2026-11-21T10:15:00+01:00`; without an offset, the "
            "tenant's time zone) or Unix seconds (`1763719200`). Default: now."
        ),
        example="2026-11-21T10:15:00+01:00",
    ),
    _property(
        "Call id",
        "text",
        max_length=200,
        description="The PBX's id for the call, passed on to scripts.",
        example="1763716500.42",
    ),
    _property("Direction", "text", description="`in` or `out` (any case).", example="in"),
)

CALL_PROPERTIES_BY_KEY: dict[str, CallProperty] = {prop.key: prop for prop in CALL_PROPERTIES}
