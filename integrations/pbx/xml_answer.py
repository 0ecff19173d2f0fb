"""The XML answers of sipgate.io and Placetel: `<Response/>`, `<Reject reason="busy"/>`, `<Error/>`.

Both document the same shape (https://github.com/sipgate/sipgate.io "The XML response",
https://github.com/Placetel/call-control-notify-api "Your XML response"), sent as
`application/xml`.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from django.http import HttpResponse

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
CONTENT_TYPE = "application/xml; charset=utf-8"


def xml_response(inner: str = "", *, status: int = 200) -> HttpResponse:
    """`<Response>inner</Response>` (or `<Response/>` when empty) with the XML declaration."""
    body = f"<Response>{inner}</Response>" if inner else "<Response/>"
    return HttpResponse(DECLARATION + body + "\n", status=status, content_type=CONTENT_TYPE)


def xml_reject(reason: str = "busy") -> HttpResponse:
    """`<Response><Reject reason="busy"/></Response>`: the PBX rejects the call (pretends busy)."""
    return xml_response(f"<Reject reason={quoteattr(reason)}/>")


def xml_error(message: str, *, status: int) -> HttpResponse:
    """`<Error message="..."/>` with a 4xx status (the shape sipgate's own webhook library answers)."""
    safe = message.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return HttpResponse(
        DECLARATION + f"<Error message={quoteattr(safe)}/>\n", status=status, content_type=CONTENT_TYPE
    )
