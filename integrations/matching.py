"""Matching a call against the phone cache and rendering its notification and actions.

One call = one query on the phone cache (tenant + E.164 caller number, only enabled integrations'
current generation) plus one query for the tenant's scripts. Both queries check the tenant twice:
on the row and on its integration, so an integration moved to another tenant (Django admin) stops
matching for the old tenant at once, before its phone cache is synced again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import F
from django.utils.translation import gettext_noop

import scripts_engine
from integrations.calls import (
    CALL_PARAMETERS,
    CALLER_NUMBER_PATTERN,
    START_TIME_PATTERN,
    Call,
    CallInputError,
    call_from_params,
    max_length,
    shown_name,
)
from integrations.connectors.base import ConnectorError, CrmRecord, RecordPhone, RetryPolicy
from integrations.http import connector_client
from integrations.match_config import MatchConfig, match_config
from integrations.models import Integration, LookupMode, MultipleMatches, PhoneCacheEntry, Script, ScriptKind
from integrations.phones import PhoneNumberError, extract_numbers, main_number_candidates
from integrations.presets import ScriptApplies
from integrations.registry import find_preset
from integrations.replica import read_alias
from integrations.texts import Text
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The call contract lives in integrations.calls; these names are kept here for their many users.
__all__ = [
    "CALLER_NUMBER_PATTERN",
    "CALL_PARAMETERS",
    "START_TIME_PATTERN",
    "Call",
    "CallInputError",
    "call_from_params",
    "max_length",
    "shown_name",
]


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> scripts_engine.Template | None:
    try:
        return scripts_engine.parse(template)
    except scripts_engine.TemplateError:
        return None  # validated when saved; a template broken since (e.g. a renamed field) yields nothing


@dataclass
class _Renderer:
    call: Call
    country: str
    extra_schemes: frozenset[str]
    props: scripts_engine.CallProperties = field(init=False)

    def __post_init__(self) -> None:
        self.props = self.call.properties()

    def action(self, script: Script, record: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        return self.action_or_reason(script, record)[0]

    def action_or_reason(
        self, script: Script, record: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Any] | None, str]:
        """The script's action for this call (and record), or None and why it was skipped."""
        template = _parsed(script.template)
        if template is None:
            return None, _REASON_UNPARSABLE
        if record is None and template.record_field_keys:
            return None, _REASON_NEEDS_RECORD
        if self.call.anonymous and any(p.key == "callernumber" for p in template.placeholders):
            # a search or callback for a withheld number is meaningless
            return None, _REASON_WITHHELD
        url = scripts_engine.render(
            template, call=self.props, record=record, country=self.country, extra_schemes=self.extra_schemes
        )
        if url is None:
            return None, _REASON_NO_LINK
        action = {"script_id": script.pk, "name": script.name, "url": url, "auto_open": script.auto_open}
        return action, "rendered"


# Why a script was skipped, for the test-lookup page (Texts: shown in the reader's language).
_REASON_UNPARSABLE = Text(
    gettext_noop("its template no longer parses (was a field renamed?); edit the script")
)
_REASON_NEEDS_RECORD = Text(
    gettext_noop("it needs a field of a matched record ($(…)), and no record matched")
)
_REASON_WITHHELD = Text(gettext_noop("it uses the caller number, which was withheld"))
_REASON_ON_MATCH_ONLY = Text(gettext_noop("it applies on a match only, and nothing matched"))
_REASON_ON_NO_MATCH_ONLY = Text(gettext_noop("it applies when nothing matched, and the caller matched"))
_REASON_ITS_INTEGRATION_DID_NOT_MATCH = Text(
    gettext_noop("it applies on a match in its integration only, and that integration did not match")
)
_REASON_ITS_INTEGRATION_MATCHED = Text(
    gettext_noop("it applies when its integration did not match, and it matched")
)
_REASON_NO_LINK = Text(
    gettext_noop("it rendered no link of an allowed scheme (http, https, mailto, tel, sip …)")
)


def script_applies(script: Script, *, matched: bool) -> bool:
    """Whether `script` applies to a call that matched (`matched`) or did not (`Script.applies`)."""
    if script.applies == ScriptApplies.ALWAYS:
        return True
    return (script.applies == ScriptApplies.ON_MATCH) == matched


