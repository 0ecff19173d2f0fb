"""The call journal: every match request and PBX call event, per tenant, for the call log and the
match-quality report.

`journal_record(...)` is called by the match API and by each PBX adapter while it answers. It only
remembers the entry: `CallJournalMiddleware` writes what a request recorded after the answer was
sent (a closer of the response, which the WSGI server calls once the body is out), so writing the
log never delays the answer (`bench/journal_bench.py` measures it); with
`CALL_JOURNAL_BATCH_SECONDS` above 0 it queues them for a per-process writer thread that inserts
them in batches (`_BatchWriter`), so the worker is free for the next request at once. Outside a
request (a Celery task, a command) the entry is written at once. A failed write is logged, never raised.

A tenant's `CallJournalOptions` turn logging off, set how many days entries are kept (the beat
task `integrations.purge_call_journal` deletes older ones) and mask caller numbers to their last
`MASK_KEEP_DIGITS` digits ("•••••4567"), in the request and answer JSON as well.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import close_old_connections, connections, router, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

import scripts_engine
from integrations.calls import Call
from integrations.match_config import match_config
from integrations.models import CallJournalEntry, CallJournalOptions, Integration, Script
from integrations.phones import PhoneNumberError, normalize_phone
from integrations.presets import ScriptApplies
from tenants.models import Tenant

logger = logging.getLogger(__name__)

API_SENDER = "api"
MASK_KEEP_DIGITS = 4
MASK_PREFIX = "•••••"
# Numbers with fewer digits are internal extensions: not personal data, never masked.
_MASK_MIN_DIGITS = 5
# Events that start a call (case-insensitive): "" is the match API; the others are the first
# event of the PBX formats (Zammad/sipgate newCall, Placetel IncomingCall, CloudCTI ringing,
# Anywhere365 eventType 0 "incoming"). Only these count as calls in the chart and the report.
CALL_START_EVENTS = frozenset({"", "newcall", "incomingcall", "ringing", "incoming", "hunting", "0"})
# What a stored request or answer may hold: longer texts are cut, deeper JSON is cut off.
_MAX_TEXT = 2000
_MAX_DEPTH = 20
_MAX_ITEMS = 200


@dataclasses.dataclass(frozen=True)
class _Pending:
    tenant: Tenant
    created: dt.datetime
    sender: str
    event: str
    call_id: str
    caller_number: str
    called_number: str
    request_data: Mapping[str, Any]
    answer: Mapping[str, Any] | None
    status_code: int
    duration_ms: float


# The entries recorded during the current request; None outside a request (write at once).
_pending: ContextVar[list[_Pending] | None] = ContextVar("call_journal_pending", default=None)


def journal_record(
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
    """Log one match request or call event of `tenant`; never raises, never delays the answer.

    `sender` is "api" or the PBX format's name ("zammad", "placetel", …); `event` the sender's
    event name ("" for the match API; see `CALL_START_EVENTS`); `request_data` what was received
    (parsed parameters or body, a JSON-able mapping); `answer` the match answer as returned by
    `matching.match_call` (or the error JSON, or None when nothing was answered). A PBX format
    that answers its sender something else passes `{"match": <match_call's answer>, "sent":
    <what it sent, e.g. {} or the XML as text>}`: the log reads the match from "match" and
    shows both. `status_code` the HTTP status answered; `duration_ms` the time to the answer in
    milliseconds. When `caller_number` is empty, `request_data["caller_number"]` is used.

    Inside a request the entry is written after the response was sent (`CallJournalMiddleware`);
    outside one it is written now. Nothing is written when `CALL_JOURNAL_ENABLED` is off or the
    tenant turned its log off. Errors are logged (logger `integrations.journal`), not raised.
    """
    if not settings.CALL_JOURNAL_ENABLED:
        return
    try:
        if not caller_number and isinstance(request_data.get("caller_number"), str):
            caller_number = request_data["caller_number"]
        entry = _Pending(
            tenant=tenant,
            created=timezone.now(),
            sender=str(sender)[:32],
            event=str(event)[:64],
            call_id=str(call_id)[:255],
            caller_number=str(caller_number),
            called_number=str(called_number),
            request_data=request_data,
            answer=answer,
            status_code=int(status_code),
            duration_ms=float(duration_ms),
        )
        pending = _pending.get()
        if pending is None:
            _write([entry])
        else:
            pending.append(entry)
    except Exception:
        logger.exception("Could not record a call-log entry of tenant %s", getattr(tenant, "pk", None))


class CallJournalMiddleware:
    """Collects the entries `journal_record` gets during a request and writes them after the
    response was sent: as one of the response's resource closers, which Django calls from
    `HttpResponse.close()` (the WSGI server calls it after the body went out; PEP 3333)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Answer the request; queue the write of what it recorded to run when the response closes."""
        entries: list[_Pending] = []
        token = _pending.set(entries)
        try:
            response = self.get_response(request)
        finally:
            _pending.reset(token)
        if entries:
            # Django's hook for work after the response (FileResponse closes its file here); the
            # stubs do not declare it.
            response._resource_closers.append(lambda: _store(entries))  # type: ignore[attr-defined]
        return response


# Batching ----------------------------------------------------------------------------------------


class _BatchWriter:
    """Collects finished requests' entries and writes them in one INSERT every
    `CALL_JOURNAL_BATCH_SECONDS` seconds, from a daemon thread of this process.

    A web worker then goes back to the next request as soon as the answer is out, and a thousand
    entries cost one transaction instead of a thousand. At most `CALL_JOURNAL_BATCH_MAX` entries
    wait: beyond that the request that adds one writes the batch itself. What waits is written
    at interpreter exit (`atexit`: a gunicorn worker's graceful stop); a killed process loses at
    most one interval of call-log entries (never an answer: the log is written after it).
    Started lazily per process (a forked child starts its own thread).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._wake = threading.Event()
        self._pid = 0

    def add(self, entries: list[_Pending]) -> None:
        """Queue `entries`; write now if the queue is full."""
        with self._lock:
            self._waiting.extend(entries)
            full = len(self._waiting) >= settings.CALL_JOURNAL_BATCH_MAX
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="call-journal-writer", daemon=True).start()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what waits (in this thread); returns how many entries were taken."""
        with self._lock:
            batch, self._waiting = self._waiting, []
        if batch:
            _write(batch)
        return len(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait(max(settings.CALL_JOURNAL_BATCH_SECONDS, 0.01))
            self._wake.clear()
            try:
                self.flush()
            finally:
                # This thread's own connection: dropped when broken or past its age, as after a
                # request (django.db.close_old_connections), kept open otherwise.
                close_old_connections()


_batch_writer = _BatchWriter()
atexit.register(_batch_writer.flush)


def journal_flush() -> int:
    """Write the entries waiting in this process's batch now (tests, shutdown); returns how many."""
    return _batch_writer.flush()


