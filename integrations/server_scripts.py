"""Scripts the server runs: HTTP requests sent to a CRM when a call event arrives.

A `Script` of kind "server_request" is a request template: method, URL (the script's
`template`, rendered as a link is), header lines `Name: value` and a body in JSON or form
encoding, all written in the template language (`#(Caller number)`, `$(DisplayName)`). After a
call is matched (the matching API, a PBX event), `server_scripts_queue` creates one
`ServerScriptRun` per applicable script and call event (unique per script, call key and event,
so the same event twice sends once) and queues the thin Celery task, which calls
`server_script_send` for each attempt: through the guarded outbound client
(`integrations.http.connector_client`), retrying 5xx, 429, timeouts and connection errors with
exponential back-off, never another 4xx.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import scripts_engine
from integrations.calls import Call
from integrations.http import connector_client
from integrations.matching import script_applies, script_has_phone_data
from integrations.models import (
    BodyEncoding,
    CallEvent,
    HttpMethod,
    Script,
    ScriptKind,
    ServerScriptRun,
    ServerScriptRunStatus,
)
from integrations.outbound import PRIVATE_ADDRESS_MESSAGE, OutboundAddressRefused, OutboundError
from integrations.presets import Preset, ScriptApplies
from integrations.texts import template_error
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# A 429's Retry-After is waited out up to this many seconds; a longer one waits this long.
RETRY_AFTER_CAP_SECONDS = 600.0
# RFC 9110 section 5.6.2 `token`: the characters a header name may have.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Hop-by-hop headers (RFC 9110 section 7.6.1) and the ones the client itself sets from the request.
FORBIDDEN_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\x00-\x08\x0b-\x1f\x7f]+")
# Call event names of each PBX format (`PbxFormatHandler.slug`) mapped to the script's events.
# Call start is only the ringing incoming call the format matches (`PbxEvent.incoming`).
PBX_EVENTS: dict[str, dict[str, str]] = {
    "zammad": {"newCall": CallEvent.START, "answer": CallEvent.ANSWERED, "hangup": CallEvent.ENDED},
    "placetel": {
        "IncomingCall": CallEvent.START,
        "CallAccepted": CallEvent.ANSWERED,
        "HungUp": CallEvent.ENDED,
    },
    "sipgate": {"newCall": CallEvent.START, "answer": CallEvent.ANSWERED, "hangup": CallEvent.ENDED},
    "cloudcti": {"ringing": CallEvent.START, "answered": CallEvent.ANSWERED, "ended": CallEvent.ENDED},
    "anywhere365": {
        "Hunting": CallEvent.START,
        "Connected": CallEvent.ANSWERED,
        "Disconnected": CallEvent.ENDED,
    },
}


def pbx_call_event(format_slug: str, name: str, *, incoming: bool) -> str | None:
    """The script event ("start", "answered", "ended") of PBX event `name`, or None.

    A start event counts only when the format matches it (`incoming`): an outgoing call's
    newCall fires nothing.
    """
    event = PBX_EVENTS.get(format_slug, {}).get(name)
    if event == CallEvent.START and not incoming:
        return None
    return str(event) if event is not None else None


# --- Validation (when a script is saved) ------------------------------------------------------


@dataclass(frozen=True)
class HeaderLine:
    """One `Name: value template` line of `Script.request_headers` (1-based `line`)."""

    name: str
    value: str
    line: int


def parse_header_lines(text: str) -> list[HeaderLine]:
    """The header lines of `text`, one `Name: value` per line; blank lines are skipped.

    Raises `ValidationError` naming the line for a line without a colon, a name that is not an
    RFC 9110 token, a hop-by-hop or Host/Content-Length header, and a CR, LF or other control
    character in a value.
    """
    headers: list[HeaderLine] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon:
            raise ValidationError(
                _("Header line %(number)s: write it as Name: value.") % {"number": number},
                code="headers",
            )
        if not _TOKEN.fullmatch(name):
            raise ValidationError(
                _(
                    "Header line %(number)s: “%(value)s” is not a header "
                    "name (letters, digits and !#$%%&'*+-.^_`|~)."
                )
                % {"number": number, "value": name[:40]},
                code="headers",
            )
        if name.lower() in FORBIDDEN_HEADERS:
            raise ValidationError(
                _("Header line %(number)s: %(name)s is set by the server itself and may not be given.")
                % {"number": number, "name": name},
                code="headers",
            )
        if _CONTROL.search(value):
            raise ValidationError(
                _("Header line %(number)s: the value contains a line break or control character.")
                % {"number": number},
                code="headers",
            )
        headers.append(HeaderLine(name=name, value=value.strip(), line=number))
    return headers


def parse_form_lines(text: str) -> list[HeaderLine]:
    """The `name=value template` lines of a form body (blank lines skipped); raises `ValidationError`."""
    fields: list[HeaderLine] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise ValidationError(
                _("Form line %(number)s: write it as name=value.") % {"number": number}, code="body"
            )
        fields.append(HeaderLine(name=name.strip(), value=value.strip(), line=number))
    return fields


def _record_fields(preset: Preset | None, applies: str) -> list[str] | None:
    if preset is not None and preset.has_phone_data and applies != ScriptApplies.ON_NO_MATCH:
        return [f.name for f in preset.all_fields]
    return None


def _template(source: str, record_fields: list[str] | None, where: str) -> scripts_engine.Template:
    try:
        return scripts_engine.validate(source, record_fields=record_fields, url=False)
    except scripts_engine.TemplateError as exc:
        raise ValidationError(
            _("%(where)s: %(error)s") % {"where": where, "error": template_error(exc)}, code="template"
        ) from exc


def server_request_validate(
    *,
    preset: Preset | None,
    url: str,
    http_method: str,
    request_headers: str,
    body_template: str,
    body_encoding: str,
    on_events: Sequence[str],
    applies: str,
) -> None:
    """Check a server-request script before it is saved.

    Raises `ValidationError` keyed by field (`template` for the URL, `http_method`,
    `request_headers`, `body_template`, `on_events`) with a message that says where: the URL
    must start with http: or https: (or a placeholder) and be a valid template; header lines as
    in `parse_header_lines`; a JSON body must give valid JSON for a sample call whatever the
    values (each placeholder becomes a JSON string), else the message names the character; a GET
    has no body.
    """
    record_fields = _record_fields(preset, applies)
    errors: dict[str, str] = {}
    if http_method not in HttpMethod.values:
        errors["http_method"] = _("“%(value)s” is not one of %(value2)s.") % {
            "value": http_method[:20],
            "value2": ", ".join(HttpMethod.values),
        }
    if body_encoding not in BodyEncoding.values:
        errors["body_encoding"] = _("“%(value)s” is not json, form or none.") % {"value": body_encoding[:20]}
    events = list(on_events)
    if not events:
        errors["on_events"] = _("Choose at least one call event that sends the request.")
    elif any(e not in CallEvent.values for e in events):
        errors["on_events"] = _("Choose among call start, answered and ended.")
    try:
        scripts_engine.validate(url, record_fields=record_fields)
        scheme = scripts_engine.parse(url).tokens
        first = scheme[0] if scheme else None
        if isinstance(first, scripts_engine.Literal) and not re.match(r"(?i)https?:", first.text):
            errors["template"] = _(
                "The URL of a server request must start with http: or https: (at character 1)"
            )
    except scripts_engine.TemplateError as exc:
        errors["template"] = str(exc)
    try:
        for header in parse_header_lines(request_headers):
            _template(header.value, record_fields, _("Header line %(number)s") % {"number": header.line})
    except ValidationError as exc:
        errors["request_headers"] = exc.messages[0]
    try:
        _check_body(
            body_template,
            body_encoding=body_encoding,
            http_method=http_method,
            record_fields=record_fields,
        )
    except ValidationError as exc:
        errors["body_template"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)


def _check_body(body: str, *, body_encoding: str, http_method: str, record_fields: list[str] | None) -> None:
    if not body.strip():
        if body_encoding == BodyEncoding.JSON and http_method != HttpMethod.GET:
            raise ValidationError(_("Write the JSON body, or choose “No body”."), code="body")
        return
    if http_method == HttpMethod.GET or body_encoding == BodyEncoding.NONE:
        raise ValidationError(_("A GET request, or one with “No body”, sends no body: leave it empty."))
    if body_encoding == BodyEncoding.FORM:
        for field in parse_form_lines(body):
            _template(field.value, record_fields, _("Form line %(number)s") % {"number": field.line})
        return
    template = _template(body, record_fields, "Body")
    # Values with quotes, a backslash and a line break: a body that stays JSON with these stays
    # JSON with any values.
    sample = Call(
        caller_number="+31201234567",
        caller_number_e164="+31201234567",
        anonymous=False,
        start_time=timezone.now(),
        caller_name='A "b"\\\n',
        device_name='"',
        device_number="1",
        ddi_name="x",
        ddi_number="+31201234567",
    ).properties()
    record = dict.fromkeys(record_fields or (), '"x"\n')
    parts = scripts_engine.render_parts(template, call=sample, record=record, country="NL")
    text, starts = _json_text(parts)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = _source_position(exc.pos, starts, len(body))
        raise ValidationError(
            _(
                "The body is not valid JSON: %(value)s (at character %(value2)s). Placeholders "
                'become JSON strings: write "name": #(Caller name) or "name": "#(Caller name)".'
            )
            % {"value": exc.msg.replace(" starting at", "").lower(), "value2": where + 1},
            code="body",
        ) from None


# --- Rendering ----------------------------------------------------------------------------------


def _json_text(parts: Sequence[scripts_engine.RenderedPart]) -> tuple[str, list[tuple[int, int, bool]]]:
    """The JSON body: values JSON-escaped inside a string literal, whole JSON strings outside.

    Returns the text and, per part, (offset in the text, offset in the source, is a value).
    """
    out: list[str] = []
    starts: list[tuple[int, int, bool]] = []
    length = 0
    in_string = False
    escaped = False
    for part in parts:
        if part.value:
            encoded = json.dumps(part.text, ensure_ascii=False)
            text = encoded[1:-1] if in_string else encoded
        else:
            text = part.text
            for char in text:
                if escaped:
                    escaped = False
                elif in_string and char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = not in_string
        starts.append((length, part.start, part.value))
        out.append(text)
        length += len(text)
    return "".join(out), starts


def _source_position(position: int, starts: list[tuple[int, int, bool]], source_length: int) -> int:
    best = 0
    for out_start, source_start, is_value in starts:
        if out_start > position:
            break
        best = source_start if is_value else source_start + (position - out_start)
    return min(best, max(source_length - 1, 0))


def _plain(parts: Sequence[scripts_engine.RenderedPart]) -> str:
    """Header and form values: plain text, line breaks and control characters as one space."""
    return _LINE_BREAKS.sub(" ", "".join(p.text for p in parts)).strip()


@dataclass(frozen=True)
class RenderedRequest:
    """A server request ready to send; `url` is None when the URL rendered to no http(s) link."""

    method: str
    url: str | None
    headers: list[tuple[str, str]]
    body: bytes | None
    content_type: str | None

    def as_json(self) -> dict[str, Any]:
        """Method, URL, headers and body as text, for the preview and the log."""
        return {
            "method": self.method,
            "url": self.url,
            # Text as UTF-8 can hold it (a lone surrogate becomes "?"), so any database stores it.
            "headers": [[name, value.encode("utf-8", "replace").decode()] for name, value in self.headers],
            "body": self.body.decode("utf-8", "replace") if self.body is not None else None,
        }


def _properties(call_json: Mapping[str, Any]) -> scripts_engine.CallProperties:
    return Call.from_json(call_json).properties()


def server_request_render(
    *,
    script: Script,
    call_json: Mapping[str, Any],
    record: Mapping[str, str] | None,
    country: str,
) -> RenderedRequest:
    """Render `script`'s request for one call (`Call.as_json()`) and matched record (or None).

    The URL renders as a link does (values percent-encoded) and must be http(s), else `url` is
    None; header values are plain text (line breaks become spaces), form values plain text
    form-encoded; a JSON body gets
    each value as a JSON string (escaped inside a string literal of the template). Raises
    `ValidationError` only for a template broken since it was saved.
    """
    call = _properties(call_json)
    url_template = scripts_engine.parse(script.template)
    url = scripts_engine.render(url_template, call=call, record=record, country=country)
    if url is not None and not re.match(r"(?i)https?://", url):
        url = None
    headers: list[tuple[str, str]] = []
    for header in parse_header_lines(script.request_headers):
        parts = scripts_engine.render_parts(
            scripts_engine.parse(header.value), call=call, record=record, country=country
        )
        headers.append((header.name, _plain(parts)))
    body: bytes | None = None
    content_type: str | None = None
    if script.http_method != HttpMethod.GET and script.body_template.strip():
        if script.body_encoding == BodyEncoding.JSON:
            parts = scripts_engine.render_parts(
                scripts_engine.parse(script.body_template), call=call, record=record, country=country
            )
            body = _json_text(parts)[0].encode("utf-8", "replace")
            content_type = "application/json"
        elif script.body_encoding == BodyEncoding.FORM:
            pairs = []
            for field in parse_form_lines(script.body_template):
                parts = scripts_engine.render_parts(
                    scripts_engine.parse(field.value), call=call, record=record, country=country
                )
                pairs.append((field.name, "".join(p.text for p in parts)))
            body = urlencode(pairs, errors="replace").encode()
            content_type = "application/x-www-form-urlencoded"
    return RenderedRequest(
        method=script.http_method, url=url, headers=headers, body=body, content_type=content_type
    )


# --- Trigger ------------------------------------------------------------------------------------


def _match_record(tenant: Tenant, match: Mapping[str, Any]) -> dict[str, str]:
    """The record fields a script renders from, for one match of the answer."""
    from integrations.models import PhoneCacheEntry

    integration_id = match["integration"]["id"]
    record_id = match["record"]["id"]
    record: dict[str, str] = {}
    entry = (
        PhoneCacheEntry.objects.filter(tenant=tenant, integration_id=integration_id, record_id=record_id)
        .order_by("-generation")
        .first()
    )
    if entry is not None:
        record.update({str(k): "" if v is None else str(v) for k, v in entry.fields.items()})
    for field in match.get("notification", {}).get("fields", []):
        record.setdefault(str(field["name"]), str(field["value"]))
    record["DisplayName"] = str(match.get("notification", {}).get("title", ""))
    record["Identifier"] = record.get("Identifier") or str(record_id)
    record["PopUpUri"] = record.get("PopUpUri") or str(match["record"].get("url", ""))
    return record


def call_key(call_json: Mapping[str, Any], event: str) -> str:
    """The idempotency key of a call event: its call id, else `sha256:` of the call JSON and event."""
    call_id = str(call_json.get("call_id", ""))
    if call_id:
        return call_id[:255]
    digest = hashlib.sha256(
        (json.dumps(call_json, sort_keys=True, default=str) + "\x00" + event).encode()
    ).hexdigest()
    return f"sha256:{digest}"


def server_scripts_for(*, tenant: Tenant, event: str) -> list[Script]:
    """The tenant's server-request scripts that fire on `event` (tenant-wide or of an enabled integration)."""
    scripts = (
        Script.objects.filter(tenant=tenant, kind=ScriptKind.SERVER_REQUEST)
        .filter(Q(integration__isnull=True) | Q(integration__enabled=True, integration__tenant=tenant))
        .select_related("integration")
        .order_by("position", "id")
    )
    return [s for s in scripts if isinstance(s.on_events, list) and event in s.on_events]


