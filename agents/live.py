"""Call events to the agents' live page: what the PBX adapters and the match API call, and the push.

`pbx_event_received` (from `integrations.pbx.base.handle_event`) and `match_received` (from the
match API) only remember the event. `AgentEventsMiddleware` processes what a request remembered
after the response was sent (a closer of the response, like the call journal's), so telling the
agents never delays the PBX's answer; outside a request (a test, a command) it is processed at
once. Processing keeps one `AgentCall` per call up to date (ringing → answered → ended, or
missed) and sends its card (`call_card`) through the channel layer to the group of every agent
the call concerns (`agent_group`), which reaches each of their open pages in any web process.

Failures are logged (logger `agents.live`), never raised: a PBX's answer never depends on them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from agents.models import AgentCall, AgentProfile, CallState
from agents.targets import CallKeys, agent_for_device, agents_for_keys, call_keys
from integrations.calls import Call
from integrations.models import CallEvent
from integrations.phones import PhoneNumberError, normalize_phone
from integrations.server_scripts import pbx_call_event
from scripts_engine.schemes import allowed_schemes, scheme_of
from tenants.models import Tenant

logger = logging.getLogger(__name__)

API_SOURCE = "api"
# The phases of a call this module follows; "outbound" is an agent's outgoing call (a call-back).
START, ANSWERED, ENDED, OUTBOUND = "start", "answered", "ended", "outbound"
# Fields of a PBX payload that name the device that answered: Zammad's and sipgate's
# answeringNumber, Placetel's peer (the SIP user that accepted the call).
_ANSWERING_FIELDS = ("answeringNumber", "peer")


def agent_group(agent_id: int) -> str:
    """The channel-layer group every open page of agent `agent_id` belongs to."""
    return f"agent.{agent_id}"


@dataclasses.dataclass(frozen=True)
class CallReport:
    """One call event for the agents: which call, which phase, and what identifies the agents.

    `numbers`/`names`/`queues` say whom the call is for (device or dialled numbers, device names,
    queue names); `by_numbers`/`by_names` the device that answered (answered) or dialled
    (outbound); `answer` is the match of a start event.
    """

    tenant_id: int
    source: str
    phase: str
    call_id: str = ""
    caller_number: str = ""
    caller_e164: str = ""
    called_number: str = ""
    numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    by_numbers: tuple[str, ...] = ()
    by_names: tuple[str, ...] = ()
    answer: Mapping[str, Any] | None = None
    at: dt.datetime = dataclasses.field(default_factory=timezone.now)


_pending: ContextVar[list[CallReport] | None] = ContextVar("agent_reports_pending", default=None)


def _remember(report: CallReport) -> None:
    pending = _pending.get()
    if pending is None:
        call_report_process(report)
    else:
        pending.append(report)


def _texts(*values: Any) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if isinstance(v, str) and v.strip())


def pbx_event_received(
    *,
    tenant: Tenant,
    source: str,
    format_slug: str,
    event: Any,
    data: Mapping[str, Any],
    answer: Mapping[str, Any] | None,
) -> None:
    """Tell the agents about a PBX call event (an accepted `integrations.pbx.base.PbxEvent`).

    `source` identifies the sender ("pbx:<sender id>"), `data` is the parsed payload, `answer`
    the match of an incoming call's start event (None otherwise). Never raises.
    """
    try:
        params: Mapping[str, str] = event.params
        phase = pbx_call_event(format_slug, event.name, incoming=True)
        if phase is None:
            return
        direction = params.get("direction", "")
        if phase == CallEvent.START and not event.incoming:
            if direction != "out":
                return
            phase = OUTBOUND
        answering = _texts(*(data.get(name) for name in _ANSWERING_FIELDS))
        device_names = _texts(params.get("device_name"))
        caller = params.get("caller_number", "")
        call_json = (answer or {}).get("call") or {}
        if phase == OUTBOUND:
            report = CallReport(
                tenant_id=tenant.pk,
                source=source,
                phase=OUTBOUND,
                call_id=event.call_id,
                called_number=params.get("ddi_number", ""),
                by_numbers=_texts(caller, params.get("device_number")),
                by_names=device_names,
            )
        else:
            report = CallReport(
                tenant_id=tenant.pk,
                source=source,
                phase=str(phase),
                call_id=event.call_id,
                caller_number=caller,
                caller_e164=str(call_json.get("caller_number_e164") or ""),
                called_number=event.called_number or params.get("ddi_number", ""),
                numbers=_texts(params.get("ddi_number"), params.get("device_number"), event.called_number),
                names=device_names if phase == START else (),
                queues=_texts(params.get("ddi_name")),
                by_numbers=answering + _texts(params.get("device_number")),
                by_names=device_names,
                answer=answer if phase == START else None,
            )
        _remember(report)
    except Exception:
        logger.exception("reading a PBX event for the agents failed")


def match_received(*, tenant: Tenant, call: Call, answer: Mapping[str, Any]) -> None:
    """Tell the agents about a match API request that names a device, DDI or queue (a call
    start; the match API sends no later states). Never raises."""
    try:
        if not (call.device_number or call.device_name or call.ddi_number or call.ddi_name):
            return
        if call.direction == "out":
            return
        _remember(
            CallReport(
                tenant_id=tenant.pk,
                source=API_SOURCE,
                phase=START,
                call_id=call.call_id,
                caller_number=call.caller_number,
                caller_e164=call.caller_number_e164 or "",
                called_number=call.ddi_number or call.device_number,
                numbers=_texts(call.device_number, call.ddi_number),
                names=_texts(call.device_name),
                queues=_texts(call.ddi_name),
                answer=answer,
            )
        )
    except Exception:
        logger.exception("reading a match request for the agents failed")


class AgentEventsMiddleware:
    """Collects the call reports of a request and processes them after the response was sent
    (a response closer: Django's WSGI and ASGI handlers call `close()` once the body is out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Answer the request; queue the processing of its call reports for when it closes."""
        reports: list[CallReport] = []
        token = _pending.set(reports)
        try:
            response = self.get_response(request)
        finally:
            _pending.reset(token)
        if reports:
            # As integrations.journal.CallJournalMiddleware: the stubs do not declare the hook.
            response._resource_closers.append(  # type: ignore[attr-defined]
                lambda: [call_report_process(report) for report in reports]
            )
        return response


# Processing ---------------------------------------------------------------------------------------


def call_report_process(report: CallReport) -> AgentCall | None:
    """Apply `report` to its `AgentCall` and push the card to the agents concerned.

    Returns the call row (None when the event concerns no agent). Never raises.
    """
    try:
        tenant = Tenant.objects.filter(pk=report.tenant_id).first()
        if tenant is None or not AgentProfile.objects.filter(tenant=tenant).exists():
            return None
        if report.phase == OUTBOUND:
            for call in _called_back_by_outbound(tenant, report):
                publish_call(call)
            return None
        applied = _apply(tenant, report)
        if applied is not None:
            publish_call(applied)
        return applied
    except Exception:
        logger.exception("processing a call event for the agents failed")
        return None


def _find(tenant: Tenant, report: CallReport) -> AgentCall | None:
    if not report.call_id:
        return None
    return (
        AgentCall.objects.select_for_update()
        .filter(tenant=tenant, source=report.source, call_id=report.call_id[:255])
        .first()
    )


def _apply(tenant: Tenant, report: CallReport) -> AgentCall | None:
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _apply_once(tenant, report)
        except IntegrityError:  # two processes created the same call at once: the other won
            if attempt:
                raise
    return None


def _apply_once(tenant: Tenant, report: CallReport) -> AgentCall | None:
    call = _find(tenant, report)
    if report.phase == START:
        answer = report.answer or {}
        if answer.get("ignored"):
            return None  # a caller on the ignore list is shown to nobody
        agents = list(agents_for_keys(tenant=tenant, keys=_keys(tenant, report)))
        if not agents and call is None:
            return None
        if call is None:
            call = AgentCall(tenant=tenant, source=report.source, call_id=report.call_id[:255])
            call.started_at = report.at
        call.caller_number = report.caller_number[:64]
        call.caller_e164 = report.caller_e164[:20]
        call.called_number = report.called_number[:64]
        call.answer = dict(answer)
        call.save()
        call.offered_to.add(*agents)
        _purge_old(tenant)
        return call
    by = agent_for_device(
        tenant=tenant, keys=call_keys(tenant=tenant, numbers=report.by_numbers, names=report.by_names)
    )
    if call is None:
        # A later event of a call no agent was shown (or whose start is still being processed in
        # another process): kept, without a card, so that the start does not show it as ringing.
        if by is None and not agents_for_keys(tenant=tenant, keys=_keys(tenant, report)).exists():
            return None
        call = AgentCall.objects.create(
            tenant=tenant,
            source=report.source,
            call_id=report.call_id[:255],
            caller_number=report.caller_number[:64],
            called_number=report.called_number[:64],
            started_at=report.at,
        )
    if report.phase == ANSWERED and call.state == CallState.RINGING:
        call.state = CallState.ANSWERED
        call.answered_at = report.at
        call.answered_by = by
        if by is not None:
            call.offered_to.add(by)
    elif report.phase == ENDED and call.state in (CallState.RINGING, CallState.ANSWERED):
        call.state = CallState.ENDED if call.state == CallState.ANSWERED else CallState.MISSED
        call.ended_at = report.at
    else:
        return call
    call.save()
    return call


def _keys(tenant: Tenant, report: CallReport) -> CallKeys:
    return call_keys(tenant=tenant, numbers=report.numbers, names=report.names, queues=report.queues)


def _purge_old(tenant: Tenant) -> None:
    cutoff = timezone.now() - dt.timedelta(days=max(1, int(settings.AGENT_CALLS_KEEP_DAYS)))
    AgentCall.objects.filter(tenant=tenant, started_at__lt=cutoff).delete()


def _called_back_by_outbound(tenant: Tenant, report: CallReport) -> list[AgentCall]:
    """Missed calls from the number an agent now dials are called back (by that agent, if known)."""
    try:
        e164 = normalize_phone(report.called_number, country=tenant.country).e164
    except PhoneNumberError:
        return []
    by = agent_for_device(
        tenant=tenant, keys=call_keys(tenant=tenant, numbers=report.by_numbers, names=report.by_names)
    )
    since = report.at - dt.timedelta(days=1)
    calls = list(
        AgentCall.objects.filter(
            tenant=tenant,
            caller_e164=e164,
            state=CallState.MISSED,
            called_back_at=None,
            started_at__gte=since,
        )
    )
    for call in calls:
        call.called_back_at = report.at
        call.called_back_by = by
        call.save(update_fields=["called_back_at", "called_back_by"])
    return calls


def call_called_back(*, agent: AgentProfile, call_id: int) -> AgentCall:
    """Mark one of `agent`'s calls as called back by them (again: no change) and push the card.

    Raises `AgentCall.DoesNotExist` for a call that is not the agent's (another tenant's, a
    colleague's that was never offered to them, or none).
    """
    call: AgentCall = agent_calls(agent=agent).get(pk=call_id)
    if call.called_back_at is None:
        call.called_back_at = timezone.now()
        call.called_back_by = agent
        call.save(update_fields=["called_back_at", "called_back_by"])
        publish_call(call)
    return call


def agent_calls(*, agent: AgentProfile) -> QuerySet[AgentCall]:
    """The calls shown to `agent`: offered to them or answered by them, in their tenant."""
    return (
        AgentCall.objects.filter(tenant_id=agent.tenant_id)
        .filter(Q(offered_to=agent) | Q(answered_by=agent))
        .distinct()
    )


# Cards and publishing -----------------------------------------------------------------------------


def _agent_json(agent: AgentProfile | None) -> dict[str, Any] | None:
    return None if agent is None else {"id": agent.pk, "name": agent.display_name}


def _text(value: Any, limit: int = 500) -> str:
    return str(value)[:limit] if value is not None else ""


def _safe_url(value: Any, schemes: frozenset[str]) -> str:
    # Script links are checked when rendered; a CRM's record URL is not: the page gets none that
    # could run script (javascript:, data: …), whatever a CRM or an old row holds.
    url = _text(value, 4000)
    return url if scheme_of(url) in schemes else ""


def _actions(raw: Any, schemes: frozenset[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    actions = []
    for a in raw:
        if isinstance(a, dict) and _safe_url(a.get("url"), schemes):
            actions.append(
                {
                    "name": _text(a.get("name"), 200),
                    "url": _safe_url(a.get("url"), schemes),
                    "auto_open": bool(a.get("auto_open")),
                }
            )
    return actions


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def call_card(call: AgentCall) -> dict[str, Any]:
    """The card of `call` as the agent page draws it (JSON).

    `{"id", "state": ringing|answered|ended|missed, "follows_state" (false for the match API's
    calls, which have no later events), "started_at", "answered_at", "ended_at" (ISO
    8601), "caller_number", "caller_e164", "caller_name", "anonymous", "called_number",
    "answered_by": {"id", "name"}|null, "called_back": {"at", "by"}|null, "callback_url": "tel:…"|null,
    "matches": [{"title", "integration", "record_url", "fields": [{"label", "value"}], "actions",
    "other_records"}], "choose": [{"integration", "choices": [{"title", "url"}]}], "actions":
    [{"name", "url", "auto_open"}]}`.
    """
    answer = call.answer if isinstance(call.answer, dict) else {}
    schemes = allowed_schemes(call.tenant.extra_schemes)
    matches = []
    for match in answer.get("matches") or []:
        if not isinstance(match, dict):
            continue
        notification = match.get("notification") or {}
        record = match.get("record") or {}
        integration = match.get("integration") or {}
        matches.append(
            {
                "title": _text(notification.get("title"), 200),
                "integration": _text(integration.get("name"), 200),
                "record_url": _safe_url(record.get("url"), schemes),
                "fields": [
                    {"label": _text(f.get("label"), 100), "value": _text(f.get("value"))}
                    for f in notification.get("fields") or []
                    if isinstance(f, dict)
                ],
                "actions": _actions(match.get("actions"), schemes),
                "other_records": int(match.get("other_records") or 0),
            }
        )
    choose = [
        {
            "integration": _text((entry.get("integration") or {}).get("name"), 200),
            "choices": [
                {"title": _text(c.get("title"), 200), "url": _safe_url(c.get("url"), schemes)}
                for c in entry.get("choices") or []
                if isinstance(c, dict)
            ],
        }
        for entry in answer.get("choose") or []
        if isinstance(entry, dict)
    ]
    raw_call = answer.get("call")
    call_json: dict[str, Any] = raw_call if isinstance(raw_call, dict) else {}
    caller_name = matches[0]["title"] if matches else _text(call_json.get("caller_name"), 200)
    callback = f"tel:{call.caller_e164}" if call.caller_e164 else None
    return {
        "id": call.pk,
        "state": call.state,
        # The match API sends no answer or hang-up: its calls never leave "ringing".
        "follows_state": call.source != API_SOURCE,
        "started_at": _when(call.started_at),
        "answered_at": _when(call.answered_at),
        "ended_at": _when(call.ended_at),
        "caller_number": call.caller_number,
        "caller_e164": call.caller_e164,
        "caller_name": caller_name,
        "anonymous": bool(call_json.get("anonymous")),
        "called_number": call.called_number,
        "answered_by": _agent_json(call.answered_by),
        "called_back": (
            {"at": _when(call.called_back_at), "by": _agent_json(call.called_back_by)}
            if call.called_back_at is not None
            else None
        ),
        "callback_url": callback,
        "matches": matches,
        "choose": choose,
        "actions": _actions(answer.get("actions"), schemes),
    }


def _recipients(call: AgentCall) -> set[int]:
    ids = set(call.offered_to.values_list("pk", flat=True))
    if call.answered_by_id is not None:
        ids.add(call.answered_by_id)
    return ids


def publish_call(call: AgentCall) -> None:
    """Send `call`'s card to the group of every agent it was offered to or answered by."""
    card = call_card(call)
    group_send_many((agent_group(i) for i in sorted(_recipients(call))), {"type": "agent.call", "call": card})


def group_send_many(groups: Iterable[str], message: Mapping[str, Any]) -> None:
    """`message` to each of `groups` through the default channel layer; failures are logged."""
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, dict(message))
        except Exception:
            logger.exception("sending to the agents' group %s failed", group)


def agent_signed_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """`user_logged_out` receiver: close the open pages of the agent who signed out."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return
    agent_id = AgentProfile.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
    if agent_id is not None:
        agent_disconnect(agent_id=agent_id)


def agent_disconnect(*, agent_id: int) -> None:
    """Close every open page of agent `agent_id` (signed out, deactivated or removed)."""
    group_send_many([agent_group(agent_id)], {"type": "agent.disconnect"})