def _store(entries: list[_Pending]) -> None:
    """After a response: write `entries` now, or queue them for the batch writer when
    `CALL_JOURNAL_BATCH_SECONDS` is above 0."""
    if settings.CALL_JOURNAL_BATCH_SECONDS > 0:
        _batch_writer.add(entries)
    else:
        _write(entries)


# Writing -----------------------------------------------------------------------------------------


def _write(entries: list[_Pending]) -> None:
    """Store `entries` (with each tenant's options applied); a failure is logged, not raised."""
    try:
        rows = []
        for entry in entries:
            # The tenant's log options come with its matching configuration (no query when the
            # process's copy is current; integrations.match_config).
            option = match_config(entry.tenant).journal_options
            if option is not None and not option.enabled:
                continue
            rows.append(_row(entry, tenant=entry.tenant, mask=option is not None and option.mask_numbers))
        if rows:
            _insert(rows)
    except Exception:
        logger.exception("Could not write %d call-log entries", len(entries))


def _insert(rows: list[CallJournalEntry]) -> None:
    """INSERT `rows` in one statement: on PostgreSQL a `COPY … FROM STDIN` (psycopg 3's
    `Cursor.copy`, https://www.psycopg.org/psycopg3/docs/basic/copy.html), which costs about a
    third of the CPU of Django's `bulk_create` there (that one sends each column as an array for
    `UNNEST`, and psycopg escapes every element of those arrays in Python); `bulk_create` elsewhere.
    Values go through each field's `get_db_prep_save`, as `bulk_create` does."""
    alias = router.db_for_write(CallJournalEntry)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=alias):
            CallJournalEntry.objects.using(alias).bulk_create(rows)
        return
    fields = [f for f in CallJournalEntry._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(CallJournalEntry._meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    started = time.monotonic()
    with transaction.atomic(using=alias), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields])
    if connection.queries_logged:  # as Django logs its own queries (DEBUG, tests' query capture)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def _match_of(answer: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The match answer inside what was answered: itself, or its "match" (see `journal_record`)."""
    if answer is None or "matches" in answer:
        return answer
    inner = answer.get("match")
    return inner if isinstance(inner, Mapping) else answer