# What one integration's several records for the caller become (Integration.multiple_matches).
MAX_CHOICES = 50


def caller_kind(call: Call) -> str:
    """How the caller number was read: "external" (E.164), "internal", "anonymous" or "empty"."""
    return str(call.caller_kind)


@dataclass
class _Why:
    """What `match_call_explained` collects while `_answer` decides (nothing is decided here)."""

    integrations: dict[int, dict[str, Any]] = field(default_factory=dict)
    scripts: list[dict[str, Any]] = field(default_factory=list)

    def script(self, script: Script, reason: str, *, record: str = "") -> None:
        self.scripts.append(
            {
                "script_id": script.pk,
                "name": script.name,
                "integration_id": script.integration_id,
                "record": record,
                "rendered": reason == "rendered",
                "reason": reason,
            }
        )


def match_call(*, tenant: Tenant, call: Call) -> dict[str, Any]:
    """Match `call` in the tenant's enabled integrations and render the answer.

    Returns the matching API's JSON: `{"call": {...}, "matches": [...], "choose": [...],
    "actions": [...], "lookups": [...], "ignored": bool, "ignore_action": "ignore"|"reject"|None}`.
    Matches are ordered by integration order, then the preset's record-type order, then name.
    Per integration, `multiple_matches` decides what several records for the number become: all
    of them; the first (`other_records` counts the rest); or, with "choose", no match but one
    `choose` entry `{"integration", "choices": [{"record_id", "title", "url"}], "other_records"}`
    (at most `MAX_CHOICES` choices), which counts as a match for the tenant-wide scripts (records
    to choose from are not "nothing found"). A caller on the tenant's ignore list
    (`integrations.ignore_list.caller_ignored`) gets no matches, no actions and no live lookups.
    When the caller's full number is in no CRM, integrations with `fallback_to_main_number`
    match the main number it is an extension of, and each such match says `"fallback": true`.
    """
    return _answer(tenant=tenant, call=call, why=None)


def match_call_explained(*, tenant: Tenant, call: Call) -> tuple[dict[str, Any], dict[str, Any]]:
    """`match_call`'s answer (the same code path) and the reasons for it, for the test-lookup page.

    Reasons: `{"number": {"as_sent", "e164", "extension", "kind", "text"}, "ignored": {"number", "kind",
    "action", "note"} | None, "integrations": [{"id", "name", "preset", "position", "state":
    "searched"|"disabled"|"held"|"live"|"screen_pop", "records": int, "returned": int, "reason"}],
    "scripts": [{"script_id", "name", "integration_id", "record", "rendered", "reason"}]}`.
    """
    why = _Why()
    answer = _answer(tenant=tenant, call=call, why=why)
    return answer, _reasons(tenant=tenant, call=call, answer=answer, why=why)


def match_call_for_event(*, tenant: Tenant, call: Call, event: str) -> tuple[dict[str, Any], list[Script]]:
    """`match_call`'s answer, and the tenant's server-request scripts that fire on the call event
    `event` (`CallEvent`), read by the same query as the answer's scripts (none for an ignored
    caller, who sends nothing). For `integrations.server_scripts.server_scripts_queue(scripts=...)`."""
    server: list[Script] = []
    answer = _answer(tenant=tenant, call=call, why=None, server_scripts=server)
    return answer, [s for s in server if isinstance(s.on_events, list) and event in s.on_events]


