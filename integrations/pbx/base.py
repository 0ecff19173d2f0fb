"""What every PBX event format shares: reading the request, the sender, replay protection, the match.

A PBX posts a call event to `/pbx/<format>/<token>/`. `handle_event` finds the sender by its
format and token, reads at most `API_MAX_BODY_BYTES` of the body, lets the format check the
signature, parse the payload and name the event, refuses a replayed signed event (409), matches
incoming-call events with the one match (`integrations.matching.call_from_params` and
`match_call`) and lets the format answer the way its sender expects. Every refusal is a
`PbxError` (a 4xx with a message the format renders in its own shape); no input gives a 500.

Each handled event, refused ones included, is written to the call log (`_journal`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, cast

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from rest_framework.exceptions import APIException

from agents import live as agents_live
from integrations import journal
from integrations.api_parsers import decode_utf8, parse_json_body, parse_urlencoded, read_limited_body
from integrations.calls import CallInputError, call_from_params, shown_name
from integrations.matching import match_call, match_call_for_event
from integrations.models import Script
from integrations.pbx.models import PbxSender
from integrations.server_scripts import pbx_call_event, server_scripts_for, server_scripts_queue
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The longest value read from any one field of an event, in characters (Zammad allows call ids of
# 250 characters; numbers and names are far shorter).
MAX_FIELD_LENGTH = 256
# At most this many fields in one event; PBXs send a dozen.
MAX_FIELDS = 100
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class PbxError(Exception):
    """A refused event: HTTP `status` (4xx) and a `message` saying what is wrong, in words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PbxEvent:
    """One call event as a format reads it.

    `name` is the event as the sender spells it (`newCall`, `IncomingCall`, `3`/`Hunting`…);
    `call_id` the sender's id of the call ("" when the event has none, e.g. a log-in);
    `incoming` is True for the event that announces a ringing incoming call, the only one that
    is matched; `params` are `call_from_params` parameters (`caller_number`, `ddi_number`…) and
    `called_number` the number that was dialled, for the journal.
    """

    name: str
    call_id: str = ""
    incoming: bool = False
    params: Mapping[str, str] = field(default_factory=dict)
    called_number: str = ""


# `text` safe to echo in a message: non-printable characters escaped, cut to `limit` (40) characters.
shown = shown_name


def text_field(
    data: Mapping[str, Any], name: str, *, required: bool = False, numeric: bool = False, status: int = 400
) -> str:
    """The string value of field `name` of a parsed payload ("" when absent and not `required`).

    With `numeric`, JSON integers are accepted too (returned as their decimal text). Raises
    `PbxError(status)` for a missing required field, a value that is not one string (a list, an
    object, null, true/false), text with a NUL or a lone surrogate, or a value longer than
    `MAX_FIELD_LENGTH`.
    """
    raw = data.get(name)
    if raw is None or raw == "":
        if required:
            raise PbxError(status, f"The field {name} is required.")
        if raw is None and name in data:
            raise PbxError(status, f"The field {name} must be a string, not null.")
        return ""
    if numeric and isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if not isinstance(raw, str):
        kind = "a list" if isinstance(raw, list) else "an object" if isinstance(raw, dict) else "that"
        raise PbxError(status, f"The field {name} must be one string, not {kind}.")
    bad = _NOT_TEXT.search(raw)
    if bad is not None:
        char = bad.group()
        what = "a NUL character" if char == "\x00" else f"a lone surrogate ({ascii(char)[1:-1]})"
        raise PbxError(status, f"The field {name} contains {what}, which is not text; send UTF-8.")
    if len(raw) > MAX_FIELD_LENGTH:
        raise PbxError(status, f"The field {name} is longer than {MAX_FIELD_LENGTH} characters.")
    return raw.strip()