def server_scripts_queue(
    *, tenant: Tenant, event: str, answer: Mapping[str, Any], scripts: Sequence[Script] | None = None
) -> int:
    """Queue the server requests of one call event, after the transaction commits.

    `answer` is the match (`integrations.matching.match_call`). Scripts apply as link scripts
    do: tenant-wide ones (and those of integrations without phone data) on match / no match /
    always; an integration's on its own match (rendered with its first record), or when it did
    not match (on no match / always). An ignored caller sends nothing. One `ServerScriptRun` per
    script and call event is created (an existing one means the event was handled: nothing is
    sent again) and `integrations.send_server_script` is queued for it. Returns how many
    scripts applied. Never raises.
    """
    try:
        if scripts is None:
            scripts = server_scripts_for(tenant=tenant, event=event)
        if not scripts or answer.get("ignored"):
            return 0
        call_json = dict(answer["call"])
        matched = bool(answer.get("matches") or answer.get("choose"))
        first_match: dict[int, Mapping[str, Any]] = {}
        for match in answer.get("matches", []):
            first_match.setdefault(int(match["integration"]["id"]), match)
        chosen = {int(c["integration"]["id"]) for c in answer.get("choose", [])}
        jobs: list[tuple[Script, dict[str, str] | None]] = []
        for script in scripts:
            if script.integration_id is None or not script_has_phone_data(script):
                if script_applies(script, matched=matched):
                    jobs.append((script, None))
                continue
            integration_matched = script.integration_id in first_match or script.integration_id in chosen
            if integration_matched and script.applies != ScriptApplies.ON_NO_MATCH:
                match = first_match.get(script.integration_id)
                if match is not None:
                    jobs.append((script, _match_record(tenant, match)))
            elif not integration_matched and script.applies != ScriptApplies.ON_MATCH:
                jobs.append((script, None))
        if not jobs:
            return 0
        key = call_key(call_json, event)
        tenant_id = tenant.pk

        def enqueue() -> None:
            _create_and_send(tenant_id=tenant_id, key=key, event=event, call_json=call_json, jobs=jobs)

        transaction.on_commit(enqueue)
        return len(jobs)
    except Exception:
        logger.exception("queueing the server requests of a call failed")
        return 0