def _answer(
    *, tenant: Tenant, call: Call, why: _Why | None, server_scripts: list[Script] | None = None
) -> dict[str, Any]:
    # The tenant's integrations, scripts and ignore list come from this process's copy at the
    # version `tenant` was read with (integrations.match_config); the phone cache is one query.
    version, rows = _cache_lookup(tenant=tenant, e164=call.caller_number_e164 or "")
    config = match_config(tenant, version=version)
    ignored = config.ignored_entry(call.caller_number_e164)
    answer: dict[str, Any] = {
        "call": call.as_json(),
        "matches": [],
        "choose": [],
        "actions": [],
        "lookups": [],
        "ignored": ignored is not None,
        "ignore_action": ignored.action if ignored is not None else None,
    }
    if ignored is not None:
        return answer
    entries: list[PhoneCacheEntry] = []
    if call.caller_number_e164:
        entries = _cached_entries(tenant=tenant, e164=call.caller_number_e164, rows=rows, config=config)
    live: set[int] = set()
    lookups: list[dict[str, Any]] = []
    live_integrations: list[Integration] = []
    if call.caller_number_e164 and config.live_ids:
        live_integrations = _live_integrations(tenant)
        live_entries, lookups = _live_lookups(
            tenant=tenant, e164=call.caller_number_e164, integrations=live_integrations
        )
        entries.extend(live_entries)
        live = {entry.integration_id for entry in live_entries}
    fallback = False
    if call.caller_number_e164 and not entries:
        if any(row.fallback_to_main_number and row.enabled for row in config.integrations.values()):
            entries = _main_number_entries(tenant=tenant, e164=call.caller_number_e164)
        if not entries and live_integrations:
            entries = _live_main_number_entries(
                tenant=tenant, e164=call.caller_number_e164, integrations=live_integrations
            )
            live = {entry.integration_id for entry in entries}
        fallback = bool(entries)
    # Every script of the call from the same copy: links render into the answer; the
    # server-request ones go to `server_scripts` for the caller to queue (`match_call_for_event`).
    scripts: list[Script] = []
    for script in config.scripts:
        if script.kind == ScriptKind.LINK:
            scripts.append(script)
        elif server_scripts is not None:
            server_scripts.append(script)
    renderer = _Renderer(call=call, country=tenant.country, extra_schemes=tenant.extra_schemes)

    def sort_key(entry: PhoneCacheEntry) -> tuple[int, int, int, str]:
        preset = find_preset(entry.integration.preset)
        types = preset.record_types if preset else ()
        type_rank = types.index(entry.record_type) if entry.record_type in types else len(types)
        return (entry.integration.position, entry.integration_id, type_rank, entry.display_name.lower())

    # One entry per record, in match order, grouped by integration.
    per_integration: dict[int, list[PhoneCacheEntry]] = {}
    seen: set[tuple[int, str]] = set()
    for entry in sorted(entries, key=sort_key):
        if (entry.integration_id, entry.record_id) in seen:
            continue
        seen.add((entry.integration_id, entry.record_id))
        per_integration.setdefault(entry.integration_id, []).append(entry)

    matches: list[dict[str, Any]] = []
    choose: list[dict[str, Any]] = []
    for integration_id, records in per_integration.items():
        integration = records[0].integration
        policy = integration.multiple_matches
        if why is not None:
            why.integrations[integration_id] = {"records": len(records), "returned": 0, "policy": policy}
        if policy == MultipleMatches.CHOOSE and len(records) > 1:
            choose.append(_choose_json(integration, records))
            if why is not None:
                for script in scripts:
                    if script.integration_id == integration_id and script_has_phone_data(script):
                        why.script(
                            script,
                            Text(
                                gettext_noop("the agent chooses among %(count)s records, so none rendered"),
                                count=len(records),
                            ),
                        )
            continue
        returned = records[:1] if policy == MultipleMatches.FIRST else records
        for entry in returned:
            match = _match_json(entry, scripts=scripts, renderer=renderer, why=why)
            match["source"] = "live" if entry.integration_id in live else "cache"
            match["fallback"] = fallback
            match["other_records"] = len(records) - len(returned)
            matches.append(match)
        if why is not None:
            why.integrations[integration_id]["returned"] = len(returned)

    matched = bool(matches or choose)
    actions: list[dict[str, Any]] = []
    for script in scripts:
        action: dict[str, Any] | None = None
        reason = ""
        if script.integration_id is None or not script_has_phone_data(script):
            if script_applies(script, matched=matched):
                action, reason = renderer.action_or_reason(script)
            elif script.applies == ScriptApplies.ON_MATCH:
                reason = _REASON_ON_MATCH_ONLY
            else:
                reason = _REASON_ON_NO_MATCH_ONLY
        elif script.integration_id not in per_integration and script.applies != ScriptApplies.ON_MATCH:
            action, reason = renderer.action_or_reason(script)
        elif script.integration_id not in per_integration:
            reason = _REASON_ITS_INTEGRATION_DID_NOT_MATCH
        elif script.applies == ScriptApplies.ON_NO_MATCH:
            reason = _REASON_ITS_INTEGRATION_MATCHED
        if action is not None:
            actions.append({**action, "integration_id": script.integration_id})
        if why is not None and reason:
            why.script(script, reason)
    answer.update(matches=matches, choose=choose, actions=actions, lookups=lookups)
    return answer


