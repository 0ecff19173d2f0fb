"""The call log, its entry page, its chart and options, and the match-quality report (Django client)."""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
import re
import zoneinfo

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from configurator.audit import audit_entry_list, audit_rows
from integrations.models import CallJournalEntry, CallJournalOptions
from integrations.presets import ScriptApplies
from integrations.services import script_create
from tests.call_journal_helpers import journal_entry, synced_address_book
from tests.conftest import PASSWORD

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# Noon in Amsterdam on 21 November 2026: "today" of every test here.
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=AMSTERDAM)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(days_ago: int, hour: int = 10) -> dt.datetime:
    """A moment `days_ago` days before today, at `hour` o'clock Amsterdam time."""
    return (NOW - dt.timedelta(days=days_ago)).replace(hour=hour)


def rows(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<tr data-testid="call-log-row">(.*?)</tr>', html, re.S)


def chart_days(response) -> dict[str, tuple[int, int]]:
    html = response.content.decode()
    found = re.findall(r'data-day="([\d-]+)" data-matched="(\d+)" data-unmatched="(\d+)"', html)
    return {day: (int(m), int(u)) for day, m, u in found}


@pytest.fixture
def log(tenant, other_tenant):
    """Acme's log: calls over three days, two senders, one 400; Globex has a call of its own."""
    entries = {
        "jan": journal_entry(tenant, at(0), caller_number="020 123 4567", call_id="jan"),
        "unknown": journal_entry(
            tenant, at(0, 11), caller_number="06 9999 0000", caller_e164="+31699990000", matched=False
        ),
        "zammad": journal_entry(
            tenant,
            at(1),
            sender="zammad",
            event="newCall",
            caller_number="31201234567",
            call_id="zammad-1",
        ),
        "hangup": journal_entry(
            tenant,
            at(1, 11),
            sender="zammad",
            event="hangup",
            counts_as_call=False,
            matched=False,
            answer=None,
        ),
        "refused": journal_entry(
            tenant,
            at(2),
            caller_number="abc",
            caller_e164="",
            matched=False,
            counts_as_call=False,
            status_code=400,
            answer={"detail": "Bad call parameters", "errors": {"caller_number": "not a number"}},
        ),
        "old": journal_entry(
            tenant, at(20), caller_number="0301111111", caller_e164="+31301111111", matched=False
        ),
        "globex": journal_entry(other_tenant, at(0), caller_number="02 123 45 67", caller_e164="+3221234567"),
    }
    return entries


def test_the_log_lists_the_tenants_entries_newest_first(admin_client: Client, log):
    response = admin_client.get(reverse("call-log"))

    assert response.status_code == 200
    found = rows(response)
    assert len(found) == 6  # not Globex's
    assert "06 9999 0000" in found[0]
    assert "020 123 4567" in found[1]
    assert "refused" in found[4]
    assert "02 123 45 67" not in response.content.decode()
    assert 'href="/call-log/"' in response.content.decode()  # the sidebar link


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "0201234567"}, {"jan", "zammad", "hangup"}),  # any notation, compared as E.164
        ({"q": "9999"}, {"unknown"}),
        ({"matched": "no"}, {"unknown", "hangup", "refused", "old"}),
        ({"matched": "yes"}, {"jan", "zammad"}),
        ({"sender": "zammad"}, {"zammad", "hangup"}),
        ({"date_from": "2026-11-20", "date_to": "2026-11-20"}, {"zammad", "hangup"}),
        ({"date_from": "2026-11-19"}, {"jan", "unknown", "zammad", "hangup", "refused"}),
        ({"date_to": "2026-11-19", "matched": "no"}, {"refused", "old"}),
    ],
)
def test_the_log_filters(admin_client: Client, log, query, expected):
    response = admin_client.get(reverse("call-log"), query)

    assert response.status_code == 200
    ids = {f'href="/call-log/{entry.pk}/"' for entry in log.values()}
    shown = {
        name for name, entry in log.items() if f'href="/call-log/{entry.pk}/"' in response.content.decode()
    }
    assert shown == expected
    assert ids  # the rows link to their entries


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-13-01"},
        {"date_from": "2026-11-21", "date_to": "2026-11-01"},
        {"date_from": "2024-01-01", "date_to": "2026-01-01"},
        {"matched": "maybe"},
        {"sender": "nobody"},
        {"q": "x" * 65},
        {"q": "0201\x00"},
    ],
)
def test_a_bad_filter_is_a_400_with_the_forms_message(admin_client: Client, log, query):
    response = admin_client.get(reverse("call-log"), query)

    assert response.status_code == 400
    assert "invalid-feedback" in response.content.decode() or "alert-danger" in response.content.decode()


