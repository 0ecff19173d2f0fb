"""The call contract: one `Call` type, read and written by one serializer, for every sender.

A call's properties are declared once, in `scripts_engine.CALL_PROPERTIES` (name, kind, API
parameter name, longest value, description, example). From that table come:

- `CallSerializer`: the matching API's input (it validates the parameters a PBX sends and makes a
  `Call`) and the `call` object of every answer (it renders a `Call`), so the OpenAPI schema that
  drf-spectacular builds from it is the behaviour;
- `call_from_params`: the same serializer for the PBX adapters (integrations.pbx), the test-lookup
  panel and the CLI;
- `Call.properties()`: the call as the template language sees it (`#(Caller number)` …);
- `Call.from_json()`: a call back from an answer kept in the call log or a server-script run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext_noop
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

import scripts_engine
from integrations.phones import (
    ANONYMOUS_CALLER_NUMBERS,
    CallerKind,
    CallerReading,
    PhoneNumberError,
    read_caller,
)
from integrations.texts import Text
from tenants.models import Tenant

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise as _StrPromise

# The call parameters by their API name, the required one first, then the manual's order.
CALL_PROPERTIES_BY_PARAMETER: dict[str, scripts_engine.CallProperty] = {
    prop.attribute: prop
    for prop in sorted(scripts_engine.CALL_PROPERTIES, key=lambda p: p.attribute != "caller_number")
}
CALL_PARAMETERS: tuple[str, ...] = tuple(CALL_PROPERTIES_BY_PARAMETER)
DIRECTIONS = ("in", "out")
# At most this many unknown parameter names are named in an error; the rest are only counted.
MAX_UNKNOWN_NAMED = 20
_NAME_ECHO_LENGTH = 40


def max_length(name: str) -> int:
    """The longest value accepted for call parameter `name`, in characters (before stripping)."""
    prop = CALL_PROPERTIES_BY_PARAMETER.get(name)
    return prop.max_length if prop else 64


def _case_insensitive(word: str) -> str:
    # Only "." needs escaping here; an escaped "#" would be an error in ECMA-262's Unicode mode.
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c.replace(".", "\\.") for c in word)


_SPACE = r"[ \t]*"
# A number as people and PBXs write it: starts with a digit, "+" or "(", then digits, the usual
# separators, letters (vanity numbers, words after the number, extension markers) and "#;=,".
_PHONE = r"[0-9+(][0-9A-Za-z+().\-/ \t#;=,]*"
# A tel:, sip: or sips: URI (visible ASCII), optionally in <brackets>.
_URI = "<?(?:" + "|".join(_case_insensitive(s) for s in ("tel", "sips", "sip")) + r"):[!-;=?-~]+>?"
_ANONYMOUS = "|".join(_case_insensitive(word) for word in sorted(ANONYMOUS_CALLER_NUMBERS))
# What a caller number may look like: empty, a withheld-number word (any case), an internal
# extension (`*12`, `201`), a `tel:`/`sip:` URI, or a number in any notation (see
# integrations.phones), with blanks around. Written to mean the same in Python `re` and
# ECMA-262, because the OpenAPI schema publishes it as `pattern` and `CallSerializer` checks
# values with it the way JSON Schema does (`re.search`): anything the published pattern admits
# passes this check.
CALLER_NUMBER_PATTERN = rf"^{_SPACE}(?:{_ANONYMOUS}|\*[0-9]{{1,15}}|{_URI}|{_PHONE})?{_SPACE}$"
# A call's start time: Unix seconds, or an ISO 8601 date-time (RFC 3339 profile, "T" or a space,
# seconds and fraction optional, "Z" or an offset, or none for the tenant's zone), or empty for now.
# Written for Python `re` and ECMA-262 alike: the OpenAPI schema publishes it as `pattern`.
START_TIME_PATTERN = (
    r"^(?:[0-9]{1,12}(?:\.[0-9]{1,9})?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?)?$"
)
_PATTERNS = {"caller_number": CALLER_NUMBER_PATTERN, "start_time": START_TIME_PATTERN}
_CALLER_NUMBER = re.compile(CALLER_NUMBER_PATTERN)
_START_TIME = re.compile(START_TIME_PATTERN)
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_UNKNOWN = "unknown parameter"
_NOT_A_CALLER_NUMBER = gettext_noop(
    '"%(number)s" contains characters that do not belong in a phone number; send digits with '
    "optional + ( ) - . / and spaces, an extension, or anonymous for a withheld number"
)


class CallInputError(ValueError):
    """The call's parameters are wrong; `errors` maps each parameter name to what is wrong.

    Parameter names that are not printable text are shown escaped (`\\ud800`) and cut to 40
    characters. `unknown_left_out` counts unknown parameter names beyond the first
    `MAX_UNKNOWN_NAMED`, which are not in `errors`, so an answer stays small for any input.
    `texts` maps a parameter name to its error as a `integrations.texts.Text` when there is one
    (the caller number's reading), for a page in the reader's language; `errors` stays English.
    """

    def __init__(
        self, errors: Mapping[str, str], *, unknown_left_out: int = 0, texts: Mapping[str, str] | None = None
    ) -> None:
        message = "; ".join(f"{k}: {v}" for k, v in errors.items())
        if any(v == _UNKNOWN for v in errors.values()):
            message += f" (the parameters are {', '.join(CALL_PARAMETERS)})"
        if unknown_left_out:
            message += f"; {unknown_left_out} more unknown parameter names left out"
        super().__init__(message)
        self.errors = dict(errors)
        self.unknown_left_out = unknown_left_out
        self.texts = dict(texts or {})


def shown_name(name: str, limit: int = _NAME_ECHO_LENGTH) -> str:
    """`name` safe to put in an answer or a message: non-printable characters escaped, cut to
    `limit` characters (40 by default) with "…"."""
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def _not_a_string(raw: object) -> str:
    if raw is None:
        return "must be a string, not null; leave the parameter out instead"
    if isinstance(raw, bool):
        return "must be a string, not true or false"
    if isinstance(raw, int | float):
        return 'must be a string: write the value in quotes, e.g. "1763719200"'
    if isinstance(raw, list | tuple):
        if len(raw) == 1:
            return "must be a string, not a list"
        return f"must be one string, not {len(raw)} values (was the parameter sent more than once?)"
    if isinstance(raw, Mapping):
        return "must be a string, not an object"
    return "must be a string"


def _text_problem(text: str) -> str | None:
    bad = _NOT_TEXT.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains a NUL character"
    return f"contains a lone surrogate ({ascii(bad.group())[1:-1]}), which is not Unicode text; send UTF-8"


@dataclass(frozen=True)
class Call:
    """A call as every sender's event becomes it: the one type the matching API, the PBX adapters
    (integrations.pbx), the call log, server-run scripts and the template engine share.

    The properties of `scripts_engine.CALL_PROPERTIES` (`caller_number` as sent, stripped;
    `start_time` aware, in the tenant's time zone; the others text, `""` when not sent), plus how
    the caller number was read: `caller_number_e164` is None for withheld (`anonymous`), internal
    short and empty numbers; `caller_kind` says which (`integrations.phones.CallerKind`);
    `caller_extension` is the extension written with an external number (`;ext=12`, `x12`), "".
    """

    caller_number: str
    caller_number_e164: str | None
    anonymous: bool
    start_time: dt.datetime
    caller_name: str = ""
    device_number: str = ""
    device_name: str = ""
    ddi_number: str = ""
    ddi_name: str = ""
    call_id: str = ""
    direction: str = ""
    caller_kind: str = CallerKind.EXTERNAL
    caller_extension: str = ""

    def as_json(self) -> dict[str, Any]:
        """The call as the matching API returns it (`CallSerializer`'s representation)."""
        return dict(CallSerializer(self).data)

    def properties(self) -> scripts_engine.CallProperties:
        """The call as the template language sees it (`#(Caller number)` …): the caller number in
        E.164 when it was read as one, else as sent (empty when withheld)."""
        values: dict[str, Any] = {
            prop.attribute: getattr(self, prop.attribute) for prop in scripts_engine.CALL_PROPERTIES
        }
        values["caller_number"] = self.caller_number_e164 or ("" if self.anonymous else self.caller_number)
        return scripts_engine.CallProperties(**values)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Call:
        """The call of `as_json()`'s output (an answer's `call`, kept in the log or a server-script
        run). Missing or malformed values become empty; a missing or unreadable start time
        becomes the current time."""
        values = {name: str(data.get(name) or "") for name in CALL_PARAMETERS if name != "start_time"}
        try:
            start_time = dt.datetime.fromisoformat(str(data.get("start_time")))
        except ValueError:
            start_time = timezone.now()
        if start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=dt.UTC)
        e164 = data.get("caller_number_e164")
        extension = data.get("caller_extension")
        kind = str(data.get("caller_kind") or "")
        if kind not in set(CallerKind):
            kind = CallerKind.EXTERNAL if e164 else CallerKind.EMPTY
        return cls(
            caller_number_e164=e164 if isinstance(e164, str) and e164 else None,
            anonymous=data.get("anonymous") is True,
            start_time=start_time,
            caller_kind=kind,
            caller_extension=extension if isinstance(extension, str) else "",
            **values,
        )


def parse_start_time(value: str, *, tenant: Tenant) -> dt.datetime:
    """The aware start time of `START_TIME_PATTERN`'s `value`, in the tenant's zone.

    Unix seconds are UTC; an ISO 8601 date-time without an offset is in the tenant's zone.
    Raises ValueError (or OverflowError/OSError for seconds out of range) with a message.
    """
    if not _START_TIME.fullmatch(value):
        raise ValueError(
            f'"{value}" is neither an ISO 8601 date-time (2026-11-21T10:15:00+01:00) nor Unix seconds'
        )
    if re.fullmatch(r"[0-9]{1,12}(\.[0-9]+)?", value):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).astimezone(tenant.zone)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(
            f'"{value}" is neither an ISO 8601 date-time (2026-11-21T10:15:00+01:00) nor Unix seconds'
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tenant.zone)
    return parsed.astimezone(tenant.zone)


def parameter_schema(name: str, *, request: bool = True) -> dict[str, Any]:
    """The JSON Schema of call parameter `name`: a string with its `maxLength`, and the published
    `pattern` (caller number, start time) or `enum` (direction). In an answer (`request=False`)
    the direction may also be empty, and the start time is always a date-time with its offset."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length(name)}
    if name in _PATTERNS:
        schema["pattern"] = _PATTERNS[name]
    if name == "direction":
        schema["enum"] = list(DIRECTIONS) if request else ["", *DIRECTIONS]
    if name == "start_time" and not request:
        schema = {"type": "string", "format": "date-time"}
    return schema


class CallParameterField(serializers.Field):  # type: ignore[type-arg]
    """One call parameter (`scripts_engine.CallProperty`): on input exactly one string of
    printable Unicode, at most `max_length` characters, matching the published pattern; stripped.
    On output the `Call`'s value (`start_time` as ISO 8601 with its offset, to the second)."""

    def __init__(self, prop: scripts_engine.CallProperty, **kwargs: Any) -> None:
        self.prop = prop
        kwargs.setdefault("required", prop.attribute == "caller_number")
        kwargs.setdefault("help_text", prop.description)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        """The stripped value; a missing optional parameter is left out (SkipField)."""
        if data is empty:
            if self.required:
                self.fail("required")
            raise SkipField()
        return self.to_internal_value(data)

    default_error_messages: ClassVar[dict[str, str | _StrPromise]] = {
        "required": "is required; send anonymous for a withheld number",
    }

    def to_internal_value(self, data: Any) -> str:
        """The value stripped of blanks; raises ValidationError with what is wrong."""
        name = self.prop.attribute
        if not isinstance(data, str):
            raise serializers.ValidationError(_not_a_string(data))
        problem = _text_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        if len(data) > self.prop.max_length:
            raise serializers.ValidationError(f"is longer than {self.prop.max_length} characters")
        if name == "caller_number" and data.strip() and not _CALLER_NUMBER.search(data):
            raise serializers.ValidationError(str(Text(_NOT_A_CALLER_NUMBER, number=data)))
        return data.strip()

    def to_representation(self, value: Any) -> Any:
        """The `Call`'s value as the answer shows it."""
        if isinstance(value, dt.datetime):
            return value.isoformat(timespec="seconds")
        return value


class CallParameterFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """drf-spectacular: a `CallParameterField` is `parameter_schema(name)` (request or answer)."""

    target_class = "integrations.calls.CallParameterField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        """The field's schema for `direction` ("request" or "response")."""
        field = self.target
        assert isinstance(field, CallParameterField)
        return parameter_schema(field.prop.attribute, request=direction == "request")


class SharedFieldsSerializer(serializers.Serializer[Any]):
    """A DRF serializer whose fields are built once per class, not deep-copied per instance.

    DRF copies every declared field for each serializer instance (`Serializer.fields`), which
    costs the matching API about 0.7 ms a request for its answer; these serializers' fields keep
    no per-request state (no context-dependent fields, no defaults from the request; what
    validation learns is kept on the serializer instance), so one bound set per class serves
    every instance and thread. Subclasses must not mutate their fields after construction.
    """

    @property
    def fields(self) -> Any:  # DRF: a cached_property per instance
        """The class's fields, built (and bound) on first use."""
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = serializers.Serializer.fields.func(self)  # type: ignore[attr-defined]
            cls._shared_fields = shared  # type: ignore[attr-defined]
        return shared


class CallSerializer(SharedFieldsSerializer):
    """A call: the parameters as the sender sent them, and how the server read the caller number.

    Unknown parameters, values that are not one string, text with NUL or lone surrogates, values
    longer than their `maxLength`, and a missing or malformed `caller_number` are refused. The
    caller number is read in the tenant's country; up to the tenant's internal-number length it
    is an extension. `start_time` is ISO 8601 or Unix seconds (empty or missing: now),
    `direction` is `in` or `out` in any case. An empty `caller_number` matches nothing.
    """

    caller_number_e164 = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The caller number in E.164 (`+31201234567`); null when it is not external.",
    )
    anonymous = serializers.BooleanField(read_only=True, help_text="The caller withheld the number.")
    caller_kind = serializers.ChoiceField(
        read_only=True,
        choices=[str(kind) for kind in CallerKind],
        help_text="How the caller number was read: external (matched), internal (an extension), "
        "anonymous (withheld) or empty; only external numbers match.",
    )
    caller_extension = serializers.CharField(
        read_only=True,
        help_text="The extension written with an external caller number (`tel:…;ext=12`, "
        "`020 123 4567 x12`), kept apart from the number it is matched by; empty when none.",
    )

    _reading: CallerReading
    _start_time: dt.datetime
    _unknown_left_out: int = 0
    _texts: dict[str, str]  # a parameter's error as a Text (validate_caller_number's)

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        """The declared read-only fields and one `CallParameterField` per call property."""
        fields = super().get_fields()
        parameters = {name: CallParameterField(prop) for name, prop in CALL_PROPERTIES_BY_PARAMETER.items()}
        first = {"caller_number": parameters.pop("caller_number")}
        return {**first, **fields, **parameters}

    @property
    def tenant(self) -> Tenant:
        """The tenant whose country and internal-number length read the caller number."""
        tenant = self.context.get("tenant")
        if not isinstance(tenant, Tenant):
            raise TypeError("CallSerializer needs context={'tenant': tenant} to read a call")
        return tenant

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Every parameter's error at once: unknown names and each field's own checks."""
        errors: dict[str, Any] = {}
        self._texts = {}
        if isinstance(data, Mapping):
            unknown = [name for name in data if not isinstance(name, str) or name not in CALL_PARAMETERS]
            for name in unknown[:MAX_UNKNOWN_NAMED]:
                problem = _text_problem(str(name))
                errors[shown_name(str(name))] = f"{_UNKNOWN}; its name {problem}" if problem else _UNKNOWN
            self._unknown_left_out = max(0, len(unknown) - MAX_UNKNOWN_NAMED)
        else:
            raise serializers.ValidationError({"non_field_errors": "the call's parameters must be an object"})
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            errors.update(detail)
        if errors:
            raise serializers.ValidationError(errors)
        return dict(values)

    def validate_caller_number(self, value: str) -> str:
        """Read the caller number now, so its error stands beside the other parameters' errors."""
        try:
            self._reading = read_caller(
                value, country=self.tenant.country, internal_length=self.tenant.internal_number_length
            )
        except PhoneNumberError as exc:
            self._texts["caller_number"] = exc.text
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_start_time(self, value: str) -> str:
        """Check the start time's notation (empty means now)."""
        if value:
            try:
                self._start_time = parse_start_time(value, tenant=self.tenant)
            except (ValueError, OverflowError, OSError) as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_direction(self, value: str) -> str:
        """`in` or `out` in any case, or empty; lower-cased."""
        if value and value.lower() not in DIRECTIONS:
            raise serializers.ValidationError(f'"{value}" is not "in" or "out"')
        return value.lower()

    def create(self, validated_data: dict[str, Any]) -> Call:
        """The `Call` of the validated parameters (no database write)."""
        values: dict[str, Any] = {name: validated_data.get(name, "") for name in CALL_PARAMETERS}
        reading = self._reading  # validate_caller_number's; the parameter is required
        values["start_time"] = (
            self._start_time if values["start_time"] else timezone.now().astimezone(self.tenant.zone)
        )
        return Call(
            caller_number_e164=reading.number.e164 if reading.number else None,
            anonymous=reading.kind == CallerKind.ANONYMOUS,
            caller_kind=reading.kind,
            caller_extension=reading.number.extension if reading.number else "",
            **values,
        )


