"""Zammad's generic CTI API, as a PBX sends it to Zammad (https://docs.zammad.org/en/latest/api/generic-cti/).

The PBX POSTs JSON (recommended) or a form to the endpoint with the token in its URL (Zammad's
is `/api/v1/cti/<token>`): `event` `newCall` | `answer` | `hangup`, `from`, `to`, `direction`
(`in`/`out`), `callId` (up to 250 characters), `user` / `user[]` (names), `queue`, `cause`
(hangup), `answeringNumber`. Numbers come with the country code first and without "+"
(`493055571600`), or national (`02214710334`), or `anonymous`.

Answers as Zammad's `Integration::CtiController` does: 200 `{}`, or
`{"action":"reject","reason":"busy"}` for a caller the ignore list rejects; errors are
`{"error": "..."}` with 401 for an unknown token and 422 for everything Zammad answers with
`unprocessable_entity` (feature disabled, invalid direction, bad payload).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from integrations.pbx.base import (
    PbxError,
    PbxEvent,
    PbxFormatHandler,
    country_code_first,
    form_payload,
    json_payload,
    json_response,
    list_field,
    media_type,
    shown,
    text_field,
)

EVENTS = ("newCall", "answer", "hangup")


class ZammadHandler(PbxFormatHandler):
    """Zammad generic CTI events (token in the URL; no signature)."""

    slug = "zammad"
    label = "Zammad generic CTI"
    doc_url = "https://docs.zammad.org/en/latest/api/generic-cti/index.html"
    unknown_token_status = 401
    disabled_status = 422
    bad_payload_status = 422
    unknown_event_status = 422

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """JSON or form body; other content types are a 415."""
        kind = media_type(request)
        if kind == "application/json":
            return json_payload(body, status=422)
        if kind == "application/x-www-form-urlencoded":
            return form_payload(body, status=422)
        raise self.wrong_content_type(request, ["application/json", "application/x-www-form-urlencoded"])

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """newCall (matched when inbound), answer or hangup."""
        name = text_field(data, "event", required=True, status=422)
        if name not in EVENTS:
            raise PbxError(422, f"Unknown event {shown(name)}: Zammad's events are {', '.join(EVENTS)}.")
        direction = text_field(data, "direction", required=True, status=422)
        if direction not in ("in", "out"):
            raise PbxError(422, "Invalid direction! It is in or out.")
        call_id = text_field(data, "callId", required=True, status=422)
        caller = text_field(data, "from", required=name == "newCall", status=422)
        called = text_field(data, "to", status=422)
        users = list_field(data, "user", "user[]", status=422)
        queue = text_field(data, "queue", status=422)
        for name_only in ("cause", "answeringNumber"):
            text_field(data, name_only, status=422)
        params = {
            "caller_number": country_code_first(caller),
            "ddi_number": country_code_first(called),
            "ddi_name": queue[:200],
            "device_name": ", ".join(users)[:200],
            "call_id": call_id[:200],
            "direction": direction,
        }
        return PbxEvent(
            name=name,
            call_id=call_id,
            incoming=name == "newCall" and direction == "in",
            params={k: v for k, v in params.items() if v},
            called_number=called,
        )

    def render(self, *, event: PbxEvent, answer: Mapping[str, Any] | None) -> HttpResponse:
        """`{}`, or `{"action":"reject","reason":"busy"}` when the ignore list rejects the caller."""
        if answer is not None and answer.get("ignore_action") == "reject":
            return json_response({"action": "reject", "reason": "busy"})
        return json_response({})

    def error(self, error: PbxError) -> HttpResponse:
        """Zammad's error shape: `{"error": "..."}`."""
        return json_response({"error": error.message}, status=error.status)

    def settings_rows(self, *, url: str, secret: str | None) -> list[tuple[str, str]]:
        """The endpoint to enter where the PBX expects Zammad's CTI URL."""
        return [("Endpoint (Zammad CTI URL)", url)]