def test_the_log_pages_by_50(admin_client: Client, tenant):
    for minute in range(55):
        journal_entry(tenant, at(0).replace(minute=minute), call_id=f"c{minute}")

    first = admin_client.get(reverse("call-log"))
    second = admin_client.get(reverse("call-log"), {"page": "2"})

    assert len(rows(first)) == 50
    assert len(rows(second)) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_the_chart_counts_matched_and_unmatched_inbound_calls_per_day(admin_client: Client, log, tenant):
    # 23:30 in Amsterdam on the 19th is the 19th, though it is the 19th 22:30 UTC.
    journal_entry(tenant, at(2, 23).replace(minute=30), matched=False)

    response = admin_client.get(reverse("call-log"))

    days = chart_days(response)
    assert len(days) == 14
    assert days["2026-11-21"] == (1, 1)  # jan, unknown
    assert days["2026-11-20"] == (1, 0)  # zammad's newCall; its hangup is no call
    assert days["2026-11-19"] == (0, 1)  # the late call; the 400 is no call
    assert days["2026-11-08"] == (0, 0)
    assert "2026-11-01" not in days  # the call 20 days ago is before the chart's 14 days
    html = response.content.decode()
    assert '<strong data-testid="chart-matched">2</strong>' in html
    assert '<strong data-testid="chart-unmatched">2</strong>' in html
    assert "<script" not in html.split('data-testid="call-chart"')[1].split("</figure>")[0]


def test_the_chart_follows_the_date_filter_and_sender(admin_client: Client, log):
    response = admin_client.get(reverse("call-log"), {"date_from": "2026-11-01", "sender": "api"})

    days = chart_days(response)
    assert min(days) == "2026-11-01"
    assert max(days) == "2026-11-14"
    assert days["2026-11-01"] == (0, 1)  # the old unmatched call
    response = admin_client.get(
        reverse("call-log"), {"date_from": "2026-11-19", "date_to": "2026-11-21", "sender": "zammad"}
    )
    assert chart_days(response) == {"2026-11-19": (0, 0), "2026-11-20": (1, 0), "2026-11-21": (0, 0)}


