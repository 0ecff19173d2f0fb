"""sipgate.io's push API (https://github.com/sipgate/sipgate.io, https://www.sipgate.io/push-api).

sipgate POSTs `application/x-www-form-urlencoded` events: `event` `newCall` | `answer` |
`hangup`, `from`, `to` (country code first, no "+", or `anonymous`), `direction` (`in`/`out`),
`callId`, `user[]`, `userId[]`, `fullUserId[]`, `origCallId`, `xcid`, `diversion`, and per
event `answeringNumber`, `cause`. Each request carries `X-Sipgate-Signature`: the base64
RSA-SHA256 (PKCS #1 v1.5) signature of the raw body with sipgate's key, verified here with its
published public key (`PBX_SIPGATE_PUBLIC_KEY`, PEM; empty means the key sipgate publishes in
its `sipgateio-node` library, `SIPGATE_PUBLIC_KEY_PEM` below). The events carry no timestamp,
so a signed event seen again is a replay (409).

Answers `application/xml`: `<Response/>`, or `<Response><Reject reason="busy"/></Response>`
for a caller the ignore list rejects.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from integrations.pbx.base import (
    PbxError,
    PbxEvent,
    PbxFormatHandler,
    country_code_first,
    form_payload,
    list_field,
    media_type,
    shown,
    text_field,
)
from integrations.pbx.models import PbxSender
from integrations.pbx.xml_answer import xml_error, xml_reject, xml_response

EVENTS = ("newCall", "answer", "hangup")
SIGNATURE_HEADER = "HTTP_X_SIPGATE_SIGNATURE"
# The public key sipgate publishes for X-Sipgate-Signature (sipgate-io/sipgateio-node,
# lib/webhook/id_rsa.pub).
SIPGATE_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAvFdlnqRfO5TmqzjtsFVC
qPz+oW+poi3lXQFvMJJMEAtlU4MbX+yuIkgnC+Qt3AQWIK+oWSEQiybg+p39wEMl
16PZxEzf9gONQvTg1XhyHnwqYUFQj/AoxPKGYC3jmdjZ224SrESiTN3CdxoOc3vk
cXiQstYE7SxnksPtzfk0aIOkicim5/tAP9izNQ18/zmX3ChjK2k72gf5dDlq+qZ8
pRiHAPZ64TySH6cLQDhaoh6Nbq8FEG3usXXPClbUMh2DZaTMPafpd+LNuTngJ/y+
KoZasVuFfXAeBqGA6l5d4Uedfr99Z6qjwDrJ8sU4z2Do9bJrbuqP+mOXEebhSI1K
vi8trEfrIt8hnDBGsBaB9NEO3kYxvDT2/PhC9fNYFocjEpZNd7/mUqTJDYlpa4UC
NDQaU+ATdXG8/P5sGAegks6MQTu+qe9XTO0CV48eswDkz6g3UbLOwmrJK59SjD3J
yAZ52sluwyDKRWw/PPTt8BTQLjvkdbiLUlc4ehJ4b1X7D7diYWHDPeFL47cAvaXh
dXVrZDeBJYibvD1jRx4ES0KlfhwzNXBYUoM/Movg9zMM2PzyHHKS//xIjwUC/FJ6
/6eykno0Hy2B1ev6s3hdY6VkN2zd7Wf+EK4DxRliwsg1U99szFE3ewLfexF+Uag5
M+TfPtOUumI/NHMTvsRW9+ECAwEAAQ==
-----END PUBLIC KEY-----
"""
# An RSA signature is as long as the key's modulus: 512 bytes for sipgate's 4096-bit key.
_MAX_SIGNATURE_CHARS = 2048


@functools.lru_cache(maxsize=4)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"PBX_SIPGATE_PUBLIC_KEY: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("PBX_SIPGATE_PUBLIC_KEY is not an RSA public key")
    return key


def sipgate_public_key() -> rsa.RSAPublicKey:
    """The key of setting `PBX_SIPGATE_PUBLIC_KEY` (PEM), or sipgate's published one when it is empty.

    Raises ValueError for a setting that is not a PEM RSA public key.
    """
    pem = str(getattr(settings, "PBX_SIPGATE_PUBLIC_KEY", "") or "").strip() or SIPGATE_PUBLIC_KEY_PEM
    return _public_key(pem.replace("\\n", "\n"))


def sipgate_signature_valid(signature: str, body: bytes) -> bool:
    """True if `signature` (base64) is sipgate's RSA-SHA256 PKCS #1 v1.5 signature of `body`."""
    if len(signature) > _MAX_SIGNATURE_CHARS:
        return False
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        sipgate_public_key().verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class SipgateHandler(PbxFormatHandler):
    """sipgate.io push events, RSA-signed by sipgate."""

    slug = "sipgate"
    label = "sipgate.io Push API"
    doc_url = "https://www.sipgate.io/push-api"
    signed = True

    def authenticate(self, *, sender: PbxSender, body: bytes, request: HttpRequest) -> None:
        """Verify `X-Sipgate-Signature` over the raw body with sipgate's public key."""
        given = request.META.get(SIGNATURE_HEADER, "")
        if not isinstance(given, str) or not given:
            raise PbxError(403, "The X-Sipgate-Signature header is missing.")
        try:
            valid = sipgate_signature_valid(given, body)
        except ValueError:
            raise PbxError(
                403, "PBX_SIPGATE_PUBLIC_KEY is not a PEM RSA public key; ask your provider."
            ) from None
        if not valid:
            raise PbxError(403, "The X-Sipgate-Signature does not verify with sipgate's public key.")

    def parse(self, *, body: bytes, request: HttpRequest) -> dict[str, Any]:
        """A form body; other content types are a 415."""
        if media_type(request) != "application/x-www-form-urlencoded":
            raise self.wrong_content_type(request, ["application/x-www-form-urlencoded"])
        return form_payload(body)

    def event(self, data: Mapping[str, Any]) -> PbxEvent:
        """newCall (matched when inbound), answer or hangup."""
        name = text_field(data, "event", required=True)
        if name not in EVENTS:
            raise PbxError(422, f"Unknown event {shown(name)}: sipgate.io's events are {', '.join(EVENTS)}.")
        call_id = text_field(data, "callId", required=True)
        direction = text_field(data, "direction")
        if direction and direction not in ("in", "out"):
            raise PbxError(400, f"The direction {shown(direction)} is not in or out.")
        caller = text_field(data, "from", required=name == "newCall")
        called = text_field(data, "to")
        users = list_field(data, "user[]", "user")
        list_field(data, "userId[]", "fullUserId[]")
        for other in ("origCallId", "xcid", "diversion", "answeringNumber", "cause"):
            text_field(data, other)
        params = {
            "caller_number": country_code_first(caller),
            "ddi_number": country_code_first(called),
            "device_name": ", ".join(users)[:200],
            "call_id": call_id[:200],
            "direction": direction,
        }
        return PbxEvent(
            name=name,
            call_id=call_id,
            incoming=name == "newCall" and direction != "out",
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
        """sipgate.io → Webhooks → URLs: the URL for incoming (and outgoing) calls."""
        return [("Webhook URL (incoming calls)", url)]
