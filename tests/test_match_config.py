"""Matching's per-process copy of a tenant's integrations, scripts and ignore list
(integrations.match_config): one phone-cache query per call, and never a stale script, also when
the edit happened in another process (issue 10, item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations import matching
from integrations.calls import call_from_params
from integrations.ignore_list import caller_ignored, ignored_number_add, ignored_number_remove
from integrations.match_config import match_config, match_config_forget
from integrations.models import IgnoreAction, IgnoreKind, Integration, PhoneCacheEntry
from integrations.presets import ScriptApplies
from integrations.services import integration_create, integration_set_enabled, script_create, script_update
from tenants.models import Tenant
from tests.processes import stop_process

URL = "/api/v1/match"
REPO = Path(__file__).resolve().parent.parent


def _book(tenant: Tenant, name: str = "Book") -> Integration:
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        settings_values={"url": "https://dav.example/book/", "username": "u", "password": "p"},
        start_sync=False,
    )
    Integration.objects.filter(pk=book.pk).update(cache_generation=1)
    PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration_id=book.pk,
        generation=1,
        e164="+31201234567",
        number_as_written="020 123 4567",
        record_id="jan-1",
        record_type="contact",
        display_name="Jan Jansen",
        fields={"Company": "Acme BV"},
    )
    return book


def _get(key: str, number: str) -> dict[str, Any]:
    response = Client().get(URL, {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _action_names(body: dict[str, Any]) -> list[str]:
    return [a["name"] for a in body["actions"]] + [a["name"] for m in body["matches"] for a in m["actions"]]


def test_the_written_out_cache_query_names_the_models_tables_and_columns():
    cache_fields = {f.column for f in PhoneCacheEntry._meta.concrete_fields}
    integration_fields = {f.column for f in Integration._meta.concrete_fields}
    query = matching.CACHE_QUERY

    assert f"FROM {PhoneCacheEntry._meta.db_table} c JOIN {Integration._meta.db_table} i" in query
    for column in ("tenant_id", "e164", "generation", "integration_id", "fields", "record_url"):
        assert column in cache_fields
        assert f"c.{column}" in query
    for column in ("tenant_id", "enabled", "lookup_mode", "cache_generation"):
        assert column in integration_fields
        assert f"i.{column}" in query


@pytest.mark.django_db
def test_a_warm_call_is_one_query(tenant, api_key):
    _book(tenant)
    script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )
    _get(api_key[1], "020 123 4567")  # loads this process's copy

    with CaptureQueriesContext(connection) as queries:
        body = _get(api_key[1], "020 123 4567")

    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert body["matches"][0]["notification"]["title"] == "Jan Jansen"
    assert _action_names(body) == ["Google"]
    # The key is remembered (integrations.api_key_cache); the one query reads the tenant's
    # configuration version and the phone cache.
    assert len(selects) == 1, "\n".join(s[:300] for s in selects)
    assert "integrations_phonecacheentry" in selects[0]
    assert "match_config_version" in selects[0]


@pytest.mark.django_db
def test_an_edit_in_this_process_is_seen_by_the_next_call(tenant, api_key):
    book = _book(tenant)
    script = script_create(
        tenant=tenant, integration=book, name="Open v1", template="https://crm.example/#(Caller number)"
    )
    assert _action_names(_get(api_key[1], "020 123 4567")) == ["Open v1"]

    script_update(
        tenant=tenant,
        script=script,
        name="Open v2",
        template="https://crm.example/v2/#(Caller number)",
        applies=ScriptApplies.ON_MATCH,
        auto_open=False,
    )
    assert _action_names(_get(api_key[1], "020 123 4567")) == ["Open v2"]

    integration_set_enabled(tenant=tenant, integration=book, enabled=False)
    assert _get(api_key[1], "020 123 4567")["matches"] == []


@pytest.mark.django_db
def test_the_ignore_list_is_read_from_the_copy_and_follows_edits(tenant, api_key):
    _book(tenant)
    assert _get(api_key[1], "020 123 4567")["ignored"] is False

    entry = ignored_number_add(
        tenant=tenant, number="+3120", kind=IgnoreKind.PREFIX, action=IgnoreAction.REJECT
    )
    body = _get(api_key[1], "020 123 4567")
    assert (body["ignored"], body["ignore_action"], body["matches"]) == (True, "reject", [])

    ignored_number_remove(tenant=tenant, entry_id=entry.pk)
    assert _get(api_key[1], "020 123 4567")["ignored"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "caller",
    ["+31201234567", "+31201234500", "+31209999999", "+3130123", "+4930123456", "+31901234567", "+3190"],
)
def test_the_copy_decides_the_ignore_list_as_the_database_query_does(tenant, caller):
    for number, kind, action in [
        ("+3120", IgnoreKind.PREFIX, IgnoreAction.IGNORE),
        ("+312012345", IgnoreKind.PREFIX, IgnoreAction.REJECT),
        ("+31201234567", IgnoreKind.NUMBER, IgnoreAction.IGNORE),
        ("+3190", IgnoreKind.PREFIX, IgnoreAction.REJECT),
        ("+31901234567", IgnoreKind.NUMBER, IgnoreAction.IGNORE),
    ]:
        ignored_number_add(tenant=tenant, number=number, kind=kind, action=action)
    tenant.refresh_from_db()

    expected = caller_ignored(tenant, caller)
    got = match_config(tenant).ignored_entry(caller)

    assert (got.pk if got else None) == (expected.pk if expected else None)


@pytest.mark.django_db
def test_one_tenants_copy_never_holds_or_follows_another_tenants_configuration(
    tenant, other_tenant, api_key, other_api_key
):
    _book(tenant)
    other_book = _book(other_tenant, "Their book")
    script_create(
        tenant=other_tenant, integration=None, name="Theirs", template="https://them.example/#(Caller number)"
    )
    script_create(
        tenant=other_tenant, integration=other_book, name="Their CRM", template="https://them.example/c"
    )
    before = Tenant.objects.get(pk=tenant.pk).match_config_version

    mine = _get(api_key[1], "020 123 4567")

    assert _action_names(mine) == []
    assert Tenant.objects.get(pk=tenant.pk).match_config_version == before
    assert {s.tenant_id for s in match_config(Tenant.objects.get(pk=other_tenant.pk)).scripts} == {
        other_tenant.pk
    }
    assert set(match_config(Tenant.objects.get(pk=tenant.pk)).integrations) == {
        i.pk for i in Integration.objects.filter(tenant=tenant)
    }


@pytest.fixture
def second_process(db: None) -> Iterator[subprocess.Popen[str]]:
    """Another web process on the same (committed) test database."""
    database = {
        k: connection.settings_dict[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    }
    env = {**os.environ, "CTI_CHILD_DATABASE": json.dumps(database)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.match_process"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.stdin:
            process.stdin.close()
        stop_process(process)  # type: ignore[arg-type]


def _ask(process: subprocess.Popen[str], key: str, number: str) -> dict[str, Any]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(f"{key} {number}\n")
    process.stdin.flush()
    line = process.stdout.readline()
    assert line, "the second process ended"
    answer: dict[str, Any] = json.loads(line)
    return answer


@pytest.mark.django_db(transaction=True)
def test_a_script_edited_in_one_process_is_never_stale_in_another(tenant, api_key, second_process):
    match_config_forget()
    book = _book(tenant)
    script = script_create(
        tenant=tenant, integration=book, name="Open v1", template="https://crm.example/#(Caller number)"
    )
    key = api_key[1]

    first = _ask(second_process, key, "0201234567")
    warm = _ask(second_process, key, "0201234567")
    assert first["actions"] == warm["actions"] == ["Open v1"]
    assert warm["queries"] == 1  # the version and the phone cache: the key and the copy are current

    # This process edits; the other one holds the old copy and must not answer from it.
    script_update(
        tenant=tenant,
        script=script,
        name="Open v2",
        template="https://crm.example/v2/#(Caller number)",
        applies=ScriptApplies.ON_MATCH,
        auto_open=False,
    )
    after = _ask(second_process, key, "0201234567")
    assert after["actions"] == ["Open v2"]
    assert after["queries"] > 1  # it saw the new version and reloaded
    assert _ask(second_process, key, "0201234567")["queries"] == 1

    ignored_number_add(tenant=tenant, number="+31201234567")
    assert _ask(second_process, key, "0201234567")["matches"] == []


@pytest.mark.django_db
def test_call_objects_from_older_tenant_rows_still_get_the_current_copy(tenant):
    # A caller holding a tenant object read before an edit in this process (a CLI, a task) is
    # answered from the copy this process rebuilt, never from one older than the edit.
    book = _book(tenant)
    stale_tenant = Tenant.objects.get(pk=tenant.pk)
    script_create(
        tenant=tenant, integration=book, name="New", template="https://crm.example/#(Caller number)"
    )
    call = call_from_params(tenant=stale_tenant, params={"caller_number": "0201234567"})

    answer = matching.match_call(tenant=stale_tenant, call=call)

    assert [a["name"] for a in answer["matches"][0]["actions"]] == ["New"]


def test_the_written_out_query_selects_the_columns_it_reads_in_order():
    second = matching.CACHE_QUERY.split("UNION ALL", 1)[1]
    selected = second.split("FROM", 1)[0].replace("SELECT NULL,", "").split(",")
    first = matching.CACHE_QUERY.split("UNION ALL", 1)[0]

    assert [c.strip().removeprefix("c.") for c in selected] == list(matching._CACHE_COLUMNS)
    assert first.count("NULL") == len(matching._CACHE_COLUMNS)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (SQLite has none)"
)
@pytest.mark.django_db
def test_the_cache_query_is_planned_once_per_connection_on_postgresql(tenant, api_key):
    _book(tenant)
    for _ in range(7):  # psycopg prepares a query the fifth time a connection runs it
        assert _get(api_key[1], "020 123 4567")["matches"][0]["notification"]["title"] == "Jan Jansen"

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("integrations_phonecacheentry" in statement for statement in prepared), prepared


@pytest.mark.django_db
def test_the_prepared_cache_query_is_logged_with_its_sql(tenant, api_key):
    # Django's query log (DEBUG, the debug toolbar, the tests' query capture) shows the cache
    # query with its values, also when it runs on the server-binding cursor (PostgreSQL).
    _book(tenant)
    with CaptureQueriesContext(connection) as queries:
        assert _get(api_key[1], "020 123 4567")["matches"]
    logged = [q["sql"] for q in queries.captured_queries]
    assert None not in logged
    [cache_query] = [sql for sql in logged if "integrations_phonecacheentry" in sql]
    assert "+31201234567" in cache_query