def _choose_json(integration: Integration, records: list[PhoneCacheEntry]) -> dict[str, Any]:
    """A "choose" entry: the integration's records for the number, for the agent to pick one."""
    choices = [
        {"record_id": entry.record_id, "title": entry.display_name, "url": entry.record_url}
        for entry in records[:MAX_CHOICES]
    ]
    return {
        "integration": {"id": integration.pk, "name": integration.name, "preset": integration.preset},
        "choices": choices,
        "other_records": max(0, len(records) - MAX_CHOICES),
    }


_KIND_TEXT = {
    "anonymous": Text(
        gettext_noop(
            "a withheld number: it matches nothing, and scripts that use the caller number are skipped"
        )
    ),
    "internal": Text(gettext_noop("an internal number (an extension): internal numbers are never matched")),
    "empty": Text(gettext_noop("no number: nothing to match")),
}
# The badges of the test-lookup page: how the number was read, what each integration did.
_KIND_LABEL = {
    "external": Text(gettext_noop("external")),
    "anonymous": Text(gettext_noop("anonymous")),
    "internal": Text(gettext_noop("internal")),
    "empty": Text(gettext_noop("empty")),
}
_STATE_LABEL = {
    "searched": Text(gettext_noop("searched")),
    "disabled": Text(gettext_noop("disabled")),
    "held": Text(gettext_noop("held")),
    "live": Text(gettext_noop("live")),
    "screen_pop": Text(gettext_noop("screen pop")),
}


def _reasons(*, tenant: Tenant, call: Call, answer: Mapping[str, Any], why: _Why) -> dict[str, Any]:
    """The test-lookup page's reasons for `answer` (see `match_call_explained`)."""
    from integrations.ignore_list import caller_ignored

    kind = caller_kind(call)
    text: str
    if kind == "external" and call.caller_extension:
        text = Text(
            gettext_noop(
                "read as %(e164)s (E.164), extension %(extension)s (kept apart: the number is matched "
                "without it), with %(country)s as the default country"
            ),
            e164=call.caller_number_e164,
            extension=call.caller_extension,
            country=tenant.country,
        )
    elif kind == "external":
        text = Text(
            gettext_noop("read as %(e164)s (E.164), with %(country)s as the default country"),
            e164=call.caller_number_e164,
            country=tenant.country,
        )
    else:
        text = _KIND_TEXT.get(kind, kind)
    ignored = caller_ignored(tenant, call.caller_number_e164) if answer["ignored"] else None
    lookups = {row["integration_id"]: row for row in answer["lookups"]}
    rows = []
    for integration in Integration.objects.filter(tenant=tenant).order_by("position", "id"):
        preset = find_preset(integration.preset)
        found = why.integrations.get(integration.pk, {"records": 0, "returned": 0})
        row: dict[str, Any] = {
            "id": integration.pk,
            "name": integration.name,
            "preset": integration.preset,
            "position": integration.position,
            "records": found["records"],
            "returned": found["returned"],
        }
        if preset is None or not preset.has_phone_data:
            row.update(
                state="screen_pop",
                reason=Text(gettext_noop("a screen-pop integration: it has no numbers to search")),
            )
        elif not integration.enabled:
            row.update(
                state="disabled",
                reason=Text(gettext_noop("disabled: it matches nothing until it is enabled")),
            )
        else:
            row["state"] = (
                "live"
                if integration.lookup_mode == LookupMode.LIVE
                else "held"
                if integration.held_generation is not None
                else "searched"
            )
            row["reason"] = _integration_reason(
                integration, call=call, answer=answer, found=found, lookup=lookups.get(integration.pk)
            )
        row["state_label"] = _STATE_LABEL.get(row["state"], row["state"])
        rows.append(row)
    return {
        "number": {
            "as_sent": call.caller_number,
            "e164": call.caller_number_e164,
            "extension": call.caller_extension,
            "kind": kind,
            "kind_label": _KIND_LABEL.get(kind, kind),
            "text": text,
        },
        "ignored": (
            {"number": ignored.number, "kind": ignored.kind, "action": ignored.action, "note": ignored.note}
            if ignored is not None
            else None
        ),
        "integrations": rows,
        "scripts": (
            [
                {
                    "script_id": s.pk,
                    "name": s.name,
                    "integration_id": s.integration_id,
                    "record": "",
                    "rendered": False,
                    "reason": Text(gettext_noop("the caller is on the ignore list: no actions")),
                }
                for s in Script.objects.filter(tenant=tenant, kind=ScriptKind.LINK).order_by("position", "id")
            ]
            if answer["ignored"]
            else why.scripts
        ),
    }