def _row(entry: _Pending, *, tenant: Tenant, mask: bool) -> CallJournalEntry:
    sent = entry.answer if isinstance(entry.answer, Mapping) else None
    answer = _match_of(sent)
    call = answer.get("call") if answer is not None else None
    call = call if isinstance(call, Mapping) else {}
    matches = answer.get("matches") if answer is not None else None
    matches = matches if isinstance(matches, list) else []
    # An integration set to "choose" answers its records as one `choose` entry (the agent picks).
    chooses = answer.get("choose") if answer is not None else None
    chooses = chooses if isinstance(chooses, list) else []
    integration_ids: list[int] = []
    for match in matches:
        integration = match.get("integration") if isinstance(match, Mapping) else None
        integration_id = integration.get("id") if isinstance(integration, Mapping) else None
        if isinstance(integration_id, int) and integration_id not in integration_ids:
            integration_ids.append(integration_id)
    for choose in chooses:
        integration = choose.get("integration") if isinstance(choose, Mapping) else None
        integration_id = integration.get("id") if isinstance(integration, Mapping) else None
        if isinstance(integration_id, int) and integration_id not in integration_ids:
            integration_ids.append(integration_id)
    e164 = call.get("caller_number_e164")
    e164 = e164 if isinstance(e164, str) else ""
    if not e164 and entry.caller_number:
        e164 = _e164_or_blank(entry.caller_number, country=tenant.country)
    direction = call.get("direction", entry.request_data.get("direction", ""))
    direction = direction.strip().lower()[:8] if isinstance(direction, str) else ""
    request_data = _stored_json(entry.request_data)
    answer_data = _stored_json(sent) if sent is not None else None
    caller_number = entry.caller_number
    if mask:
        masker = _NumberMasker(caller_number=caller_number, e164=e164)
        request_data = masker.json(request_data)
        answer_data = masker.json(answer_data)
        caller_number = masker.caller(caller_number)
        e164 = mask_number(e164) if e164 else ""
    return CallJournalEntry(
        tenant_id=entry.tenant.pk,
        created=entry.created,
        sender=entry.sender,
        event=entry.event,
        call_id=_text_safe(entry.call_id)[:255],
        caller_number=_text_safe(caller_number)[:128],
        caller_e164=e164[:32],
        called_number=_text_safe(entry.called_number)[:128],
        direction=direction,
        matched=bool(matches or chooses),
        match_count=len(matches)
        + sum(len(c.get("choices") or []) for c in chooses if isinstance(c, Mapping)),
        integration_ids=integration_ids,
        counts_as_call=(
            200 <= entry.status_code < 300
            and answer is not None
            and "matches" in answer
            and direction != "out"
            and entry.event.strip().casefold() in CALL_START_EVENTS
            and answer.get("ignored") is not True
            and not _is_internal(call)
        ),
        request=request_data if isinstance(request_data, dict) else {"value": request_data},
        answer=answer_data,
        status_code=entry.status_code,
        duration_ms=round(entry.duration_ms, 3) if math.isfinite(entry.duration_ms) else 0.0,
    )


