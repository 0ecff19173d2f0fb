"""Strict, bounded reading and writing for the matching API: body size, JSON depth, UTF-8.

A PBX's request is a handful of short strings, so the API reads at most `API_MAX_BODY_BYTES`
of a body (413 beyond, without reading the rest), refuses JSON nested deeper than
`API_MAX_JSON_DEPTH` levels before parsing it (so the parser can never hit Python's recursion
limit), and refuses bytes that are not UTF-8 (RFC 8259 section 8.1 for JSON; the WHATWG URL
standard's application/x-www-form-urlencoded for query strings and form bodies) instead of
silently replacing them. Every refusal is a DRF `APIException`, answered as JSON `{"detail": ...}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.utils.datastructures import MultiValueDict
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.utils.mediatypes import media_type_matches

_READ_CHUNK = 64 * 1024
_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


class RequestTooLarge(APIException):
    """413: the body is larger than `API_MAX_BODY_BYTES`."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def max_body_bytes() -> int:
    """The largest request body the matching API reads, in bytes (setting `API_MAX_BODY_BYTES`)."""
    return int(getattr(settings, "API_MAX_BODY_BYTES", 64 * 1024))


def max_json_depth() -> int:
    """The deepest nesting of JSON arrays/objects accepted (setting `API_MAX_JSON_DEPTH`)."""
    return int(getattr(settings, "API_MAX_JSON_DEPTH", 20))


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is larger than {limit} bytes; a call's parameters fit in far less."
    )


def read_limited_body(stream: IO[bytes] | None, meta: Mapping[str, Any]) -> bytes:
    """Read a request body of at most `max_body_bytes()` bytes.

    `meta` is the WSGI environ (`request.META`). A `Content-Length` above the limit is refused
    before reading anything; without one (chunked transfer) at most limit + 1 bytes are read.
    Raises `RequestTooLarge` (413).
    """
    limit = max_body_bytes()
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        declared = 0
    if declared > limit:
        raise _too_large(limit)
    if stream is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise _too_large(limit)
    return b"".join(chunks)


def decode_utf8(data: bytes, *, what: str) -> str:
    """`data` as text; raises `ParseError` (400) naming `what` and the offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The {what} is not valid UTF-8 (byte {exc.start}).") from None


def json_nesting_exceeds(text: str, limit: int) -> bool:
    """True if JSON `text` nests arrays/objects deeper than `limit` levels.

    A linear scan that skips string contents (and their escapes), so it works on any text,
    valid JSON or not, without recursion.
    """
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _STRUCTURAL.finditer(text):
        char, position = match.group(), match.start()
        if in_string:
            if position == escaped_at:
                continue
            if char == "\\":
                escaped_at = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key[:40]!a} appears more than once in an object")
        result[key] = value
    return result


def parse_json_body(data: bytes) -> Any:
    """Parse a JSON body strictly (RFC 8259): UTF-8, bounded depth, no NaN/Infinity, no repeated keys.

    Raises `ParseError` (400) saying what is wrong.
    """
    text = decode_utf8(data, what="JSON body")
    limit = max_json_depth()
    if json_nesting_exceeds(text, limit):
        raise ParseError(f"The JSON body is nested deeper than {limit} levels.")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicates)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits for an int, …
        raise ParseError(f"The body is not valid JSON: {str(exc)[:200]}.") from None


def _shown(text: str) -> str:
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:41])
    return shown if len(shown) <= 40 else shown[:40] + "…"


def _not_utf8(what: str, name: str, part: str) -> ParseError:
    message = f"is not valid UTF-8 once percent-decoded (in the {part})"
    return ParseError({"detail": f"Bad {what}: {name} {message}.", "errors": {name: message}})


def parse_urlencoded(text: str, *, what: str) -> MultiValueDict[str, str]:
    """Parse `a=1&b=2` (form body or query string) with strict UTF-8 percent-decoding.

    Like `urllib.parse.parse_qsl(keep_blank_values=True)` (WHATWG URL standard,
    application/x-www-form-urlencoded), but a name or value whose percent-escapes decode to
    bytes that are not UTF-8 raises `ParseError` (400) naming the parameter.
    """
    result: MultiValueDict[str, str] = MultiValueDict()
    for part in text.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name_bytes = unquote_to_bytes(raw_name.replace("+", " "))
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_utf8(what, _shown(name_bytes.decode("utf-8", "backslashreplace")), "name") from None
        try:
            value = unquote_to_bytes(raw_value.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            raise _not_utf8(what, _shown(name), "value") from None
        result.appendlist(name, value)
    return result


def parse_query_string(meta: Mapping[str, Any]) -> MultiValueDict[str, str]:
    """The request's query string parsed strictly (see `parse_urlencoded`).

    WSGI (PEP 3333) hands over the raw query bytes as a latin-1 string; they must be UTF-8.
    """
    raw = meta.get("QUERY_STRING", "")
    try:
        data = raw.encode("iso-8859-1")
    except UnicodeEncodeError:
        raise ParseError("The query string is not valid UTF-8.") from None
    return parse_urlencoded(decode_utf8(data, what="query string"), what="query string")


class LimitedJSONParser(BaseParser):
    """`application/json` bodies: size, depth and UTF-8 checked before `json.loads`."""

    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Return the parsed JSON value (any JSON type; the view checks it is an object)."""
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        return parse_json_body(read_limited_body(stream, meta))


class LimitedFormParser(BaseParser):
    """`application/x-www-form-urlencoded` bodies: size and UTF-8 checked; repeated names kept."""

    media_type = "application/x-www-form-urlencoded"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> MultiValueDict[str, str]:
        """Return every name with all its values, in order."""
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        text = decode_utf8(read_limited_body(stream, meta), what="form body")
        return parse_urlencoded(text, what="form body")


class SafeJSONRenderer(JSONRenderer):
    """DRF's JSON renderer that cannot fail on text that is not valid Unicode.

    Output is UTF-8 as usual; should a string still hold a lone surrogate, the reply falls back
    to ASCII-only JSON (`\\ud800` escapes, still valid JSON) instead of a UnicodeEncodeError.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The JSON bytes of `data`."""
        try:
            rendered: bytes = super().render(data, accepted_media_type, renderer_context)
            return rendered
        except UnicodeEncodeError:
            text = json.dumps(
                data, cls=self.encoder_class, ensure_ascii=True, allow_nan=False, separators=(",", ":")
            )
            return text.encode("ascii")


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Always answer with the view's (single) renderer; pick the parser by Content-Type only.

    DRF's default reads `?format=` through Django's `request.GET` (which refuses more than
    `DATA_UPLOAD_MAX_NUMBER_FIELDS` names and decodes bad UTF-8 as U+FFFD) and answers 406 to an
    unexpected Accept header; the matching API speaks JSON only, so neither applies.
    """

    def select_parser(self, request: Request, parsers: Any) -> Any:
        """The parser for the request's Content-Type, or None (DRF answers 415)."""
        for parser in parsers:
            if media_type_matches(parser.media_type, request.content_type):
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        """The first renderer, with its own media type."""
        renderer = renderers[0]
        return renderer, renderer.media_type