def _create_and_send(
    *,
    tenant_id: int,
    key: str,
    event: str,
    call_json: dict[str, Any],
    jobs: Sequence[tuple[Script, dict[str, str] | None]],
) -> None:
    from integrations.tasks import send_server_script

    for script, record in jobs:
        try:
            with transaction.atomic():
                run = ServerScriptRun.objects.create(
                    tenant_id=tenant_id,
                    script=script,
                    call_key=key,
                    call_id=str(call_json.get("call_id", ""))[:255],
                    event=event,
                    payload={"call": call_json, "record": record},
                )
        except IntegrityError:
            continue  # this call event was already handled for this script
        try:
            send_server_script.delay(run.pk)
        except Exception:
            logger.exception("queueing server request %s failed", run.pk)


# --- Sending (one attempt per task run) ----------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP-date, RFC 9110 section 10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


def backoff_seconds(attempt: int) -> float:
    """The wait before the retry after failed attempt number `attempt` (1-based): base, doubling."""
    base = float(settings.SERVER_SCRIPT_BACKOFF_SECONDS)
    return base * float(2 ** max(0, attempt - 1))


def server_script_send(*, run_id: int) -> float | None:
    """Make one attempt of a server request; returns the seconds to wait before retrying, or None.

    Only a pending run is sent. The attempt is appended to `attempts_log`. Outcomes: a 1xx-3xx
    answer: "sent"; a private or special address (the outbound guard): "refused" with the guard's
    one message; 5xx, timeouts and connection errors: retried after `backoff_seconds` until
    `SERVER_SCRIPT_MAX_ATTEMPTS` attempts, then "failed"; 429: retried after its Retry-After (at
    most `RETRY_AFTER_CAP_SECONDS`) or the back-off; another 4xx, or a URL that rendered to no
    http(s) link: "failed" at once.
    """
    run = ServerScriptRun.objects.select_related("script", "tenant").filter(pk=run_id).first()
    if run is None or run.status != ServerScriptRunStatus.PENDING:
        return None
    script = run.script
    record = run.payload.get("record")
    try:
        rendered = server_request_render(
            script=script, call_json=run.payload.get("call", {}), record=record, country=run.tenant.country
        )
    except (ValidationError, scripts_engine.TemplateError) as exc:
        error = f"The script no longer renders: {exc}"
        _finish(run, status=ServerScriptRunStatus.FAILED, code=None, error=error)
        return None
    run.request = rendered.as_json()
    if rendered.url is None:
        _attempt(run, code=None, error="The URL rendered to no http(s) link for this call.", duration=0.0)
        _finish(run, status=ServerScriptRunStatus.FAILED, code=None, error=run.last_error)
        return None
    headers = [(name.encode(), value.encode("utf-8", "replace")) for name, value in rendered.headers]
    if rendered.content_type and not any(n.lower() == "content-type" for n, _ in rendered.headers):
        headers.append((b"Content-Type", rendered.content_type.encode()))
    started = time.perf_counter()
    code: int | None = None
    error = ""
    retry_after: float | None = None
    try:
        with connector_client(timeout=float(settings.SERVER_SCRIPT_TIMEOUT_SECONDS)) as client:
            response = client.request(rendered.method, rendered.url, headers=headers, content=rendered.body)
            code = response.status_code
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except OutboundAddressRefused:
        _attempt(run, code=None, error=PRIVATE_ADDRESS_MESSAGE, duration=time.perf_counter() - started)
        _finish(run, status=ServerScriptRunStatus.REFUSED, code=None, error=PRIVATE_ADDRESS_MESSAGE)
        return None
    except httpx.TimeoutException:
        error = f"No answer within {settings.SERVER_SCRIPT_TIMEOUT_SECONDS:g} s."
    except httpx.HTTPError as exc:
        error = exc.message if isinstance(exc, OutboundError) and exc.message else _error_text(exc)
    duration = time.perf_counter() - started
    if code is not None and code < 400:
        _attempt(run, code=code, error="", duration=duration)
        _finish(run, status=ServerScriptRunStatus.SENT, code=code, error="")
        return None
    if code is not None:
        error = f"HTTP {code}"
    _attempt(run, code=code, error=error, duration=duration)
    retryable = code is None or code >= 500 or code == 429
    if not retryable or run.attempts >= int(settings.SERVER_SCRIPT_MAX_ATTEMPTS):
        _finish(run, status=ServerScriptRunStatus.FAILED, code=code, error=error)
        return None
    run.last_status_code, run.last_error = code, error
    run.save(update_fields=["attempts", "attempts_log", "request", "last_status_code", "last_error"])
    if code == 429 and retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_SECONDS)
    return backoff_seconds(run.attempts)