def _is_internal(call: Mapping[str, Any]) -> bool:
    """Whether the answered call came from an internal extension (never matched, so not counted)."""
    kind = call.get("caller_kind")
    if isinstance(kind, str):
        return kind == "internal"
    # Before `caller_kind`: a 200 without an E.164 number that is not withheld is an extension.
    return bool(call) and call.get("caller_number_e164") is None and call.get("anonymous") is False


def _e164_or_blank(number: str, *, country: str) -> str:
    try:
        return normalize_phone(number, country=country).e164
    except (PhoneNumberError, ValueError):
        return ""


def _text_safe(text: str) -> str:
    """`text` as PostgreSQL can store it: no NUL, no lone surrogates, at most `_MAX_TEXT` characters."""
    if len(text) <= _MAX_TEXT and text.isascii() and "\x00" not in text:
        return text  # the common case, checked in C
    text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _stored_json(value: Any) -> Any:
    """`value` as the log stores it: `_json_safe(value)`, or `value` itself when serializing it
    (in C) shows there is nothing to change: valid UTF-8 without NUL, finite numbers, at most
    `_MAX_TEXT` characters in all (so no text is longer), fewer containers than `_MAX_DEPTH` and
    fewer commas than `_MAX_ITEMS` (so no deeper or longer container)."""
    try:
        dumped = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return _json_safe(value)
    if (
        len(dumped) <= _MAX_TEXT
        and dumped.count(",") < _MAX_ITEMS
        and dumped.count("[") + dumped.count("{") < _MAX_DEPTH
        and "\\u0000" not in dumped
    ):
        try:
            dumped.encode("utf-8")  # lone surrogates raise
        except UnicodeEncodeError:
            return _json_safe(value)
        return value
    return _json_safe(value)


def _json_safe(value: Any, depth: int = 0) -> Any:
    """`value` as storable JSON: texts made safe, non-finite floats as text, depth and size bounded."""
    if isinstance(value, str):
        return _text_safe(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())[:_MAX_ITEMS]
        return {_text_safe(str(key)): _json_safe(item, depth + 1) for key, item in items}
    if isinstance(value, list | tuple):
        return [_json_safe(item, depth + 1) for item in list(value)[:_MAX_ITEMS]]
    return _text_safe(str(value))


# Masking -----------------------------------------------------------------------------------------

# A written phone number: digits with the separators people and URLs use (also percent-encoded).
_NUMBER_RUN = re.compile(r"(?:\+|%2[Bb])?\d(?:[\d\s().\-/]|%2[0389BbDdEeFf])*\d")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def mask_number(number: str, *, keep: int = MASK_KEEP_DIGITS) -> str:
    """`number`'s last `keep` digits after "•••••" ("+31 20 123 4567" -> "•••••4567").

    Numbers with fewer than 5 digits (internal extensions) and texts without digits
    ("anonymous") are returned unchanged.
    """
    digits = re.sub(r"\D", "", number)
    if len(digits) < _MASK_MIN_DIGITS:
        return number
    return MASK_PREFIX + digits[-keep:]


