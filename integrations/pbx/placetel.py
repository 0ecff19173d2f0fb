"""Placetel's Call Control-/Notify-API (https://github.com/Placetel/call-control-notify-api).

Placetel POSTs `application/x-www-form-urlencoded` events: `event` `IncomingCall` |
`OutgoingCall` | `CallAccepted` | `HungUp`, `from`, `to`, `call_id` (hex SHA-256), and per
event `peer` (CallAccepted), `type` and `duration` (HungUp), `direction`. With a shared secret
configured, every request carries `X-PLACETEL-SIGNATURE`: the lower-case hex HMAC-SHA256 of the
raw body keyed with the secret (the README's Ruby `OpenSSL::HMAC.hexdigest`), compared here in
constant time. The events carry no timestamp, so a signed event seen again is a replay (409).

Answers the XML Placetel reads for incoming calls: `<Response/>`, or
`<Response><Reject reason="busy"/></Response>` when the ignore list rejects the caller.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from integrations.pbx.base import (
    PbxError,
    PbxEvent,
    PbxFormatHandler,
    form_payload,
    media_type,
    shown,
    text_field,
)
from integrations.pbx.models import PbxSender
from integrations.pbx.xml_answer import xml_error, xml_reject, xml_response

EVENTS = ("IncomingCall", "OutgoingCall", "CallAccepted", "HungUp")
SIGNATURE_HEADER = "HTTP_X_PLACETEL_SIGNATURE"


def placetel_signature(secret: str, body: bytes) -> str:
    """The `X-PLACETEL-SIGNATURE` of `body`: hex HMAC-SHA256 keyed with `secret` (UTF-8)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class PlacetelHandler(PbxFormatHandler):
    """Placetel Notify API events, signed with the sender's shared secret."""

    slug = "placetel"
    label = "Placetel Notify API"
    doc_url = "https://github.com/Placetel/call-control-notify-api"
    signed = True
    uses_secret = True

    def authenticate(self, *, sender: PbxSender, body: bytes, request: HttpRequest) -> None:
        """Compare `X-PLACETEL-SIGNATURE` with the HMAC of the raw body, in constant time."""
        given = request.META.get(SIGNATURE_HEADER, "")
        if not isinstance(given, str) or not given:
            raise PbxError(
                403, "The X-PLACETEL-SIGNATURE header is missing; set the shared secret in Placetel."
            )
        secret = sender.secret
        if not secret:
            raise PbxError(403, "This sender has no secret to check signatures with; rotate it.")
        expected = placetel_signature(secret, body)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace")):
            raise PbxError(
                403, "The X-PLACETEL-SIGNATURE does not match the body: wrong secret or altered body."
            )

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """A form body; other content types are a 415."""
        if media_type(request) != "application/x-www-form-urlencoded":
            raise self.wrong_content_type(request, ["application/x-www-form-urlencoded"])
        return form_payload(body)

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """IncomingCall (matched), OutgoingCall, CallAccepted or HungUp."""
        name = text_field(data, "event", required=True)
        if name not in EVENTS:
            raise PbxError(422, f"Unknown event {shown(name)}: Placetel's events are {', '.join(EVENTS)}.")
        call_id = text_field(data, "call_id", required=True)
        caller = text_field(data, "from", required=name == "IncomingCall")
        called = text_field(data, "to")
        for other in ("peer", "type", "duration", "direction"):
            text_field(data, other)
        params = {"caller_number": caller, "ddi_number": called, "call_id": call_id[:200]}
        params["direction"] = "out" if name == "OutgoingCall" else "in" if name == "IncomingCall" else ""
        return PbxEvent(
            name=name,
            call_id=call_id,
            incoming=name == "IncomingCall",
            params={k: v for k, v in params.items() if v},
            called_number=called,
        )

    def render(self, *, event: PbxEvent, answer: Mapping[str, Any] | None) -> HttpResponse:
        """`<Response/>`, or a busy `<Reject/>` when the ignore list rejects the caller."""
        if answer is not None and answer.get("ignore_action") == "reject":
            return xml_reject("busy")
        return xml_response()

    def error(self, error: PbxError) -> HttpResponse:
        """`<Error message="..."/>` with the refusal's status."""
        return xml_error(error.message, status=error.status)

    def settings_rows(self, *, url: str, secret: str | None) -> list[tuple[str, str]]:
        """Settings → External APIs: the URL and the shared secret (shown once)."""
        rows = [("URL (Settings → External APIs)", url)]
        if secret is not None:
            rows.append(("Shared secret", secret))
        return rows