def list_field(data: Mapping[str, Any], *names: str, status: int = 400) -> list[str]:
    """The strings of an array field sent as `user[]` (form) or `user` (JSON list or one string)."""
    values: list[str] = []
    for name in names:
        raw = data.get(name)
        if raw is None:
            continue
        items: Sequence[Any] = raw if isinstance(raw, list) else [raw]
        if len(items) > MAX_FIELDS:
            raise PbxError(status, f"The field {name} has more than {MAX_FIELDS} values.")
        for item in items:
            values.append(text_field({name: item}, name, status=status))
    return [v for v in values if v]


def country_code_first(number: str) -> str:
    """A number sent with its country code but without "+" (`493055571600`) as `+493055571600`.

    Zammad's generic CTI and sipgate.io send numbers this way. Digits starting with 0 (a national
    number, `02214710334`), short internal extensions, words (`anonymous`) and digit strings that
    are no possible number with a "+" are returned unchanged.
    """
    text = number.strip()
    if not re.fullmatch(r"[1-9][0-9]{6,14}", text):
        return text
    try:
        parsed = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException:
        return text
    return "+" + text if phonenumbers.is_possible_number(parsed) else text


def form_payload(body: bytes, *, status: int = 400) -> dict[str, Any]:
    """An `application/x-www-form-urlencoded` body as a dict: one value as a string, `x[]` as a list.

    Raises `PbxError(status)` for bytes that are not UTF-8, more than `MAX_FIELDS` fields, or a
    field other than `x[]` sent more than once.
    """
    try:
        text = decode_utf8(body, what="form body")
        data: MultiValueDict[str, str] = parse_urlencoded(text, what="form body")
    except APIException as exc:
        raise PbxError(status, _detail(exc)) from None
    if len(data) > MAX_FIELDS:
        raise PbxError(status, f"The form has more than {MAX_FIELDS} fields.")
    result: dict[str, Any] = {}
    for name, values in data.lists():
        if name.endswith("[]"):
            result[name] = values
        elif len(values) > 1:
            raise PbxError(status, f"The field {shown(name)} is sent more than once.")
        else:
            result[name] = values[0]
    return result


def json_payload(body: bytes, *, status: int = 400) -> dict[str, Any]:
    """A JSON object body (strict: UTF-8, bounded depth, no repeated keys); raises `PbxError(status)`."""
    try:
        data = parse_json_body(body)
    except APIException as exc:
        raise PbxError(status, _detail(exc)) from None
    if not isinstance(data, dict):
        raise PbxError(status, "The body must be a JSON object.")
    if len(data) > MAX_FIELDS:
        raise PbxError(status, f"The JSON object has more than {MAX_FIELDS} fields.")
    return data


