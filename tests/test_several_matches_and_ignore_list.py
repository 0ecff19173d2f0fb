"""Several matches (order, all / first / choose) and the ignore list, through the matching API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from integrations.ignore_list import caller_ignored, ignore_prefix_normalize, ignored_number_add
from integrations.matching import call_from_params, match_call, match_call_explained
from integrations.models import IgnoredNumber, Integration, PhoneCacheEntry
from integrations.presets import ScriptApplies
from integrations.services import script_create
from integrations.several_matches import (
    duplicate_numbers,
    integration_move,
    integration_reorder,
    integration_set_multiple_matches,
)
from tenants.models import Tenant

URL = "/api/v1/match"
JAN = "+31201234567"


def crm(
    tenant: Tenant, name: str, *, preset: str = "salesforce", position: int = 0, **extra: Any
) -> Integration:
    return Integration.objects.create(tenant=tenant, preset=preset, name=name, position=position, **extra)


def record(
    integration: Integration, record_id: str, name: str, *, e164: str = JAN, type_: str = "contact"
) -> None:
    PhoneCacheEntry.objects.create(
        tenant=integration.tenant,
        integration=integration,
        generation=integration.cache_generation,
        e164=e164,
        number_as_written=e164,
        record_id=record_id,
        record_type=type_,
        display_name=name,
        record_url=f"https://crm.example.com/{record_id}",
    )


def ask(key: str, number: str = "020 123 4567") -> dict[str, Any]:
    response = Client().get(URL, {"caller_number": number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any]) -> list[str]:
    return [m["notification"]["title"] for m in body["matches"]]


# Several matches --------------------------------------------------------------------------


def test_every_match_is_returned_by_integration_order_then_record_type_then_name(tenant, api_key):
    second = crm(tenant, "Second CRM", position=1)
    first = crm(tenant, "First CRM", position=0)
    record(second, "s-1", "Aaron Second")
    record(first, "acc-1", "Acme Company", type_="company")
    record(first, "lead-1", "Anna Lead", type_="lead")
    record(first, "c-2", "bert contact")
    record(first, "c-1", "Anton Contact")

    body = ask(api_key[1])

    assert names(body) == ["Anton Contact", "bert contact", "Anna Lead", "Acme Company", "Aaron Second"]
    assert [m["other_records"] for m in body["matches"]] == [0] * 5
    assert body["choose"] == []
    assert body["ignored"] is False
    assert body["ignore_action"] is None


def test_reordering_the_integrations_reorders_the_matches(tenant, api_key):
    first = crm(tenant, "First CRM", position=0)
    second = crm(tenant, "Second CRM", position=1)
    record(first, "f", "From First")
    record(second, "s", "From Second")
    assert names(ask(api_key[1])) == ["From First", "From Second"]

    integration_move(tenant=tenant, integration=second, offset=-1)

    assert names(ask(api_key[1])) == ["From Second", "From First"]
    integration_reorder(tenant=tenant, ordered_ids=[first.pk, second.pk])
    assert names(ask(api_key[1])) == ["From First", "From Second"]


def test_a_reorder_must_name_each_of_the_tenants_integrations_once(tenant, other_tenant):
    mine = crm(tenant, "Mine", position=0)
    also_mine = crm(tenant, "Also mine", position=1)
    theirs = crm(other_tenant, "Theirs", position=0)
    for bad in ([mine.pk], [mine.pk, mine.pk], [mine.pk, also_mine.pk, theirs.pk], [mine.pk, theirs.pk]):
        with pytest.raises(ValidationError):
            integration_reorder(tenant=tenant, ordered_ids=bad)
    assert list(Integration.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "Mine",
        "Also mine",
    ]
    with pytest.raises(ValidationError):
        integration_move(tenant=tenant, integration=theirs, offset=1)


def test_first_returns_only_the_first_record_and_counts_the_others(tenant, api_key):
    integration = crm(tenant, "CRM", multiple_matches="first")
    other = crm(tenant, "Other", position=1)
    record(integration, "b", "Bea")
    record(integration, "a", "Ann")
    record(integration, "c", "Cor", type_="company")
    record(other, "z", "Zed")

    body = ask(api_key[1])

    assert names(body) == ["Ann", "Zed"]
    assert [m["other_records"] for m in body["matches"]] == [2, 0]


def test_choose_returns_no_match_but_the_records_to_choose_from(tenant, api_key):
    integration = crm(tenant, "Service desk", preset="carddav", multiple_matches="choose")
    record(integration, "p-2", "Piet Pieters")
    record(integration, "j-1", "Jan Jansen")
    script_create(
        tenant=tenant,
        integration=integration,
        name="Open",
        template="$(PopUpUri)",
        applies=ScriptApplies.ON_MATCH,
    )
    found = script_create(
        tenant=tenant,
        integration=None,
        name="Found",
        template="https://intranet.example.com/?q=#(Caller number)",
        applies=ScriptApplies.ON_MATCH,
    )
    script_create(
        tenant=tenant,
        integration=None,
        name="Not found",
        template="https://intranet.example.com/new?n=#(Caller number)",
        applies=ScriptApplies.ON_NO_MATCH,
    )

    body = ask(api_key[1])

    assert body["matches"] == []
    assert body["choose"] == [
        {
            "integration": {"id": integration.pk, "name": "Service desk", "preset": "carddav"},
            "choices": [
                {"record_id": "j-1", "title": "Jan Jansen", "url": "https://crm.example.com/j-1"},
                {"record_id": "p-2", "title": "Piet Pieters", "url": "https://crm.example.com/p-2"},
            ],
            "other_records": 0,
        }
    ]
    # Records to choose from are not "nothing found": the on-match tenant-wide script applies.
    assert [a["script_id"] for a in body["actions"]] == [found.pk]


def test_choose_with_one_record_is_an_ordinary_match(tenant, api_key):
    integration = crm(tenant, "CRM", multiple_matches="choose")
    record(integration, "j", "Jan")
    body = ask(api_key[1])
    assert names(body) == ["Jan"]
    assert body["choose"] == []


def test_the_policy_is_validated_and_another_tenants_integration_is_left_alone(tenant, other_tenant):
    mine = crm(tenant, "Mine")
    theirs = crm(other_tenant, "Theirs")
    with pytest.raises(ValidationError):
        integration_set_multiple_matches(tenant=tenant, integration=mine, policy="some")
    integration_set_multiple_matches(tenant=tenant, integration=theirs, policy="choose")
    theirs.refresh_from_db()
    assert theirs.multiple_matches == "all"
    integration_set_multiple_matches(tenant=tenant, integration=mine, policy="first")
    mine.refresh_from_db()
    assert mine.multiple_matches == "first"


def test_duplicate_numbers_lists_numbers_of_several_records_in_the_current_cache(tenant, other_tenant):
    integration = crm(tenant, "CRM")
    record(integration, "a", "Ann")
    record(integration, "b", "Bea")
    record(integration, "c", "Cor", e164="+31301234567")
    stale = PhoneCacheEntry.objects.create(
        tenant=tenant,
        integration=integration,
        generation=integration.cache_generation + 1,  # a sync still writing: not current
        e164="+31301234567",
        number_as_written="030",
        record_id="d",
        record_type="contact",
    )
    assert stale.pk

    duplicates, total = duplicate_numbers(tenant=tenant, integration=integration)

    assert total == 1
    assert [(d.e164, [r.record_id for r in d.records]) for d in duplicates] == [(JAN, ["a", "b"])]
    assert duplicate_numbers(tenant=other_tenant, integration=integration) == ([], 0)


# Ignore list ------------------------------------------------------------------------------


def test_an_ignored_caller_gets_no_matches_and_no_actions(tenant, api_key):
    integration = crm(tenant, "CRM")
    record(integration, "j", "Jan")
    script_create(
        tenant=tenant,
        integration=None,
        name="Search",
        template="https://s.example/?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )
    assert names(ask(api_key[1])) == ["Jan"]

    ignored_number_add(tenant=tenant, number="020-123 45 67", note="Robocaller")

    body = ask(api_key[1])
    assert body["matches"] == []
    assert body["actions"] == []
    assert body["choose"] == []
    assert body["ignored"] is True
    assert body["ignore_action"] == "ignore"
    assert body["call"]["caller_number_e164"] == JAN


def test_reject_is_said_in_the_answer(tenant, api_key):
    ignored_number_add(tenant=tenant, number="+31 20 123 4567", action="reject")
    body = ask(api_key[1], "0031201234567")
    assert body["ignored"] is True
    assert body["ignore_action"] == "reject"


def test_a_prefix_ignores_every_number_that_starts_with_it(tenant, api_key):
    ignored_number_add(tenant=tenant, number="+31 900", kind="prefix", action="reject")
    assert ask(api_key[1], "0900 1234567")["ignore_action"] == "reject"
    assert ask(api_key[1], "0901 1234567")["ignored"] is False
    # The most specific entry wins: one number of the prefix is only ignored.
    ignored_number_add(tenant=tenant, number="0900 1234567", action="ignore")
    assert ask(api_key[1], "0900 1234567")["ignore_action"] == "ignore"
    assert ask(api_key[1], "0900 7654321")["ignore_action"] == "reject"


def test_the_ignore_list_is_per_tenant(tenant, other_tenant, api_key, other_api_key):
    ignored_number_add(tenant=other_tenant, number="+31201234567", action="reject")
    ignored_number_add(tenant=other_tenant, number="+31", kind="prefix")
    assert ask(api_key[1])["ignored"] is False
    assert caller_ignored(tenant, JAN) is None
    assert ask(other_api_key[1], "+31 20 123 4567")["ignore_action"] == "reject"


def test_withheld_and_internal_callers_are_never_on_the_list(tenant):
    ignored_number_add(tenant=tenant, number="+3", kind="prefix")
    assert caller_ignored(tenant, None) is None
    for number in ("anonymous", "201"):
        answer = match_call(
            tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number})
        )
        assert answer["ignored"] is False


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ("not a number", "number", "Not a phone number"),
        ("12", "number", "Not a phone number"),
        ("020 123 4567 x12", "number", "without an extension"),
        ("+31 abc", "prefix", "not a prefix"),
        ("", "prefix", "Enter a prefix"),
        ("+1234567890123456", "prefix", "longer than a whole phone number"),
        ("+0", "prefix", "country code"),
        ("123", "prefix", "not a prefix"),
    ],
)
def test_a_malformed_entry_is_refused_with_its_reason(tenant, raw, kind, message):
    with pytest.raises(ValidationError) as error:
        ignored_number_add(tenant=tenant, number=raw, kind=kind)
    assert message in " ".join(error.value.messages)
    assert not IgnoredNumber.objects.exists()


def test_prefixes_are_stored_as_the_start_of_e164_numbers():
    assert ignore_prefix_normalize("+31 (0)90", country="NL") == "+3190"
    assert ignore_prefix_normalize("0031-90", country="NL") == "+3190"
    assert ignore_prefix_normalize("090", country="NL") == "+3190"
    assert ignore_prefix_normalize("+1 800", country="NL") == "+1800"
    assert ignore_prefix_normalize("0800", country="BE") == "+32800"


def test_an_entry_cannot_be_added_twice(tenant):
    ignored_number_add(tenant=tenant, number="020 123 4567")
    with pytest.raises(ValidationError, match="already on the ignore list"):
        ignored_number_add(tenant=tenant, number="+31201234567")


# The explained match shares match_call's code ---------------------------------------------


def test_the_explained_answer_is_the_answer(tenant):
    integration = crm(tenant, "CRM", multiple_matches="first")
    record(integration, "a", "Ann")
    record(integration, "b", "Bea")
    call = call_from_params(tenant=tenant, params={"caller_number": "020 123 4567"})

    answer, reasons = match_call_explained(tenant=tenant, call=call)

    assert answer == match_call(tenant=tenant, call=call)
    assert reasons["number"]["kind"] == "external"
    assert reasons["number"]["e164"] == JAN
    [row] = reasons["integrations"]
    assert row["records"] == 2
    assert row["returned"] == 1
    assert "only the first" in row["reason"]