def test_an_entry_shows_the_request_and_the_exact_answer(admin_client: Client, tenant, api_key):
    synced_address_book(tenant)
    client = Client()
    answer = client.get(
        "/api/v1/match", {"caller_number": "020 123 4567"}, HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}"
    )
    entry = CallJournalEntry.objects.get()

    response = admin_client.get(reverse("call-log-entry", args=[entry.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "HTTP 200" in html
    assert "+31201234567" in html
    answer_block = re.search(r'data-testid="entry-answer">(.*?)</pre>', html, re.S)
    assert answer_block is not None
    assert json.loads(html_module.unescape(answer_block.group(1))) == answer.json()
    request_block = re.search(r'data-testid="entry-request">(.*?)</pre>', html, re.S)
    assert request_block is not None
    assert json.loads(html_module.unescape(request_block.group(1))) == {"caller_number": "020 123 4567"}


def test_another_tenants_entry_is_a_404(admin_client: Client, other_admin_client: Client, log):
    assert admin_client.get(reverse("call-log-entry", args=[log["globex"].pk])).status_code == 404
    assert other_admin_client.get(reverse("call-log-entry", args=[log["jan"].pk])).status_code == 404
    assert admin_client.get("/call-log/99999999999999999999999/").status_code == 404
    assert other_admin_client.get(reverse("call-log-entry", args=[log["globex"].pk])).status_code == 200


def test_the_pages_need_a_tenant_admin(client: Client, tenant, log):
    for url in (
        reverse("call-log"),
        reverse("call-log-entry", args=[log["jan"].pk]),
        reverse("match-quality"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    client.login(request=HttpRequest(), username="member", password=PASSWORD)
    assert client.get(reverse("call-log")).status_code == 403


def test_the_options_are_saved_per_tenant_and_audited(admin_client: Client, tenant, other_tenant):
    response = admin_client.post(
        reverse("call-log-options"), {"enabled": "on", "days_kept": "7", "mask_numbers": "on"}
    )

    assert response.status_code == 302
    options = CallJournalOptions.objects.get(tenant=tenant)
    assert (options.enabled, options.days_kept, options.mask_numbers) == (True, 7, True)
    assert not CallJournalOptions.objects.filter(tenant=other_tenant).exists()
    [row] = audit_rows(audit_entry_list(tenant=tenant, kind="call-log"))
    assert row.who == "admin"
    assert row.action == "created"
    assert not audit_entry_list(tenant=other_tenant, kind="call-log").exists()
    page = admin_client.get(reverse("call-log")).content.decode()
    assert "kept 7 days" in page

    admin_client.post(reverse("call-log-options"), {"days_kept": "7"})
    options.refresh_from_db()
    assert options.enabled is False


@pytest.mark.parametrize("days", ["0", "-1", "abc", "99999", ""])
def test_bad_options_are_a_400(admin_client: Client, tenant, days):
    response = admin_client.post(reverse("call-log-options"), {"enabled": "on", "days_kept": days})

    assert response.status_code == 400
    assert not CallJournalOptions.objects.filter(tenant=tenant).exists()


def test_the_match_quality_report(admin_client: Client, tenant, other_tenant):
    crm = synced_address_book(tenant)
    second = synced_address_book(tenant, name="Old CRM")
    script_create(
        tenant=tenant,
        integration=crm,
        name="Create contact",
        template="https://crm.example.com/new?phone=#(Caller number:e164)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    # Last 7 days: 3 calls, 2 matched by the CRM (one of them also by the old CRM);
    # days 8-30: 2 more calls, unmatched; older ones do not count.
    journal_entry(tenant, at(1), integration_ids=[crm.pk])
    journal_entry(
        tenant, at(2), integration_ids=[crm.pk, second.pk], match_count=3, caller_e164="+31205550000"
    )
    journal_entry(tenant, at(3), matched=False, caller_e164="+31699990000")
    journal_entry(tenant, at(10), matched=False, caller_e164="+31699990000")
    journal_entry(tenant, at(12), matched=False, caller_e164="+31301111111")
    journal_entry(tenant, at(40), matched=False, caller_e164="+31301111111")
    journal_entry(tenant, at(1), counts_as_call=False, matched=False, caller_e164="+31301111111")  # a 400
    journal_entry(other_tenant, at(1), matched=False, caller_e164="+3221234567")

    response = admin_client.get(reverse("match-quality"))

    assert response.status_code == 200
    html = response.content.decode()
    share_7 = html.split('data-testid="share-7"')[1].split("</div>\n    </div>")[0]
    assert "66.7 %" in share_7
    assert "2 of 3 inbound calls matched" in share_7
    share_30 = html.split('data-testid="share-30"')[1].split("</div>\n    </div>")[0]
    assert "40.0 %" in share_30
    assert "2 of 5 inbound calls matched" in share_30
    crm_row = html.split(f'data-integration="{crm.pk}"')[1].split("</tr>")[0]
    assert "66.7 %" in crm_row
    assert "(2/3)" in crm_row
    assert "(2/5)" in crm_row
    second_row = html.split(f'data-integration="{second.pk}"')[1].split("</tr>")[0]
    assert "(1/3)" in second_row
    assert "(1/5)" in second_row

    unmatched = re.findall(r'<tr data-testid="unmatched-caller">(.*?)</tr>', html, re.S)
    assert len(unmatched) == 2
    assert "+31699990000" in unmatched[0]
    assert ">2<" in unmatched[0]
    assert "https://crm.example.com/new?phone=%2B31699990000" in unmatched[0]
    assert "+31301111111" in unmatched[1]
    assert "+3221234567" not in html

    several = re.findall(r'<tr data-testid="several-match">(.*?)</tr>', html, re.S)
    assert len(several) == 1
    assert "+31205550000" in several[0]
    assert ">3<" in several[0]
    assert "Sales CRM, Old CRM" in several[0]


def test_masked_unmatched_callers_get_no_create_link(admin_client: Client, tenant):
    crm = synced_address_book(tenant)
    script_create(
        tenant=tenant,
        integration=crm,
        name="Create contact",
        template="https://crm.example.com/new?phone=#(Caller number)",
        applies=ScriptApplies.ON_NO_MATCH,
    )
    journal_entry(tenant, at(1), matched=False, caller_number="•••••0000", caller_e164="•••••0000")

    html = admin_client.get(reverse("match-quality")).content.decode()

    assert "•••••0000" in html
    assert "numbers are masked" in html
    assert "crm.example.com/new" not in html


def test_the_other_tenant_sees_only_its_own_quality(other_admin_client: Client, log):
    html = other_admin_client.get(reverse("match-quality")).content.decode()

    assert "1 of 1 inbound call matched" in html
    assert "06 9999" not in html
    assert "+31699990000" not in html


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-1",
        "page=999999999999999999999",
        "q=%ff%fe",
        "q=%2B31+20+123+4567",
        "date_from=0000-00-00",
        "date_to=9999-12-31",
        "date_from=0001-01-01",
        "date_from=9999-12-31",
        "sender=" + "x" * 500,
        "matched=yes&matched=no",
    ],
)
def test_odd_query_strings_never_give_a_500(admin_client: Client, log, query):
    response = admin_client.get(f"{reverse('call-log')}?{query}")

    assert response.status_code in (200, 400)


def test_an_ignored_call_says_so(admin_client: Client, tenant):
    entry = journal_entry(
        tenant,
        at(0),
        matched=False,
        counts_as_call=False,
        answer={"call": {}, "matches": [], "actions": [], "lookups": [], "ignored": True},
    )

    assert ">ignored</span>" in rows(admin_client.get(reverse("call-log")))[0]
    assert ">ignored</span>" in admin_client.get(reverse("call-log-entry", args=[entry.pk])).content.decode()


def test_support_sees_the_call_log_read_only_in_the_django_admin(log, settings):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("root", "", "s3cure-root-pass-2026")
    staff = Client()
    staff.force_login(user)
    base = f"/{settings.ADMIN_URL_PATH}integrations/calljournalentry/"

    listing = staff.get(base)
    assert listing.status_code == 200
    assert "06 9999 0000" in listing.content.decode()
    entry = log["jan"]
    assert staff.get(f"{base}{entry.pk}/change/").status_code == 200  # a read-only view
    staff.post(f"{base}{entry.pk}/change/", {"caller_number": "changed"})
    entry.refresh_from_db()
    assert entry.caller_number == "020 123 4567"
    assert staff.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CallJournalEntry.objects.filter(pk=entry.pk).exists()