def _integration_reason(
    integration: Integration,
    *,
    call: Call,
    answer: Mapping[str, Any],
    found: Mapping[str, Any],
    lookup: Mapping[str, Any] | None,
) -> str:
    if answer["ignored"]:
        return Text(gettext_noop("not searched: the caller is on the ignore list"))
    if not call.caller_number_e164:
        return Text(gettext_noop("not searched: the caller number is not an outside number"))
    records = int(found["records"])
    fallback = any(
        m.get("fallback") and m.get("integration", {}).get("id") == integration.pk for m in answer["matches"]
    )
    if records and fallback:
        return Text(
            gettext_noop(
                "no record has the caller's full number; the company's main number it is an extension "
                "of matched (fall back to the main number is on)"
            )
        )
    if records:
        policy = found.get("policy", MultipleMatches.ALL)
        if records == 1:
            return Text(gettext_noop("1 record matched"))
        if policy == MultipleMatches.FIRST:
            return Text(
                gettext_noop(
                    "%(records)s records matched; only the first is returned (several matches: the first)"
                ),
                records=records,
            )
        if policy == MultipleMatches.CHOOSE:
            return Text(
                gettext_noop("%(records)s records matched; the agent chooses one (several matches: choose)"),
                records=records,
            )
        return Text(gettext_noop("%(records)s records matched; all are returned"), records=records)
    if integration.lookup_mode == LookupMode.LIVE:
        if lookup is None:
            return Text(gettext_noop("no record: the CRM was not asked"))
        if lookup["status"] != "ok":
            return Text(
                gettext_noop("no record: the live lookup failed (%(status)s): %(message)s"),
                status=lookup["status"],
                message=lookup["message"],
            )
        return Text(gettext_noop("no record: the CRM has no record with this number"))
    held = (
        Text(gettext_noop(" (a held sync waits for your decision; the old cache is searched)"))
        if integration.held_generation
        else ""
    )
    if integration.last_sync_at is None and integration.cached_numbers == 0:
        return Text(gettext_noop("no record: its sync never ran, so its cache is empty%(held)s"), held=held)
    if integration.cached_numbers == 0:
        return Text(
            gettext_noop("no record: its cache is empty (the last sync found no numbers)%(held)s"), held=held
        )
    count = integration.cached_numbers
    if count == 1:
        return Text(gettext_noop("no record: the number is not in its cache of 1 number%(held)s"), held=held)
    return Text(
        gettext_noop("no record: the number is not in its cache of %(count)s numbers%(held)s"),
        count=count,
        held=held,
    )


_CACHE_COLUMNS = (
    "id",
    "integration_id",
    "extension",
    "number_as_written",
    "number_type",
    "record_id",
    "record_type",
    "display_name",
    "record_url",
    "fields",
)


# A call's one query, written out so that a call does not build and compile it again (about 1 ms
# of the answer's time): the tenant's `match_config_version` (first row, the other columns NULL),
# then the phone-cache rows of the number, as the ORM filter `tenant=…, integration__tenant=…,
# e164=…, integration__enabled=True, integration__lookup_mode="cached",
# generation=F("integration__cache_generation")` would give them, on the (tenant, e164) index.
# tests/test_match_config.py checks the table and column names against the models.
_CACHE_COLUMNS = (
    "id",
    "integration_id",
    "extension",
    "number_as_written",
    "number_type",
    "record_id",
    "record_type",
    "display_name",
    "record_url",
    "fields",
)
CACHE_QUERY = (
    "SELECT t.match_config_version, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM configurator_tenant t WHERE t.id = %s "
    "UNION ALL "
    "SELECT NULL, c.id, c.integration_id, c.extension, c.number_as_written, c.number_type, c.record_id, "
    "c.record_type, c.display_name, c.record_url, c.fields "
    "FROM integrations_phonecacheentry c JOIN integrations_integration i ON i.id = c.integration_id "
    "WHERE c.tenant_id = %s AND c.e164 = %s AND i.tenant_id = %s AND i.enabled = %s "
    "AND i.lookup_mode = %s AND c.generation = i.cache_generation"
)