def _detail(exc: APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", detail)
    return str(detail)


def media_type(request: HttpRequest) -> str:
    """The request's Content-Type without parameters, lower-case ("" when absent)."""
    return str(request.META.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()


class PbxFormatHandler:
    """One PBX event format: how its sender authenticates, what it posts, what it expects back.

    Subclasses set the class attributes and implement `parse`, `event` and `render`; they may
    override `authenticate` (signatures) and the status codes of refusals.
    """

    slug: ClassVar[str]
    label: ClassVar[str]
    doc_url: ClassVar[str]
    # True: the sender signs each request and the format carries no timestamp, so a request seen
    # again within PBX_REPLAY_WINDOW_SECONDS is a replay (409).
    signed: ClassVar[bool] = False
    # True: the sender signs with a shared secret the admin copies into the PBX.
    uses_secret: ClassVar[bool] = False
    unknown_token_status: ClassVar[int] = 404
    disabled_status: ClassVar[int] = 403
    bad_payload_status: ClassVar[int] = 400
    unknown_event_status: ClassVar[int] = 422

    def authenticate(self, *, sender: PbxSender, body: bytes, request: HttpRequest) -> None:
        """Check the request's signature, if the format has one; raise `PbxError(403)` if it fails."""

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """The payload as a dict; raise `PbxError` (415 wrong content type, 400/422 malformed)."""
        raise NotImplementedError

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """The event the payload describes; raise `PbxError` for an unknown event or bad fields."""
        raise NotImplementedError

    def render(self, *, event: PbxEvent, answer: Mapping[str, Any] | None) -> HttpResponse:
        """The answer the sender expects; `answer` is the match (None for events not matched)."""
        raise NotImplementedError

    def error(self, error: PbxError) -> HttpResponse:
        """A refusal in the format's shape (JSON `{"detail": ...}` unless overridden)."""
        return json_response({"detail": error.message}, status=error.status)

    def settings_rows(self, *, url: str, secret: str | None) -> list[tuple[str, str]]:
        """The settings the admin copies into the PBX: (label, value) pairs; `secret` only when shown."""
        rows = [("URL", url)]
        if self.uses_secret and secret is not None:
            rows.append(("Secret", secret))
        return rows

    def wrong_content_type(self, request: HttpRequest, accepted: Sequence[str]) -> PbxError:
        """The 415 for a body that is none of `accepted`."""
        got = media_type(request) or "no Content-Type"
        return PbxError(415, f"The body must be {' or '.join(accepted)}, not {shown(got)}.")


def json_response(data: Mapping[str, Any], *, status: int = 200) -> HttpResponse:
    """`data` as JSON (ASCII-safe for any text)."""
    import json

    return HttpResponse(
        json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=str),
        status=status,
        content_type="application/json",
    )


def replay_seen(*, sender: PbxSender, event: PbxEvent) -> bool:
    """Remember (sender, call id, event) for `PBX_REPLAY_WINDOW_SECONDS`; True if already seen.

    Uses the Django cache's atomic `add`, so two copies racing each other are told apart too.
    """
    window = int(settings.PBX_REPLAY_WINDOW_SECONDS)
    if window <= 0:
        return False
    digest = hashlib.sha256(f"{sender.pk}\x00{event.call_id}\x00{event.name}".encode()).hexdigest()
    return not cache.add(f"pbx-replay:{digest}", 1, timeout=window)


def _journal(
    *,
    tenant: Tenant,
    sender: str,
    request_data: Mapping[str, Any],
    answer: Mapping[str, Any] | None,
    status_code: int,
    duration_ms: float,
    call_id: str = "",
    event: str = "",
    caller_number: str = "",
    called_number: str = "",
) -> None:
    """Journal one PBX event in the call log (`integrations.journal.journal_record`, same
    arguments). A failing journal never fails the event (it is logged)."""
    try:
        journal.journal_record(
            tenant=tenant,
            sender=sender,
            request_data=request_data,
            answer=answer,
            status_code=status_code,
            duration_ms=duration_ms,
            call_id=call_id,
            event=event,
            caller_number=caller_number,
            called_number=called_number,
        )
    except Exception:
        logger.exception("journaling a PBX event failed")


def _sent_text(response: HttpResponse) -> str:
    """The body answered to the sender, as text for the call log (cut at `MAX_FIELD_LENGTH` * 8)."""
    return shown(response.content.decode("utf-8", "replace"), MAX_FIELD_LENGTH * 8)


def _safe_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The payload for the journal: at most `MAX_FIELDS` fields, text cut and made printable."""
    out: dict[str, Any] = {}
    for name, value in list(data.items())[:MAX_FIELDS]:
        key = shown(str(name), 60)
        if isinstance(value, str):
            out[key] = shown(value, MAX_FIELD_LENGTH)
        elif isinstance(value, bool | int | float) or value is None:
            out[key] = value
        else:
            out[key] = shown(str(value), MAX_FIELD_LENGTH)
    return out


def _server_scripts(
    handler: PbxFormatHandler,
    *,
    tenant: Tenant,
    event: PbxEvent,
    answer: Mapping[str, Any] | None,
    scripts: list[Script] | None,
) -> None:
    """Queue the scripts the server runs for this event (`integrations.server_scripts`).

    Call start passes the event's match and the scripts read with it (`match_call_for_event`);
    answered and ended events (`scripts` None) read theirs here and are matched only when a script
    fires on them. Never raises: a script never changes what the PBX is answered.
    """
    call_event = pbx_call_event(handler.slug, event.name, incoming=event.incoming)
    if call_event is None:
        return
    try:
        if scripts is None:
            scripts = server_scripts_for(tenant=tenant, event=call_event)
        if not scripts:
            return
        if answer is None:
            params = {"caller_number": "", **event.params}
            try:
                call = call_from_params(tenant=tenant, params=params)
            except CallInputError:
                return
            answer = match_call(tenant=tenant, call=call)
        server_scripts_queue(tenant=tenant, event=call_event, answer=answer, scripts=scripts)
    except Exception:
        logger.exception("queueing the server requests of a PBX event failed")


def find_sender(*, format_slug: str, token: str) -> PbxSender | None:
    """The sender with this format and URL token (with its tenant), or None."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    return PbxSender.objects.select_related("tenant").filter(format=format_slug, token=token).first()


def handle_event(handler: PbxFormatHandler, *, request: HttpRequest, token: str) -> HttpResponse:
    """Handle one POSTed event for the sender with `token`; see the module docstring for the steps.

    Refusals: unknown token `handler.unknown_token_status`; disabled sender
    `handler.disabled_status`; body over `API_MAX_BODY_BYTES` 413; bad signature 403; wrong
    content type 415; malformed payload or call parameters `handler.bad_payload_status`;
    unknown event `handler.unknown_event_status`; replayed signed event 409.
    """
    started = time.perf_counter()
    sender = find_sender(format_slug=handler.slug, token=token)
    if sender is None:
        return handler.error(
            PbxError(handler.unknown_token_status, "Unknown PBX URL: the token is wrong, rotated or deleted.")
        )
    data: dict[str, Any] = {}
    event: PbxEvent | None = None
    answer: dict[str, Any] | None = None
    scripts: list[Script] | None = None
    try:
        if not sender.enabled:
            raise PbxError(handler.disabled_status, "This PBX sender is disabled in the CTI Configurator.")
        try:
            # HttpRequest is file-like (read()); the body is read at most once, here.
            body = read_limited_body(cast(IO[bytes], request), request.META)
        except APIException as exc:
            raise PbxError(413, _detail(exc)) from None
        handler.authenticate(sender=sender, body=body, request=request)
        data = handler.parse(body=body, request=request)
        event = handler.event(data)
        if handler.signed and replay_seen(sender=sender, event=event):
            raise PbxError(
                409,
                f"This {event.name} event of call {shown(event.call_id)} was already received; "
                "a replayed request is refused.",
            )
        if event.incoming:
            try:
                call = call_from_params(tenant=sender.tenant, params=dict(event.params))
            except CallInputError as exc:
                raise PbxError(handler.bad_payload_status, f"Bad call data: {exc}.") from None
            # One script query serves the answer and the server-run scripts of the call's start.
            call_event = pbx_call_event(handler.slug, event.name, incoming=True) or ""
            answer, scripts = match_call_for_event(tenant=sender.tenant, call=call, event=call_event)
        response = handler.render(event=event, answer=answer)
        if response.status_code < 400:
            _server_scripts(handler, tenant=sender.tenant, event=event, answer=answer, scripts=scripts)
            # The agents' live page (sent after this response, like the call log).
            agents_live.pbx_event_received(
                tenant=sender.tenant, source=f"pbx:{sender.pk}", format_slug=handler.slug,
                event=event, data=data, answer=answer,
            )  # fmt: skip
    except PbxError as error:
        response = handler.error(error)
    _journal(
        tenant=sender.tenant,
        sender=f"{handler.slug}:{sender.name}",
        request_data=_safe_data(data),
        # What the sender got (its own format) beside the match it was built from (journal_record).
        answer={"match": answer, "sent": _sent_text(response)},
        status_code=response.status_code,
        duration_ms=(time.perf_counter() - started) * 1000,
        call_id=event.call_id if event else "",
        event=event.name if event else "",
        caller_number=event.params.get("caller_number", "") if event else "",
        called_number=event.called_number if event else "",
    )
    return response
