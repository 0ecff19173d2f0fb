"""The ignore list, test lookup, match order and several-matches screens (Django test client)."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from configurator.audit import audit_entry_list, audit_rows
from integrations.ignore_list import ignored_number_add
from integrations.matching import call_from_params, match_call
from integrations.models import IgnoredNumber, Integration, PhoneCacheEntry
from integrations.presets import ScriptApplies
from integrations.services import script_create
from tenants.models import Tenant
from tests.conftest import PASSWORD

IGNORE_LIST = reverse("ignore-list")
TEST_LOOKUP = reverse("test-lookup")
JAN = "+31201234567"


def crm(tenant: Tenant, name: str, *, position: int = 0, **extra: Any) -> Integration:
    return Integration.objects.create(tenant=tenant, preset="carddav", name=name, position=position, **extra)


def record(integration: Integration, record_id: str, name: str, *, e164: str = JAN) -> None:
    PhoneCacheEntry.objects.create(
        tenant=integration.tenant,
        integration=integration,
        generation=integration.cache_generation,
        e164=e164,
        number_as_written="020 123 4567",
        record_id=record_id,
        record_type="contact",
        display_name=name,
        record_url=f"https://crm.example.com/{record_id}",
    )


@pytest.fixture
def member_client(tenant: Tenant) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    return client


# Ignore list ------------------------------------------------------------------------------


def test_the_admin_adds_and_removes_a_number_and_the_audit_log_says_so(admin_client, tenant):
    response = admin_client.post(
        IGNORE_LIST, {"number": "020 123 4567", "kind": "number", "action": "reject", "note": "Robocaller"}
    )
    assert response.status_code == 302
    entry = IgnoredNumber.objects.get(tenant=tenant)
    assert (entry.number, entry.action, entry.note, entry.added_by_name) == (
        JAN,
        "reject",
        "Robocaller",
        "admin",
    )

    page = admin_client.get(IGNORE_LIST).content.decode()
    assert JAN in page
    assert "Robocaller" in page
    assert "reject" in page

    assert admin_client.post(reverse("ignore-list-remove", args=[entry.pk])).status_code == 302
    assert not IgnoredNumber.objects.exists()
    rows = audit_rows(audit_entry_list(tenant=tenant, kind="ignore-list"))
    assert [(r.action, r.name, r.who) for r in rows] == [("deleted", JAN, "admin"), ("created", JAN, "admin")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "call me maybe", "kind": "number", "action": "ignore"}, "Not a phone number"),
        ({"number": "+31 9x", "kind": "prefix", "action": "ignore"}, "not a prefix"),
        ({"number": "020 123 4567", "kind": "area", "action": "ignore"}, "Select a valid choice"),
        ({"number": "020 123 4567", "kind": "number", "action": "drop"}, "Select a valid choice"),
        ({"number": "", "kind": "number", "action": "ignore"}, "This field is required"),
        ({"number": "0\x00201234567", "kind": "number", "action": "ignore"}, "Null characters"),
        ({"number": "1" * 500, "kind": "number", "action": "ignore"}, "at most 40 characters"),
    ],
)
def test_a_malformed_entry_is_a_form_error(admin_client, data, message):
    response = admin_client.post(IGNORE_LIST, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not IgnoredNumber.objects.exists()


def test_a_duplicate_entry_is_a_form_error(admin_client, tenant):
    ignored_number_add(tenant=tenant, number=JAN)
    response = admin_client.post(IGNORE_LIST, {"number": "0201234567", "kind": "number", "action": "ignore"})
    assert response.status_code == 400
    assert "already on the ignore list" in response.content.decode()


def test_tenants_never_see_or_remove_each_others_entries(admin_client, other_tenant, tenant):
    theirs = ignored_number_add(tenant=other_tenant, number="+32 2 123 45 67", note="Globex secret")
    assert "Globex secret" not in admin_client.get(IGNORE_LIST).content.decode()
    assert admin_client.post(reverse("ignore-list-remove", args=[theirs.pk])).status_code == 404
    assert IgnoredNumber.objects.filter(pk=theirs.pk).exists()


def test_only_tenant_admins_reach_the_screens(member_client, client):
    for url in (IGNORE_LIST, TEST_LOOKUP):
        assert member_client.get(url).status_code == 403
        assert client.get(url).status_code == 302  # to the sign-in page


# Test lookup ------------------------------------------------------------------------------


def test_the_test_lookup_shows_the_api_answer_and_why(admin_client, tenant):
    cached = crm(tenant, "Sales CRM", position=0, cached_numbers=1)
    record(cached, "j", "Jan Jansen")
    other = crm(tenant, "Support CRM", position=1, cached_numbers=3)
    record(other, "x", "Someone Else", e164="+31301234567")
    crm(tenant, "New CRM", position=2)
    crm(tenant, "Old CRM", position=3, enabled=False)
    script_create(
        tenant=tenant,
        integration=None,
        name="Create lead",
        template="https://c.example/?n=#(Caller number)",
        applies=ScriptApplies.ON_NO_MATCH,
    )

    response = admin_client.get(TEST_LOOKUP, {"caller_number": "020-123 4567", "direction": "in"})

    assert response.status_code == 200
    call = call_from_params(tenant=tenant, params={"caller_number": "020-123 4567", "direction": "in"})
    expected = match_call(tenant=tenant, call=call)
    answer = response.context["answer"]
    assert {**answer, "call": {**answer["call"], "start_time": ""}} == {
        **expected,
        "call": {**expected["call"], "start_time": ""},
    }
    page = response.content.decode()
    assert "read as +31201234567 (E.164), with NL as the default country" in page
    assert "1 record matched" in page
    assert "the number is not in its cache of 3 numbers" in page
    assert "its sync never ran" in page
    assert "disabled: it matches nothing" in page
    assert "it applies when nothing matched, and the caller matched" in page
    assert "&quot;caller_number_e164&quot;: &quot;+31201234567&quot;" in page


def test_the_test_lookup_explains_a_withheld_caller_and_skipped_scripts(admin_client, tenant):
    script_create(
        tenant=tenant,
        integration=None,
        name="Call back",
        template="tel:#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )
    page = admin_client.get(TEST_LOOKUP, {"caller_number": "anonymous"}).content.decode()
    assert "a withheld number" in page
    assert "it uses the caller number, which was withheld" in page


@pytest.mark.parametrize(
    "sent", ["tel:+31-20-123-4567;ext=12", "020 123 4567 x12", "+31 20 123 4567 ext. 12"]
)
def test_the_test_lookup_shows_the_extension_kept_apart_from_the_number(admin_client, sent):
    page = admin_client.get(TEST_LOOKUP, {"caller_number": sent}).content.decode()
    assert "read as +31201234567 (E.164), extension 12 (kept apart" in page


def test_the_test_lookup_explains_an_ignored_caller(admin_client, tenant):
    ignored_number_add(tenant=tenant, number="+3120", kind="prefix", action="reject", note="Amsterdam spam")
    response = admin_client.get(TEST_LOOKUP, {"caller_number": "020 123 4567"})
    assert response.context["answer"]["ignore_action"] == "reject"
    assert "Amsterdam spam" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"caller_number": "hello"},
        {"caller_number": "020 123 4567", "start_time": "yesterday"},
        {"caller_number": "020 123 4567", "direction": "sideways"},
        {"caller_number": "0\x0020"},
        {"caller_number": "9" * 5000},
        {"caller_number": ""},
        "caller_number=%ED%A0%80",  # a lone surrogate, not UTF-8
        "caller_number=%FF%FE",
        "caller_number=%2B31+20+abc&direction=in",
    ],
)
def test_bad_call_properties_are_form_errors_never_a_500(admin_client, params):
    if isinstance(params, str):
        response = admin_client.get(f"{TEST_LOOKUP}?{params}")
    else:
        response = admin_client.get(TEST_LOOKUP, params)
    assert response.status_code == 400
    assert response.context["answer"] is None


def test_the_test_lookup_shows_only_the_tenants_own_integrations(admin_client, other_tenant):
    theirs = crm(other_tenant, "Globex CRM")
    record(theirs, "g", "Globex Person")
    response = admin_client.get(TEST_LOOKUP, {"caller_number": "+31201234567"})
    page = response.content.decode()
    assert "Globex" not in page
    assert response.context["answer"]["matches"] == []


# Match order and several matches ----------------------------------------------------------


def test_the_up_and_down_buttons_reorder_without_javascript(admin_client, tenant):
    first = crm(tenant, "First", position=0)
    second = crm(tenant, "Second", position=1)
    home = admin_client.get(reverse("home")).content.decode()
    assert home.index('aria-label="Move First down"') < home.index('aria-label="Move Second up"')

    response = admin_client.post(reverse("integration-order-move", args=[second.pk]), {"direction": "up"})

    assert response.status_code == 302
    assert list(Integration.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "Second",
        "First",
    ]
    admin_client.post(reverse("integration-order-move", args=[second.pk]), {"direction": "down"})
    assert list(Integration.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "First",
        "Second",
    ]
    rows = audit_rows(audit_entry_list(tenant=tenant, kind="integration", integration_id=first.pk))
    assert any(c.field == "position" for r in rows for c in r.changes)


def test_the_drag_order_is_saved_and_checked(admin_client, tenant, other_tenant):
    first = crm(tenant, "First", position=0)
    second = crm(tenant, "Second", position=1)
    theirs = crm(other_tenant, "Theirs")
    url = reverse("integration-order-save")

    response = admin_client.post(url, {"order": f"{second.pk},{first.pk}"})

    assert response.status_code == 200
    assert response.json() == {"order": [second.pk, first.pk]}
    for bad in (f"{second.pk}", f"{first.pk},{theirs.pk}", "a,b", "", f"{first.pk},{first.pk}", "9" * 100):
        assert admin_client.post(url, {"order": bad}).status_code == 400
    assert list(Integration.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "Second",
        "First",
    ]


def test_another_tenants_integration_cannot_be_moved_or_set(admin_client, other_tenant):
    theirs = crm(other_tenant, "Theirs")
    assert (
        admin_client.post(
            reverse("integration-order-move", args=[theirs.pk]), {"direction": "up"}
        ).status_code
        == 404
    )
    response = admin_client.post(
        reverse("integration-multiple-matches", args=[theirs.pk]), {"multiple_matches": "choose"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.multiple_matches == "all"


def test_the_overview_sets_several_matches_and_lists_duplicate_numbers(admin_client, tenant):
    integration = crm(tenant, "Sales CRM")
    record(integration, "a", "Ann Duplicate")
    record(integration, "b", "Bea Duplicate")
    record(integration, "c", "Cor Single", e164="+31301234567")
    overview = reverse("integration-overview", args=[integration.pk])

    page = admin_client.get(overview).content.decode()
    assert 'id="several-matches"' in page
    duplicates = page.split('id="duplicate-numbers"', 1)[1].split("</ul>\n", 1)[0]
    assert JAN in duplicates
    assert "Ann Duplicate" in duplicates
    assert "Bea Duplicate" in duplicates
    assert "Cor Single" not in page

    response = admin_client.post(
        reverse("integration-multiple-matches", args=[integration.pk]), {"multiple_matches": "choose"}
    )
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.multiple_matches == "choose"
    admin_client.post(
        reverse("integration-multiple-matches", args=[integration.pk]), {"multiple_matches": "x"}
    )
    integration.refresh_from_db()
    assert integration.multiple_matches == "choose"
    rows = audit_rows(audit_entry_list(tenant=tenant, kind="integration", integration_id=integration.pk))
    assert any(c.field == "multiple matches" and c.new.startswith("None") for r in rows for c in r.changes)


def test_the_test_lookup_explains_held_syncs_and_scripts_that_need_a_record(admin_client, tenant):
    held = crm(tenant, "Held CRM", cached_numbers=5, held_generation=3)
    script_create(
        tenant=tenant,
        integration=held,
        name="Mail them",
        template="mailto:$(Email)",
        applies=ScriptApplies.ALWAYS,
    )
    response = admin_client.get(TEST_LOOKUP, {"caller_number": "+31 20 123 4567"})
    [row] = response.context["reasons"]["integrations"]
    assert row["state"] == "held"
    assert "a held sync waits for your decision" in row["reason"]
    [script] = response.context["reasons"]["scripts"]
    assert script["rendered"] is False
    assert script["reason"] == "it needs a field of a matched record ($(…)), and no record matched"


def test_a_screen_pop_integration_has_no_several_matches_card(admin_client, tenant):
    screen_pop = Integration.objects.create(tenant=tenant, preset="web_search", name="Search")
    page = admin_client.get(reverse("integration-overview", args=[screen_pop.pk])).content.decode()
    assert 'id="several-matches"' not in page