def _prepared_cursor(alias: str) -> Any:
    """A Django cursor on `alias` whose repeated queries PostgreSQL plans once.

    Django's psycopg backend binds parameters on the client (nothing is prepared), so each match
    planned the cache query anew over the partitioned phone cache (about 0.3 ms, as much as running
    it). On PostgreSQL this returns a server-binding psycopg cursor wrapped like any Django cursor
    (errors translated, queries logged when Django logs them); psycopg prepares a query the Nth
    time a connection runs it (`DATABASE_PREPARE_THRESHOLD`, 5; psycopg's `prepare_threshold`,
    https://www.psycopg.org/psycopg3/docs/advanced/prepare.html). Other databases: `cursor()`.
    Needs a session-level connection (no PgBouncer in transaction mode; docs/deployment.md).
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg  # the PostgreSQL driver; imported here so SQLite installs need not load it

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return _PreparedDebugCursor(raw, connection)
    return CursorWrapper(raw, connection)


class _PreparedDebugCursor(CursorDebugWrapper):
    """Django's logging cursor for `_prepared_cursor`: Django reads the executed SQL from the
    client-side binding it does itself, which a server-binding cursor does not do (the log got
    "$1" placeholders, or None once the query was prepared); this logs the SQL with its
    parameters composed as psycopg would."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        """Run `sql` (logged as Django logs queries)."""
        try:
            return super().execute(sql, params)
        finally:
            if self.db.queries_log:
                self.db.queries_log[-1]["sql"] = self.db.ops.compose_sql(sql, params)


def _cache_lookup(*, tenant: Tenant, e164: str) -> tuple[int | None, list[tuple[Any, ...]]]:
    """One query, on the read replica when there is a current one (`integrations.replica`): the
    tenant's matching-configuration version (None when the tenant is gone) and
    the phone-cache rows of `e164` ("" for none) in its enabled cached integrations' current
    generations, as tuples in `_CACHE_COLUMNS` order."""
    with _prepared_cursor(read_alias()) as cursor:
        cursor.execute(CACHE_QUERY, [tenant.pk, tenant.pk, e164, tenant.pk, True, LookupMode.CACHED])
        rows = cursor.fetchall()
    version = next((int(row[0]) for row in rows if row[0] is not None), None)
    return version, [row[1:] for row in rows if row[0] is None]


def _cached_entries(
    *, tenant: Tenant, e164: str, rows: list[tuple[Any, ...]], config: MatchConfig
) -> list[PhoneCacheEntry]:
    """`_cache_lookup`'s rows as (read-only) `PhoneCacheEntry`s, each with `integration` from
    `config`."""
    entries = []
    for row in rows:
        values = dict(zip(_CACHE_COLUMNS, row, strict=True))
        integration = config.integrations.get(values["integration_id"])
        if integration is None:  # created after this copy was loaded; it is read next call
            continue
        fields = values["fields"]
        if not isinstance(fields, dict):
            fields = json.loads(fields) if fields else {}
        entry = PhoneCacheEntry(
            tenant_id=tenant.pk,
            e164=e164,
            generation=integration.cache_generation,
            **{**values, "fields": fields},
        )
        entry.integration = integration
        entries.append(entry)
    return entries


def _main_number_entries(*, tenant: Tenant, e164: str) -> list[PhoneCacheEntry]:
    """The cached rows of the company's main number, for a caller whose full number is in no CRM.

    Only cached integrations with `fallback_to_main_number` on take part (`_live_main_number_entries`
    asks the live ones). The main
    number is the longest stored number that is `e164` without its last
    1..`MAIN_NUMBER_MAX_EXTENSION_DIGITS` digits (`integrations.phones.main_number_candidates`);
    its rows are returned, [] when none is stored.
    """
    candidates = main_number_candidates(e164)
    if not candidates:
        return []
    rows = list(
        PhoneCacheEntry.objects.filter(
            tenant=tenant,
            integration__tenant=tenant,
            e164__in=candidates,
            integration__enabled=True,
            integration__fallback_to_main_number=True,
            integration__lookup_mode=LookupMode.CACHED,
            generation=F("integration__cache_generation"),
        ).select_related("integration")
    )
    if not rows:
        return []
    best = max(len(row.e164) for row in rows)
    return [row for row in rows if len(row.e164) == best]


def _settings_fingerprint(integration: Integration) -> str:
    """A short hash of the integration's plain settings: an edited integration (another base URL
    or account) never gets answers its old settings cached."""
    text = json.dumps(integration.settings or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _live_integrations(tenant: Tenant) -> list[Integration]:
    """The tenant's enabled live-lookup integrations, in the admin's order."""
    return list(
        Integration.objects.filter(tenant=tenant, enabled=True, lookup_mode=LookupMode.LIVE).order_by(
            "position", "id"
        )
    )


def _live_main_number_entries(
    *, tenant: Tenant, e164: str, integrations: list[Integration]
) -> list[PhoneCacheEntry]:
    """The live-lookup twin of `_main_number_entries`: the live integrations with
    `fallback_to_main_number` on are asked for the main numbers `e164` may be an extension of,
    longest first (`main_number_candidates`), until one has records. Every question shares one
    `LIVE_LOOKUP_TIMEOUT_SECONDS` budget and the per-number cache; failures and timeouts count as
    no record (the answer's `lookups` already reports each live integration's full-number lookup)."""
    candidates = [i for i in integrations if i.fallback_to_main_number]
    if not candidates:
        return []
    deadline = time.monotonic() + float(settings.LIVE_LOOKUP_TIMEOUT_SECONDS)
    for number in main_number_candidates(e164):
        entries, _ = _live_lookups(tenant=tenant, e164=number, integrations=candidates, deadline=deadline)
        if entries:
            return entries
    return []


def _live_lookups(
    *, tenant: Tenant, e164: str, integrations: list[Integration], deadline: float | None = None
) -> tuple[list[PhoneCacheEntry], list[dict[str, Any]]]:
    """Ask each of the tenant's live `integrations` (`_live_integrations`) for `e164`, one after
    the other.

    All of them share one budget of `LIVE_LOOKUP_TIMEOUT_SECONDS` (or end at the `deadline` given,
    `time.monotonic()` seconds): each request gets what is left of it (no retries), and an
    integration reached after the budget is used up is not asked ("timeout"). Answers are cached
    per (integration, E.164) for `LIVE_LOOKUP_CACHE_SECONDS`; failures are not cached. Returns
    unsaved `PhoneCacheEntry`s (with `integration` set) and one status per live integration:
    `{"integration_id", "status": "ok"|"timeout"|"error", "cached": bool, "message"}`.
    """
    if not integrations:
        return [], []
    budget = float(settings.LIVE_LOOKUP_TIMEOUT_SECONDS)
    if deadline is None:
        deadline = time.monotonic() + budget
    entries: list[PhoneCacheEntry] = []
    statuses: list[dict[str, Any]] = []
    for integration in integrations:
        key = f"live-lookup:{tenant.pk}:{integration.pk}:{_settings_fingerprint(integration)}:{e164}"
        records: list[CrmRecord] | None = None
        cached_rows = cache.get(key)
        from_cache = isinstance(cached_rows, list)
        if from_cache:
            records = [_record_from_json(row) for row in cached_rows]
        else:
            left = deadline - time.monotonic()
            if left <= 0.05:
                statuses.append(
                    _status(integration, "timeout", f"not asked: the {budget:g} s budget was used up")
                )
                continue
            try:
                records = _ask(integration, e164=e164, timeout=left)
            except ConnectorError as exc:
                kind = "timeout" if exc.timed_out or time.monotonic() >= deadline else "error"
                statuses.append(_status(integration, kind, exc.message))
                continue
            except Exception as exc:  # a connector bug must not make the match a 500
                logger.exception("live lookup of integration %s failed", integration.pk)
                statuses.append(
                    _status(integration, "error", f"The live lookup failed ({type(exc).__name__}).")
                )
                continue
            cache.set(key, [_record_json(r) for r in records], settings.LIVE_LOOKUP_CACHE_SECONDS)
        statuses.append({**_status(integration, "ok", ""), "cached": from_cache})
        entries.extend(
            _record_entries(
                records, integration=integration, e164=e164, country=integration.region or tenant.country
            )
        )
    return entries, statuses


def _status(integration: Integration, status: str, message: str) -> dict[str, Any]:
    return {"integration_id": integration.pk, "status": status, "cached": False, "message": message}


def _ask(integration: Integration, *, e164: str, timeout: float) -> list[CrmRecord]:
    from integrations.connectors.http_base import HttpConnector
    from integrations.sync import connector_settings

    preset = find_preset(integration.preset)
    if preset is None or preset.connector_class is None or not preset.connector_class.supports_lookup:
        raise ConnectorError(
            Text(gettext_noop("This integration's CRM cannot be searched by phone number.")), permanent=True
        )
    with connector_client(timeout=timeout) as client:
        kwargs: dict[str, Any] = {"settings": connector_settings(integration), "client": client}
        kwargs["retry"] = RetryPolicy(retries=0, deadline=time.monotonic() + timeout)
        if issubclass(preset.connector_class, HttpConnector):
            kwargs["max_requests"] = 3
        connector = preset.connector_class(**kwargs)
        connector.timeout = timeout
        return connector.lookup(e164)


def _record_json(record: CrmRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "type": record.type,
        "display_name": record.display_name,
        "phones": [[p.number, p.type] for p in record.phones],
        "url": record.url,
        "fields": dict(record.fields),
    }


def _record_from_json(row: dict[str, Any]) -> CrmRecord:
    return CrmRecord(
        id=row["id"],
        type=row["type"],
        display_name=row["display_name"],
        phones=tuple(RecordPhone(number=n, type=t) for n, t in row["phones"]),
        url=row["url"],
        fields=row["fields"],
    )


def _record_entries(
    records: list[CrmRecord], *, integration: Integration, e164: str, country: str
) -> list[PhoneCacheEntry]:
    """The records' numbers equal to `e164` as unsaved phone-cache rows (as the sync makes them)."""
    entries: list[PhoneCacheEntry] = []
    for record in records:
        for phone in record.phones:
            try:
                numbers = extract_numbers(phone.number, country=country)
            except PhoneNumberError:
                continue
            number = next((n for n in numbers if n.e164 == e164), None)
            if number is None:
                continue
            entry = PhoneCacheEntry(
                tenant_id=integration.tenant_id,
                integration=integration,
                generation=integration.cache_generation,
                e164=number.e164,
                extension=number.extension[:20],
                number_as_written=phone.number[:100],
                number_type=phone.type[:50],
                record_id=record.id[:255],
                record_type=record.type[:50],
                display_name=record.display_name[:255],
                record_url=record.url,
                fields=dict(record.fields),
            )
            entries.append(entry)
            break
    return entries


