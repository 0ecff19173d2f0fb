"""Anywhere365 CTI Broker call events (seed 004: "CTI Broker REST API", Events and Payload).

A CTI service subscribes a callback URL (`POST /api/subscribe`) and the broker POSTs each event
to it as JSON: `SubscriptionId` (guid), `SessionType` (0 Inbound, 1 Outbound), `ImAddress` (the
agent's SIP address), `eventType` (0 LoggedIn, 1 LoggedOff, 3 Hunting, 4 Connected,
5 Disconnected, 6 OnHold, 7 Retrieve), `callId` (guid; empty for a log-in, "failed" for a
failed one) and `ani` (the caller's number, E.164). The token in the callback URL names the
sender. Hunting of an inbound session (the agent is invited for the call) is matched.

The seed does not say what the callback answers; this endpoint answers 200 with JSON: the
match for a matched event, `{"accepted": true, "event": "<name>"}` for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from integrations.pbx.base import (
    PbxError,
    PbxEvent,
    PbxFormatHandler,
    json_payload,
    json_response,
    media_type,
    shown,
    text_field,
)

EVENT_TYPES = {
    "0": "LoggedIn",
    "1": "LoggedOff",
    "3": "Hunting",
    "4": "Connected",
    "5": "Disconnected",
    "6": "OnHold",
    "7": "Retrieve",
}
SESSION_TYPES = {"0": "in", "1": "out"}


def _sip_user(address: str) -> str:
    """`sip:+31880000000@domain` or `tel:+31880000000;ext=1` as `+31880000000`; other text as is."""
    text = address.strip()
    lower = text.lower()
    for scheme in ("tel:", "sip:", "sips:"):
        if lower.startswith(scheme):
            text = text[len(scheme) :].split(";", 1)[0]
            if scheme != "tel:":
                text = text.split("@", 1)[0]
            break
    return text


class Anywhere365Handler(PbxFormatHandler):
    """Anywhere365 CTI Broker callback events (token in the URL)."""

    slug = "anywhere365"
    label = "Anywhere365 CTI Broker"
    doc_url = "https://golive.anywhere365.io/"

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """A JSON object; other content types are a 415."""
        if media_type(request) != "application/json":
            raise self.wrong_content_type(request, ["application/json"])
        return json_payload(body)

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """One of the seed's event types; Hunting of an inbound session is matched."""
        code = text_field(data, "eventType", required=True, numeric=True)
        # Enum values may also arrive by name ("Hunting"), as .NET serializers write them.
        by_name = {name.lower(): number for number, name in EVENT_TYPES.items()}
        code = by_name.get(code.lower(), code)
        if code not in EVENT_TYPES:
            known = ", ".join(f"{number} {name}" for number, name in EVENT_TYPES.items())
            raise PbxError(422, f"Unknown eventType {shown(code)}: the CTI Broker's are {known}.")
        name = EVENT_TYPES[code]
        session = text_field(data, "SessionType", numeric=True)
        session = {"inbound": "0", "outbound": "1"}.get(session.lower(), session)
        if session and session not in SESSION_TYPES:
            raise PbxError(400, f"Unknown SessionType {shown(session)}: 0 is Inbound, 1 Outbound.")
        text_field(data, "SubscriptionId")
        agent = text_field(data, "ImAddress")
        call_id = text_field(data, "callId", required=name not in ("LoggedIn", "LoggedOff"))
        ani = text_field(data, "ani", required=name == "Hunting" and session != "1")
        direction = SESSION_TYPES.get(session, "")
        params = {
            "caller_number": _sip_user(ani),
            "device_name": agent[:200],
            "call_id": call_id[:200],
            "direction": direction,
        }
        return PbxEvent(
            name=name,
            call_id=call_id,
            incoming=name == "Hunting" and direction != "out",
            params={k: v for k, v in params.items() if v},
        )

    def render(self, *, event: PbxEvent, answer: Mapping[str, Any] | None) -> HttpResponse:
        """The match JSON for Hunting, an acknowledgement otherwise."""
        if answer is not None:
            return json_response(answer)
        return json_response({"accepted": True, "event": event.name})

    def settings_rows(self, *, url: str, secret: str | None) -> list[tuple[str, str]]:
        """The callback URL to subscribe with the CTI Broker (`POST /api/subscribe`)."""
        return [("Callback URL (POST /api/subscribe)", url)]
