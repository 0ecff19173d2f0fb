"""Matching with numbers as CRMs and PBXs write them: main-number fallback, internal, withheld and
empty callers, an integration's own region, several numbers per field, unreadable numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from integrations.connectors.base import CrmRecord, DeletedRecord, RecordPhone
from integrations.connectors.ldap import LdapConnector
from integrations.matching import call_from_params, match_call
from integrations.models import Integration, PhoneCacheEntry, SyncMode, UnreadableNumber
from integrations.presets import ScriptApplies
from integrations.services import integration_create, integration_set_number_reading, script_create
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.carddav_double import CardDavDouble, vcard

URL = "/api/v1/match"


@pytest.fixture(autouse=True)
def _no_counted_key_failures() -> Any:
    cache.clear()
    yield
    cache.clear()


def _integration(tenant: Tenant, name: str, cards: dict[str, str]) -> tuple[Integration, CardDavDouble]:
    double = CardDavDouble(cards)
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        settings_values=double.settings(),
        notification_fields=["Company"],
        start_sync=False,
    )
    return integration, double


def _sync(integration: Integration, double: CardDavDouble) -> None:
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok", result


def _synced(tenant: Tenant, name: str, cards: dict[str, str]) -> Integration:
    integration, double = _integration(tenant, name, cards)
    _sync(integration, double)
    return integration


def get(key: str, **params: str) -> Any:
    return Client().get(URL, params, HTTP_AUTHORIZATION=f"Api-Key {key}")


@pytest.fixture
def reception(tenant: Tenant) -> Integration:
    """A CRM holding Acme's main number +49 30 1234567 and Jan's direct-dial number on it (-89)."""
    return _synced(
        tenant,
        "Sales CRM",
        {
            "acme.vcf": vcard("acme", "Acme BV reception", "work:+49 30 1234567", org="Acme GmbH"),
            "jan.vcf": vcard("jan", "Jan Jansen", "work:+49 30 1234567-89", org="Acme GmbH"),
        },
    )


# --- main-number fallback ----------------------------------------------------------------------


def test_an_extension_matches_the_main_number_only_when_the_fallback_is_on(
    tenant: Tenant, api_key: Any, reception: Integration
) -> None:
    assert get(api_key[1], caller_number="+49 30 1234567 12").json()["matches"] == []

    integration_set_number_reading(
        tenant=tenant, integration=reception, region="", fallback_to_main_number=True
    )
    body = get(api_key[1], caller_number="+49 30 1234567 12").json()

    assert [m["record"]["id"] for m in body["matches"]] == ["acme"]
    assert body["matches"][0]["fallback"] is True
    assert body["call"]["caller_kind"] == "external"


def test_a_caller_whose_full_number_is_known_is_no_fallback(
    tenant: Tenant, api_key: Any, reception: Integration
) -> None:
    integration_set_number_reading(
        tenant=tenant, integration=reception, region="", fallback_to_main_number=True
    )

    body = get(api_key[1], caller_number="0049 30 1234567 89").json()

    assert [(m["record"]["id"], m["fallback"]) for m in body["matches"]] == [("jan", False)]
    main = get(api_key[1], caller_number="+49301234567").json()
    assert [(m["record"]["id"], m["fallback"]) for m in main["matches"]] == [("acme", False)]


def test_the_fallback_takes_the_longest_main_number_and_at_most_four_extension_digits(
    tenant: Tenant, api_key: Any
) -> None:
    integration = _synced(
        tenant,
        "Offices",
        {
            "hq.vcf": vcard("hq", "Head office", "work:+49 30 1234567"),
            "desk.vcf": vcard("desk", "Sales desk", "work:+49 30 12345"),
        },
    )
    integration_set_number_reading(
        tenant=tenant, integration=integration, region="", fallback_to_main_number=True
    )

    nearest = get(api_key[1], caller_number="+49 30 1234567 12").json()["matches"]
    assert [(m["record"]["id"], m["fallback"]) for m in nearest] == [("hq", True)]
    further = get(api_key[1], caller_number="+49 30 12345 99").json()["matches"]
    assert [m["record"]["id"] for m in further] == ["desk"]
    # Five digits after the head office's number are more than an extension.
    assert get(api_key[1], caller_number="+49 30 1234567 12345").json()["matches"] == []


def test_only_integrations_with_the_fallback_on_answer_with_their_main_number(
    tenant: Tenant, api_key: Any, reception: Integration
) -> None:
    other = _synced(
        tenant, "Support CRM", {"acme.vcf": vcard("acme-s", "Acme support", "work:+49 30 1234567")}
    )
    integration_set_number_reading(tenant=tenant, integration=other, region="", fallback_to_main_number=True)

    matches = get(api_key[1], caller_number="+49 30 1234567 12").json()["matches"]

    assert [(m["integration"]["name"], m["fallback"]) for m in matches] == [("Support CRM", True)]


def test_another_tenants_main_number_is_never_a_fallback(
    tenant: Tenant, other_tenant: Tenant, api_key: Any, other_api_key: Any
) -> None:
    theirs = _synced(other_tenant, "Globex CRM", {"g.vcf": vcard("g", "Globex", "work:+49 30 1234567")})
    integration_set_number_reading(
        tenant=other_tenant, integration=theirs, region="", fallback_to_main_number=True
    )

    assert get(api_key[1], caller_number="+49 30 1234567 12").json()["matches"] == []
    assert len(get(other_api_key[1], caller_number="+49 30 1234567 12").json()["matches"]) == 1


# --- internal, withheld and empty callers ------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "kind"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("anonymous", "anonymous"),
        ("Restricted", "anonymous"),
        ("UNKNOWN", "anonymous"),
        ("sip:anonymous@anonymous.invalid", "anonymous"),
        ("201", "internal"),
        ("*31", "internal"),
        ("sip:201@pbx.example.nl", "internal"),
    ],
)
def test_withheld_internal_and_empty_callers_match_nothing_and_say_so(
    tenant: Tenant, api_key: Any, reception: Integration, caller: str, kind: str
) -> None:
    script_create(
        tenant=tenant,
        integration=None,
        name="Search",
        template="https://www.google.nl?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )
    integration_set_number_reading(
        tenant=tenant, integration=reception, region="", fallback_to_main_number=True
    )

    response = get(api_key[1], caller_number=caller)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["call"]["caller_kind"] == kind
    assert body["call"]["caller_number_e164"] is None
    assert body["call"]["anonymous"] is (kind == "anonymous")
    assert body["matches"] == []
    if kind == "anonymous":
        assert body["actions"] == []


def test_a_missing_caller_number_is_still_a_400(api_key: Any) -> None:
    response = Client().get(URL, {"caller_name": "Jan"}, HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")

    assert response.status_code == 400
    assert "caller_number" in response.json()["errors"]


def test_the_internal_number_length_is_the_tenants(tenant: Tenant, admin_client: Client) -> None:
    assert call_from_params(tenant=tenant, params={"caller_number": "12345678"}).caller_kind == "external"

    page = admin_client.post(reverse("tenant-numbers"), {"internal_number_length": "8"}, follow=True)

    assert "up to 8 digits" in page.content.decode()
    tenant.refresh_from_db()
    assert tenant.internal_number_length == 8
    call = call_from_params(tenant=tenant, params={"caller_number": "12345678"})
    assert (call.caller_kind, call.caller_number_e164) == ("internal", None)
    assert 'value="8"' in admin_client.get(reverse("home")).content.decode()
    entry = LogEntry.objects.get_for_object(tenant).first()
    assert entry is not None
    assert [str(v) for v in entry.changes_dict["internal_number_length"]] == ["6", "8"]
    assert entry.actor is not None


@pytest.mark.parametrize("value", ["", "0", "16", "abc", "-3", "9" * 50])
def test_a_bad_internal_number_length_is_refused_with_a_message(
    tenant: Tenant, admin_client: Client, value: str
) -> None:
    page = admin_client.post(reverse("tenant-numbers"), {"internal_number_length": value}, follow=True)

    assert page.status_code == 200
    assert "from 1 to 15" in page.content.decode()
    tenant.refresh_from_db()
    assert tenant.internal_number_length == 6


def test_the_internal_number_length_form_changes_only_the_admins_tenant(
    tenant: Tenant, other_tenant: Tenant, other_admin_client: Client
) -> None:
    other_admin_client.post(reverse("tenant-numbers"), {"internal_number_length": "3"})

    tenant.refresh_from_db()
    other_tenant.refresh_from_db()
    assert (tenant.internal_number_length, other_tenant.internal_number_length) == (6, 3)
    assert Client().post(reverse("tenant-numbers"), {"internal_number_length": "3"}).status_code == 302
    assert Client().get(reverse("tenant-numbers")).status_code in {302, 405}


# --- region, several numbers, notations end to end -------------------------------------------


def test_an_integrations_region_reads_its_crms_national_numbers(
    tenant: Tenant, api_key: Any, admin_client: Client
) -> None:
    integration, double = _integration(
        tenant, "Brussels office", {"b.vcf": vcard("b", "Bruxelles", "work:02 555 12 12")}
    )
    _sync(integration, double)
    assert get(api_key[1], caller_number="+32 2 555 12 12").json()["matches"] == []

    page = admin_client.post(
        reverse("integration-numbers", args=[integration.pk]), {"region": "be"}, follow=True
    ).content.decode()
    assert "Number reading saved" in page
    assert '<option value="BE" selected>' in page
    _sync(integration, double)

    matches = get(api_key[1], caller_number="0032 2 555 12 12").json()["matches"]
    assert [m["record"]["id"] for m in matches] == ["b"]
    entry = LogEntry.objects.get_for_object(integration).first()
    assert entry is not None
    assert "region" in entry.changes_dict


def test_a_field_with_several_numbers_matches_each_of_them(tenant: Tenant, api_key: Any) -> None:
    _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567 / 06 12345678")})

    for caller in ("+31201234567", "tel:+31-6-1234-5678", "31612345678"):
        matches = get(api_key[1], caller_number=caller).json()["matches"]
        assert [m["record"]["id"] for m in matches] == ["j"], caller
        assert matches[0]["record"]["phone"]["number"] == "020 123 4567 / 06 12345678"


@pytest.mark.parametrize(
    "caller",
    [
        "tel:+1-800-356-9377",
        "sip:+18003569377@sip.example.com;user=phone",
        "18003569377",
        "0018003569377",
        "+1 (800) 356-9377",
    ],
)
def test_a_vanity_number_in_the_crm_matches_every_notation_of_its_digits(
    tenant: Tenant, api_key: Any, caller: str
) -> None:
    _synced(tenant, "Shops", {"f.vcf": vcard("f", "Flower shop", "work:+1-800-FLOWERS")})

    response = get(api_key[1], caller_number=caller)

    assert response.status_code == 200, response.content
    assert [m["record"]["id"] for m in response.json()["matches"]] == ["f"]
    assert response.json()["call"]["caller_number_e164"] == "+18003569377"


def test_match_call_reads_extensions_apart_from_the_number(tenant: Tenant) -> None:
    _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567-12")})

    entry = PhoneCacheEntry.objects.get(record_id="j")
    assert (entry.e164, entry.extension) == ("+31201234567", "12")
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0201234567"})
    )
    assert [(m["record"]["phone"]["extension"], m["fallback"]) for m in answer["matches"]] == [("12", False)]


# --- the Matching card -------------------------------------------------------------------------


def test_the_number_reading_form_refuses_an_unknown_region(tenant: Tenant, admin_client: Client) -> None:
    integration = _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567")})

    for region in ("XX", "Nederland", "<b>"):
        page = admin_client.post(
            reverse("integration-numbers", args=[integration.pk]),
            {"region": region, "fallback_to_main_number": "on"},
            follow=True,
        )
        assert page.status_code == 200
        assert "is not a country code" in page.content.decode()
    integration.refresh_from_db()
    assert (integration.region, integration.fallback_to_main_number) == ("", False)


def test_another_tenants_admin_cannot_change_the_number_reading(
    tenant: Tenant, other_admin_client: Client
) -> None:
    integration = _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567")})

    response = other_admin_client.post(
        reverse("integration-numbers", args=[integration.pk]),
        {"region": "BE", "fallback_to_main_number": "on"},
    )

    assert response.status_code == 404
    assert other_admin_client.get(reverse("integration-overview", args=[integration.pk])).status_code == 404
    integration.refresh_from_db()
    assert (integration.region, integration.fallback_to_main_number) == ("", False)


def test_the_fallback_checkbox_turns_on_and_off(tenant: Tenant, admin_client: Client) -> None:
    integration = _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567")})
    url = reverse("integration-numbers", args=[integration.pk])

    page = admin_client.post(
        url, {"region": "", "fallback_to_main_number": "on"}, follow=True
    ).content.decode()
    integration.refresh_from_db()
    assert integration.fallback_to_main_number is True
    assert 'id="fallback-main" checked' in page

    admin_client.post(url, {"region": ""})
    integration.refresh_from_db()
    assert integration.fallback_to_main_number is False


# --- unreadable numbers ------------------------------------------------------------------------

UNREADABLE_CARDS = {
    "jan.vcf": vcard("jan", "Jan Jansen", "work:020 123 4567", "cell:n.v.t."),
    "piet.vcf": vcard("piet", "Piet Pieters", "work:12"),
}


def test_unreadable_numbers_are_kept_with_their_record_and_shown_on_the_overview(
    tenant: Tenant, admin_client: Client
) -> None:
    integration, double = _integration(tenant, "CRM", dict(UNREADABLE_CARDS))
    _sync(integration, double)

    rows = {
        (r.record_id, r.record_name, r.raw_text)
        for r in UnreadableNumber.objects.filter(integration=integration)
    }
    assert rows == {("jan", "Jan Jansen", "n.v.t."), ("piet", "Piet Pieters", "12")}
    assert all(r.reason for r in UnreadableNumber.objects.all())
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "2 numbers could not be read" in page
    assert "Piet Pieters" in page
    assert "<code>n.v.t.</code>" in page
    link = UnreadableNumber.objects.get(record_id="jan").record_url
    assert link.startswith("http")
    assert f'href="{link}"' in page


def test_a_successful_sync_replaces_the_unreadable_numbers(tenant: Tenant, admin_client: Client) -> None:
    integration, double = _integration(tenant, "CRM", dict(UNREADABLE_CARDS))
    _sync(integration, double)

    double.cards["piet.vcf"] = vcard("piet", "Piet Pieters", "work:020 765 4321")
    _sync(integration, double)

    assert list(UnreadableNumber.objects.values_list("record_id", flat=True)) == ["jan"]
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "1 number could not be read" in page
    assert "Piet Pieters" not in page


def test_a_failed_sync_keeps_the_last_unreadable_numbers(tenant: Tenant) -> None:
    integration, double = _integration(tenant, "CRM", dict(UNREADABLE_CARDS))
    _sync(integration, double)

    double.fail_from_report = 1
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )

    assert result.status == "failed"
    assert UnreadableNumber.objects.filter(integration=integration).count() == 2


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_held_syncs_unreadable_numbers_wait_for_the_admins_decision(
    tenant: Tenant, admin_client: Client, settings: Any, decision: str
) -> None:
    settings.SYNC_HOLD_MAX_DROP_RATIO = 0.5
    settings.SYNC_HOLD_MIN_DROP = 2
    cards = {f"c{i}.vcf": vcard(f"c{i}", f"Person {i}", f"work:020 555 {i:04d}") for i in range(10)}
    cards["piet.vcf"] = vcard("piet", "Piet Pieters", "work:12")
    integration, double = _integration(tenant, "CRM", cards)
    _sync(integration, double)
    assert list(UnreadableNumber.objects.values_list("record_id", flat=True)) == ["piet"]

    # The CRM suddenly holds far fewer records, one of them with an unreadable number: held.
    double.cards = {
        "c0.vcf": cards["c0.vcf"],
        "klaas.vcf": vcard("klaas", "Klaas Klaassen", "cell:n.v.t."),
    }
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "held"
    overview = reverse("integration-overview", args=[integration.pk])
    page = admin_client.get(overview).content.decode()
    assert "Piet Pieters" in page  # the live cache's list, until the admin decides
    assert "Klaas Klaassen" not in page

    admin_client.post(reverse(f"integration-hold-{decision}", args=[integration.pk]))

    page = admin_client.get(overview).content.decode()
    kept = {"accept": "klaas", "reject": "piet"}[decision]
    assert list(UnreadableNumber.objects.values_list("record_id", flat=True)) == [kept]
    assert ("Klaas Klaassen" in page) is (decision == "accept")
    assert ("Piet Pieters" in page) is (decision == "reject")


def test_unreadable_numbers_are_capped_per_integration(
    tenant: Tenant, settings: Any, admin_client: Client
) -> None:
    settings.UNREADABLE_NUMBERS_MAX = 1
    integration, double = _integration(tenant, "CRM", dict(UNREADABLE_CARDS))
    _sync(integration, double)

    assert UnreadableNumber.objects.filter(integration=integration).count() == 1
    run = integration.sync_runs.first()
    assert run is not None
    assert run.skipped == 2  # both are still counted
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "only the first 1 are kept" in page


def test_an_unreadable_numbers_link_is_only_an_http_link(tenant: Tenant, admin_client: Client) -> None:
    integration, double = _integration(tenant, "CRM", {"p.vcf": vcard("p", "Piet", "work:12")})
    _sync(integration, double)
    UnreadableNumber.objects.update(record_url="javascript:alert(1)")

    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()

    assert "javascript:alert(1)" not in page
    assert "Piet" in page


def test_another_tenant_never_sees_the_unreadable_numbers(
    tenant: Tenant, other_tenant: Tenant, other_admin_client: Client
) -> None:
    integration, double = _integration(tenant, "CRM", dict(UNREADABLE_CARDS))
    _sync(integration, double)
    theirs = _synced(other_tenant, "Their CRM", {"x.vcf": vcard("x", "X", "work:020 123 4567")})

    page = other_admin_client.get(reverse("integration-overview", args=[theirs.pk])).content.decode()

    assert "could not be read" not in page
    assert "Piet Pieters" not in page


def test_an_incremental_sync_replaces_the_unreadable_numbers_of_the_records_it_read(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def person(record_id: str, *numbers: str) -> CrmRecord:
        phones = tuple(RecordPhone(number=n, type="work") for n in numbers)
        return CrmRecord(
            id=record_id, type="contact", display_name=record_id.title(), phones=phones, fields={}
        )

    records = [person("anna", "020 111 0001", "n.v.t."), person("bram", "??"), person("cees", "12")]
    changes: list[CrmRecord | DeletedRecord] = [
        person("anna", "020 111 0001"),
        DeletedRecord("bram"),
        person("dirk", "x"),
    ]
    monkeypatch.setattr(LdapConnector, "iter_records", lambda self: iter(records))
    monkeypatch.setattr(LdapConnector, "iter_changes", lambda self, since: iter(changes))
    integration = Integration.objects.create(
        tenant=tenant,
        preset="ldap",
        name="Directory",
        settings={"server_url": "ldap://127.0.0.1:389", "base_dn": "dc=example,dc=org"},
    )
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        assert phone_cache_sync(integration_id=integration.pk).status == "ok"
        assert set(UnreadableNumber.objects.values_list("record_id", flat=True)) == {"anna", "bram", "cees"}
        traveller.shift(dt.timedelta(hours=1))

        assert phone_cache_sync(integration_id=integration.pk, mode=SyncMode.INCREMENTAL).status == "ok"

    assert sorted(UnreadableNumber.objects.values_list("record_id", "raw_text")) == [
        ("cees", "12"),
        ("dirk", "x"),
    ]


@pytest.mark.parametrize("value", ["\x00", "ÉÉ", "b" * 5000, "NL\nBE", "🇧🇪"])
def test_odd_form_values_are_refused_without_a_500(tenant: Tenant, admin_client: Client, value: str) -> None:
    integration = _synced(tenant, "CRM", {"j.vcf": vcard("j", "Jan", "work:020 123 4567")})

    numbers = admin_client.post(reverse("integration-numbers", args=[integration.pk]), {"region": value})
    length = admin_client.post(reverse("tenant-numbers"), {"internal_number_length": value})

    assert numbers.status_code == length.status_code == 302
    integration.refresh_from_db()
    tenant.refresh_from_db()
    assert (integration.region, tenant.internal_number_length) == ("", 6)