def script_has_phone_data(script: Script) -> bool:
    """Whether `script` belongs to an integration whose preset caches phone data (its scripts may
    use the matched record's fields)."""
    integration: Integration | None = script.integration
    preset = find_preset(integration.preset) if integration is not None else None
    return preset is not None and preset.has_phone_data


def _match_json(
    entry: PhoneCacheEntry, *, scripts: list[Script], renderer: _Renderer, why: _Why | None = None
) -> dict[str, Any]:
    integration = entry.integration
    preset = find_preset(integration.preset)
    labels = {f.name: f.label for f in preset.all_fields} if preset else {}
    record = {
        **entry.fields,
        "DisplayName": entry.display_name,
        "Identifier": entry.fields.get("Identifier") or entry.record_id,
        "PopUpUri": entry.fields.get("PopUpUri") or entry.record_url,
    }
    fields = [
        {"name": name, "label": labels.get(name, name), "value": str(record.get(name, ""))}
        for name in integration.notification_fields
        if record.get(name)
    ]
    actions = []
    for script in scripts:
        if script.integration_id == integration.pk and script.applies != ScriptApplies.ON_NO_MATCH:
            action, reason = renderer.action_or_reason(script, record)
            if action is not None:
                actions.append(action)
            if why is not None:
                why.script(script, reason, record=entry.display_name or entry.record_id)
    return {
        "integration": {"id": integration.pk, "name": integration.name, "preset": integration.preset},
        "record": {
            "id": entry.record_id,
            "type": entry.record_type,
            "url": entry.record_url,
            "phone": {
                "number": entry.number_as_written,
                "type": entry.number_type,
                "extension": entry.extension,
            },
        },
        "notification": {"title": entry.display_name, "fields": fields},
        "actions": actions,
    }