class _NumberMasker:
    """Masks every notation of one caller number inside texts and JSON.

    A run of digits and separators is the caller's number when its digits end with the number's
    national significant number (so "+31 (0)20 123 4567", "0201234567", "%2B31201234567" and
    "31201234567" all are), or equal the digits of the number as sent.
    """

    def __init__(self, *, caller_number: str, e164: str) -> None:
        targets = {re.sub(r"\D", "", caller_number)}
        if e164:
            targets.add(e164.lstrip("+"))
            with contextlib.suppress(phonenumbers.NumberParseException):
                targets.add(str(phonenumbers.parse(e164).national_number))
        self.targets = {t for t in targets if len(t) >= _MASK_MIN_DIGITS}

    def _replace(self, match: re.Match[str]) -> str:
        run = match.group()
        digits = re.sub(r"\D", "", _PERCENT.sub(" ", run.replace("%2B", "+").replace("%2b", "+")))
        if any(digits.endswith(target) or digits == target for target in self.targets):
            return mask_number(digits)
        return run

    def text(self, text: str) -> str:
        """`text` with each notation of the caller number masked."""
        if not self.targets:
            return text
        return _NUMBER_RUN.sub(self._replace, text)

    def caller(self, caller_number: str) -> str:
        """The caller number as sent, masked (also when it is no notation of the E.164 number)."""
        masked = self.text(caller_number)
        return mask_number(caller_number) if masked == caller_number else masked

    def json(self, value: Any) -> Any:
        """`value` (JSON) with the caller number masked in every text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return value


# Options and purging -----------------------------------------------------------------------------


def call_journal_options_get(*, tenant: Tenant) -> CallJournalOptions:
    """The tenant's call-log options; an unsaved row with the defaults when it has none."""
    try:
        return CallJournalOptions.objects.get(tenant=tenant)
    except CallJournalOptions.DoesNotExist:
        return CallJournalOptions(tenant=tenant)


def call_journal_options_update(
    *, tenant: Tenant, enabled: bool, days_kept: int, mask_numbers: bool
) -> CallJournalOptions:
    """Save the tenant's call-log options (audited: django-auditlog records the change).

    `days_kept` in days, at least 1. Raises `ValueError` for fewer.
    """
    if days_kept < 1:
        raise ValueError("Keep entries at least one day.")
    options = call_journal_options_get(tenant=tenant)
    options.enabled, options.days_kept, options.mask_numbers = enabled, days_kept, mask_numbers
    options.save()
    return options


def call_journal_purge(*, now: dt.datetime | None = None) -> int:
    """Delete every tenant's entries older than its `days_kept` (`CALL_JOURNAL_DAYS` for tenants
    without options); returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    custom = list(CallJournalOptions.objects.values_list("tenant_id", "days_kept"))
    for tenant_id, days in custom:
        deleted += CallJournalEntry.objects.filter(
            tenant_id=tenant_id, created__lt=now - dt.timedelta(days=days)
        ).delete()[0]
    default_cutoff = now - dt.timedelta(days=settings.CALL_JOURNAL_DAYS)
    deleted += (
        CallJournalEntry.objects.filter(created__lt=default_cutoff)
        .exclude(tenant_id__in=[tenant_id for tenant_id, _ in custom])
        .delete()[0]
    )
    return deleted


# Reading: the log, the chart, the report ----------------------------------------------------------


def _local_midnight(day: dt.date, *, tenant: Tenant) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tenant.zone)


def call_journal_list(
    *,
    tenant: Tenant,
    number: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    matched: bool | None = None,
    sender: str = "",
) -> QuerySet[CallJournalEntry]:
    """The tenant's entries, newest first, filtered.

    `number`: part of the caller or called number as stored, or any notation of a number (read
    in the tenant's country and compared as E.164); `date_from`/`date_to`: days in the tenant's
    time zone, both included; `matched`: True/False for matched or not; `sender`: "api" or a
    PBX format's name.
    """
    entries = CallJournalEntry.objects.filter(tenant=tenant)
    if number.strip():
        condition = Q(caller_number__icontains=number.strip()) | Q(called_number__icontains=number.strip())
        digits = re.sub(r"\D", "", number)
        if digits:
            condition |= Q(caller_e164__contains=digits)
        e164 = _e164_or_blank(number, country=tenant.country)
        if e164:
            condition |= Q(caller_e164=e164)
        entries = entries.filter(condition)
    if date_from is not None:
        entries = entries.filter(created__gte=_local_midnight(date_from, tenant=tenant))
    if date_to is not None:
        entries = entries.filter(created__lt=_local_midnight(date_to + dt.timedelta(days=1), tenant=tenant))
    if matched is not None:
        entries = entries.filter(matched=matched)
    if sender:
        entries = entries.filter(sender=sender)
    return entries.order_by("-created", "-id")


def call_journal_entry_get(*, tenant: Tenant, entry_id: int) -> CallJournalEntry:
    """One of the tenant's entries. Raises `CallJournalEntry.DoesNotExist` (another tenant's too)."""
    return CallJournalEntry.objects.get(tenant=tenant, pk=entry_id)


def call_journal_senders(*, tenant: Tenant) -> list[str]:
    """The senders the tenant's log holds, "api" first."""
    senders = set(CallJournalEntry.objects.filter(tenant=tenant).values_list("sender", flat=True).distinct())
    return [API_SENDER, *sorted(senders - {API_SENDER})]


