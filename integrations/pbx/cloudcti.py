"""CloudCTI-style call-state webhooks (peers.md section 1: the call-state JSON CloudCTI posts to
its consumers, as OCA's `connector_phone_cloudcti_event_manager` reads it).

The JSON object carries `CallId`, `CallerNumber`, `CalledNumber`, `Direction` (`inbound` /
`outbound`), `State` (`ringing` / `answered` / `ended`), `StartTime`, `EndTime` (UTC, ISO 8601)
and `CallDuration` (seconds). The token in the URL names the sender. An inbound call's
`ringing` state is matched and answered with the match JSON (the matching API's answer);
other states are acknowledged with `{"accepted": true, "event": "<State>"}`.
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

STATES = ("ringing", "answered", "ended")
DIRECTIONS = {"inbound": "in", "outbound": "out"}


class CloudCtiHandler(PbxFormatHandler):
    """CloudCTI call-state JSON (token in the URL)."""

    slug = "cloudcti"
    label = "CloudCTI call state"
    doc_url = "https://github.com/OCA/connector-telephony"

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """A JSON object; other content types are a 415."""
        if media_type(request) != "application/json":
            raise self.wrong_content_type(request, ["application/json"])
        return json_payload(body)

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """ringing (matched when inbound), answered or ended."""
        state = text_field(data, "State", required=True)
        if state.lower() not in STATES:
            raise PbxError(422, f"Unknown State {shown(state)}: the states are {', '.join(STATES)}.")
        direction_text = text_field(data, "Direction", required=True)
        direction = DIRECTIONS.get(direction_text.lower())
        if direction is None:
            raise PbxError(400, f"The Direction {shown(direction_text)} is not inbound or outbound.")
        call_id = text_field(data, "CallId", required=True, numeric=True)
        ringing = state.lower() == "ringing"
        caller = text_field(data, "CallerNumber", required=ringing and direction == "in")
        called = text_field(data, "CalledNumber")
        start = text_field(data, "StartTime")
        text_field(data, "EndTime")
        text_field(data, "CallDuration", numeric=True)
        params = {
            "caller_number": caller,
            "ddi_number": called,
            "start_time": start,
            "call_id": call_id[:200],
            "direction": direction,
        }
        return PbxEvent(
            name=state.lower(),
            call_id=call_id,
            incoming=ringing and direction == "in",
            params={k: v for k, v in params.items() if v},
            called_number=called,
        )

    def render(self, *, event: PbxEvent, answer: Mapping[str, Any] | None) -> HttpResponse:
        """The match JSON for a ringing inbound call, an acknowledgement otherwise."""
        if answer is not None:
            return json_response(answer)
        return json_response({"accepted": True, "event": event.name})