def _error_text(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__


def _attempt(run: ServerScriptRun, *, code: int | None, error: str, duration: float) -> None:
    run.attempts += 1
    run.attempts_log = [
        *run.attempts_log,
        {
            "at": timezone.now().isoformat(timespec="seconds"),
            "status_code": code,
            "error": error,
            "duration_ms": round(duration * 1000, 1),
        },
    ]
    run.last_error = error


def _finish(run: ServerScriptRun, *, status: str, code: int | None, error: str) -> None:
    run.status = status
    run.last_status_code = code
    run.last_error = error
    run.finished = timezone.now()
    run.save()


def server_script_runs_of_call(*, tenant: Tenant, call_id: str) -> list[ServerScriptRun]:
    """The tenant's server requests of the call with `call_id` (oldest first); [] without an id."""
    if not call_id:
        return []
    return list(
        ServerScriptRun.objects.filter(tenant=tenant, call_id=call_id)
        .select_related("script")
        .order_by("created", "id")
    )


def server_script_runs_recent(
    *, tenant: Tenant, failed_only: bool = False, limit: int = 200
) -> list[ServerScriptRun]:
    """The tenant's most recent server requests, newest first; `failed_only`: failed and refused."""
    runs = ServerScriptRun.objects.filter(tenant=tenant).select_related("script")
    if failed_only:
        runs = runs.filter(status__in=[ServerScriptRunStatus.FAILED, ServerScriptRunStatus.REFUSED])
    return list(runs.order_by("-created", "-id")[:limit])


def server_script_failures_count(*, tenant: Tenant, days: int = 7) -> int:
    """How many of the tenant's server requests of the last `days` days failed or were refused."""
    since = timezone.now() - dt.timedelta(days=days)
    return ServerScriptRun.objects.filter(
        tenant=tenant,
        created__gte=since,
        status__in=[ServerScriptRunStatus.FAILED, ServerScriptRunStatus.REFUSED],
    ).count()


def server_script_runs_purge(*, now: dt.datetime | None = None) -> int:
    """Delete finished server requests older than their tenant's call-log days kept
    (`CALL_JOURNAL_DAYS` for tenants without options); returns how many were deleted."""
    from integrations.models import CallJournalOptions

    now = now or timezone.now()
    finished = ServerScriptRun.objects.exclude(status=ServerScriptRunStatus.PENDING)
    deleted = 0
    custom = list(CallJournalOptions.objects.values_list("tenant_id", "days_kept"))
    for tenant_id, days in custom:
        cutoff = now - dt.timedelta(days=days)
        deleted += finished.filter(tenant_id=tenant_id, created__lt=cutoff).delete()[0]
    default_cutoff = now - dt.timedelta(days=settings.CALL_JOURNAL_DAYS)
    deleted += (
        finished.filter(created__lt=default_cutoff)
        .exclude(tenant_id__in=[tenant_id for tenant_id, _ in custom])
        .delete()[0]
    )
    return deleted


# A pending run with no attempt for this long was lost (queueing failed, or its worker died): every
# retry the task schedules itself waits at most RETRY_AFTER_CAP_SECONDS (or the back-off, shorter).
STALE_PENDING = dt.timedelta(seconds=RETRY_AFTER_CAP_SECONDS + 300)


def server_script_runs_stale(*, now: dt.datetime | None = None) -> list[int]:
    """Ids of pending server requests that nothing will send any more: created, or last
    attempted, longer than `STALE_PENDING` ago (oldest first). The dispatcher queues them again;
    a run that was sent meanwhile is skipped by `server_script_send` (only pending runs are sent)."""
    now = now or timezone.now()
    cutoff = now - STALE_PENDING
    stale: list[int] = []
    pending = ServerScriptRun.objects.filter(status=ServerScriptRunStatus.PENDING, created__lt=cutoff)
    for pk, attempts_log in pending.order_by("created", "id").values_list("pk", "attempts_log"):
        last = attempts_log[-1].get("at") if attempts_log else None
        last_at = dt.datetime.fromisoformat(last) if isinstance(last, str) else None
        if last_at is None or last_at < cutoff:
            stale.append(pk)
    return stale