@dataclasses.dataclass(frozen=True)
class DayCount:
    """Inbound calls of one day (tenant time zone): how many matched, how many did not."""

    day: dt.date
    matched: int
    unmatched: int

    @property
    def total(self) -> int:
        """All inbound calls of the day."""
        return self.matched + self.unmatched


def call_journal_daily(
    *, tenant: Tenant, date_from: dt.date, date_to: dt.date, sender: str = ""
) -> list[DayCount]:
    """Per day from `date_from` to `date_to` (both included, tenant time zone), the inbound calls
    that matched and that did not (entries with `counts_as_call`); days without calls are zeros."""
    entries = call_journal_list(tenant=tenant, date_from=date_from, date_to=date_to, sender=sender).filter(
        counts_as_call=True
    )
    rows = (
        entries.order_by()
        .annotate(day=TruncDate("created", tzinfo=tenant.zone))
        .values("day")
        .annotate(total=Count("id"), matched_calls=Count("id", filter=Q(matched=True)))
    )
    found: dict[dt.date, tuple[int, int]] = {}
    for row in rows:
        matched_calls = int(row["matched_calls"] or 0)
        found[row["day"]] = (matched_calls, int(row["total"]) - matched_calls)
    days = []
    day = date_from
    while day <= date_to:
        matched, unmatched = found.get(day, (0, 0))
        days.append(DayCount(day=day, matched=matched, unmatched=unmatched))
        day += dt.timedelta(days=1)
    return days


@dataclasses.dataclass(frozen=True)
class Share:
    """Of `calls` inbound calls, `matched` matched: `percent` (None without calls)."""

    calls: int
    matched: int

    @property
    def percent(self) -> float | None:
        """The matched share in percent, one decimal; None when there were no calls."""
        return round(100 * self.matched / self.calls, 1) if self.calls else None


@dataclasses.dataclass(frozen=True)
class IntegrationShare:
    """One integration's share of the tenant's inbound calls over 7 and 30 days."""

    integration: Integration
    last_7_days: Share
    last_30_days: Share


@dataclasses.dataclass(frozen=True)
class CreateLink:
    """A rendered on-no-match script of an integration: the "create contact" link for a number."""

    integration_name: str
    script_name: str
    url: str


@dataclasses.dataclass(frozen=True)
class UnmatchedCaller:
    """A caller whose inbound calls matched nothing in the last 30 days."""

    number: str
    calls: int
    last_call: dt.datetime
    masked: bool
    create_links: list[CreateLink]


@dataclasses.dataclass(frozen=True)
class SeveralMatches:
    """A caller number that matched more than one record in the last 30 days."""

    number: str
    calls: int
    most_records: int
    integration_names: list[str]


@dataclasses.dataclass(frozen=True)
class MatchQuality:
    """The match-quality report of a tenant (see `match_quality_report`)."""

    last_7_days: Share
    last_30_days: Share
    integrations: list[IntegrationShare]
    unmatched_callers: list[UnmatchedCaller]
    several_matches: list[SeveralMatches]


def _share(rows: Iterable[tuple[dt.datetime, bool, list[Any]]], *, since: dt.datetime) -> Share:
    calls = matched = 0
    for created, was_matched, _ in rows:
        if created >= since:
            calls += 1
            matched += was_matched
    return Share(calls=calls, matched=matched)