def call_from_params(*, tenant: Tenant, params: Mapping[str, Any]) -> Call:
    """Read a call from the API's, a PBX adapter's or the CLI's parameters with `CallSerializer`.

    `params` maps parameter names to string values (a JSON object, or a query string/form with
    each repeated name as a list). Raises `CallInputError` naming each wrong parameter (see
    `CallSerializer`). The same as `CallSerializer(data=params, context={"tenant": tenant})`,
    `is_valid()`, `save()`; the answer's `call` object is `CallSerializer(call).data`.
    """
    serializer = CallSerializer(data=params, context={"tenant": tenant})
    if not serializer.is_valid():
        errors = {
            name: str(problems[0]) if isinstance(problems, list) else str(problems)
            for name, problems in serializer.errors.items()
        }
        texts = dict(getattr(serializer, "_texts", {}))
        raw = params.get("caller_number")
        if isinstance(raw, str):  # the field's own check (the fields are shared: no state there)
            texts.setdefault("caller_number", Text(_NOT_A_CALLER_NUMBER, number=raw))
        raise CallInputError(
            errors,
            unknown_left_out=serializer._unknown_left_out,
            texts={name: text for name, text in texts.items() if errors.get(name) == text},
        )
    call = serializer.save()
    assert isinstance(call, Call)
    return call