def match_quality_report(*, tenant: Tenant, now: dt.datetime | None = None, top: int = 10) -> MatchQuality:
    """How well the tenant's inbound calls matched over the last 7 and 30 days.

    Counts entries with `counts_as_call` (an answered inbound call's first event). Per
    integration, the share of all inbound calls it matched (disabled ones included). The `top`
    most frequent unmatched callers of 30 days, each with the "create contact" links of the
    integrations' on-no-match scripts rendered for that number (none for masked numbers), and
    the numbers that matched more than one record.
    """
    now = now or timezone.now()
    since_30 = now - dt.timedelta(days=30)
    since_7 = now - dt.timedelta(days=7)
    calls = CallJournalEntry.objects.filter(tenant=tenant, counts_as_call=True, created__gte=since_30)
    rows = [
        (c, bool(m), ids if isinstance(ids, list) else [])
        for c, m, ids in calls.values_list("created", "matched", "integration_ids")
    ]
    integrations = list(Integration.objects.filter(tenant=tenant).order_by("position", "id"))
    per_integration = []
    for integration in integrations:
        own = [(c, integration.pk in ids, ids) for c, _, ids in rows]
        per_integration.append(
            IntegrationShare(
                integration=integration,
                last_7_days=_share(own, since=since_7),
                last_30_days=_share(own, since=since_30),
            )
        )

    unmatched_rows = (
        calls.filter(matched=False)
        .exclude(caller_e164="")
        .order_by()
        .values("caller_e164")
        .annotate(calls=Count("id"), last_call=Max("created"))
        .order_by("-calls", "caller_e164")[:top]
    )
    scripts = list(
        Script.objects.filter(
            tenant=tenant,
            integration__tenant=tenant,
            integration__enabled=True,
            applies=ScriptApplies.ON_NO_MATCH,
        ).select_related("integration")
    )
    unmatched = []
    for row in unmatched_rows:
        number = row["caller_e164"]
        masked = number.startswith(MASK_PREFIX)
        links = [] if masked else _create_links(tenant=tenant, number=number, scripts=scripts, now=now)
        unmatched.append(
            UnmatchedCaller(
                number=number,
                calls=row["calls"],
                last_call=row["last_call"],
                masked=masked,
                create_links=links,
            )
        )

    several: dict[str, dict[str, Any]] = {}
    several_calls = calls.filter(match_count__gt=1).order_by("-created")
    for number, count, ids in several_calls.values_list("caller_e164", "match_count", "integration_ids"):
        item = several.setdefault(number, {"calls": 0, "most": 0, "ids": Counter()})
        item["calls"] += 1
        item["most"] = max(item["most"], count)
        item["ids"].update(ids if isinstance(ids, list) else [])
    names = {integration.pk: integration.name for integration in integrations}
    several_rows = [
        SeveralMatches(
            number=number,
            calls=item["calls"],
            most_records=item["most"],
            integration_names=[names.get(i, f"deleted integration {i}") for i in item["ids"]],
        )
        for number, item in sorted(several.items(), key=lambda kv: (-kv[1]["calls"], kv[0]))[:top]
    ]
    return MatchQuality(
        last_7_days=_share(rows, since=since_7),
        last_30_days=_share(rows, since=since_30),
        integrations=per_integration,
        unmatched_callers=unmatched,
        several_matches=several_rows,
    )


def _create_links(
    *, tenant: Tenant, number: str, scripts: list[Script], now: dt.datetime
) -> list[CreateLink]:
    """Each on-no-match script of an integration rendered for a call from `number` (E.164)."""
    props = Call(
        caller_number=number,
        caller_number_e164=number,
        anonymous=False,
        start_time=now.astimezone(tenant.zone),
        direction="in",
    ).properties()
    links: list[CreateLink] = []
    for script in scripts:
        try:
            template = scripts_engine.parse(script.template)
        except scripts_engine.TemplateError:
            continue
        if template.record_field_keys or not any(p.key == "callernumber" for p in template.placeholders):
            continue  # a link that does not carry the number creates nothing for this caller
        url = scripts_engine.render(
            template, call=props, record=None, country=tenant.country, extra_schemes=tenant.extra_schemes
        )
        if url is None or script.integration is None:
            continue
        links.append(CreateLink(integration_name=script.integration.name, script_name=script.name, url=url))
    return links
