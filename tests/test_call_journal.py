"""The call journal: every match request is logged (400s too), after the answer, masked on request,
purged per tenant, and never changes or breaks the answer."""

from __future__ import annotations

import datetime as dt
import json
import logging
from urllib.parse import quote

import phonenumbers
import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.signals import request_finished
from django.db import DatabaseError, close_old_connections
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations import journal
from integrations.ignore_list import ignored_number_add
from integrations.journal import (
    CallJournalMiddleware,
    call_journal_entry_get,
    call_journal_options_update,
    journal_record,
    mask_number,
)
from integrations.matching import call_from_params, match_call
from integrations.models import CallJournalEntry
from integrations.presets import ScriptApplies
from integrations.services import script_create
from integrations.tasks import purge_call_journal
from tests.call_journal_helpers import journal_entry, synced_address_book

URL = "/api/v1/match"
FIXED_START = "2026-11-21T10:15:00+01:00"


@pytest.fixture
def address_book(tenant):
    return synced_address_book(tenant)


@pytest.fixture
def google(tenant):
    return script_create(
        tenant=tenant,
        integration=None,
        name="Google",
        template="https://www.google.nl?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )


def get(key: str, **params: str):
    return Client().get(URL, params, HTTP_AUTHORIZATION=f"Api-Key {key}")


def test_a_match_request_is_logged_with_its_exact_answer_status_and_duration(api_key, address_book, google):
    response = get(api_key[1], caller_number="020-1234567", ddi_number="0207654321", call_id="c-1")

    assert response.status_code == 200
    [entry] = CallJournalEntry.objects.all()
    assert entry.tenant_id == api_key[0].tenant_id
    assert entry.sender == "api"
    assert entry.event == ""
    assert entry.call_id == "c-1"
    assert entry.caller_number == "020-1234567"
    assert entry.caller_e164 == "+31201234567"
    assert entry.called_number == "0207654321"
    assert entry.matched is True
    assert entry.match_count == 1
    assert entry.integration_ids == [address_book.pk]
    assert entry.counts_as_call is True
    assert entry.status_code == 200
    assert entry.duration_ms > 0
    assert entry.request == {"caller_number": "020-1234567", "ddi_number": "0207654321", "call_id": "c-1"}
    assert entry.answer == response.json()


def test_several_records_for_one_number_are_counted(api_key, address_book):
    get(api_key[1], caller_number="0205550000")

    [entry] = CallJournalEntry.objects.all()
    assert entry.matched is True
    assert entry.match_count == 2
    assert entry.integration_ids == [address_book.pk]


def test_a_400_is_logged_with_its_error_answer(api_key):
    response = get(api_key[1], caller_number="not a number!", direction="sideways")

    assert response.status_code == 400
    [entry] = CallJournalEntry.objects.all()
    assert entry.status_code == 400
    assert entry.answer == response.json()
    assert "direction" in entry.answer["errors"]
    assert entry.matched is False
    assert entry.counts_as_call is False
    assert entry.request == {"caller_number": "not a number!", "direction": "sideways"}


def test_a_body_that_is_not_json_is_logged_as_a_400_without_parameters(api_key):
    response = Client().post(
        URL, "{not json", content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}"
    )

    assert response.status_code == 400
    [entry] = CallJournalEntry.objects.all()
    assert entry.status_code == 400
    assert entry.request == {}
    assert entry.answer == response.json()


def test_texts_postgresql_cannot_store_are_kept_escaped(api_key):
    response = Client().post(
        URL,
        '{"caller_number": "0201234567", "caller_name": "\\ud800 x"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
    )

    assert response.status_code == 400
    [entry] = CallJournalEntry.objects.all()
    assert entry.request["caller_name"] == "\\ud800 x"
    json.dumps(entry.request).encode("utf-8")  # storable as UTF-8


def test_requests_without_a_valid_key_have_no_tenant_and_are_not_logged(tenant):
    assert Client().get(URL, {"caller_number": "0201234567"}).status_code == 401
    assert get("nope.nope", caller_number="0201234567").status_code == 401
    assert not CallJournalEntry.objects.exists()


def test_the_answer_is_the_same_with_the_log_on_and_off(api_key, address_book, google, settings):
    params = {"caller_number": "020 123 4567", "start_time": FIXED_START}
    logged = get(api_key[1], **params)
    settings.CALL_JOURNAL_ENABLED = False
    unlogged = get(api_key[1], **params)

    assert logged.content == unlogged.content
    assert CallJournalEntry.objects.count() == 1


def test_a_tenant_that_turned_its_log_off_is_not_logged(api_key, tenant):
    call_journal_options_update(tenant=tenant, enabled=False, days_kept=30, mask_numbers=False)

    assert get(api_key[1], caller_number="0201234567").status_code == 200
    assert not CallJournalEntry.objects.exists()


def test_the_entry_is_written_only_when_the_response_is_closed(tenant):
    # What a WSGI server does: build the response, send it, then close() it.
    def view(request: HttpRequest) -> HttpResponse:
        journal_record(
            tenant=tenant,
            sender="zammad",
            request_data={"from": "31201234567"},
            answer={},
            status_code=200,
            duration_ms=1.0,
            event="newCall",
            caller_number="31201234567",
        )
        return HttpResponse("{}", content_type="application/json")

    response = CallJournalMiddleware(view)(RequestFactory().post("/pbx/zammad"))

    assert isinstance(response, HttpResponse)
    assert response.content == b"{}"
    assert not CallJournalEntry.objects.exists()
    # As the test client does: closing ends the request, which would close the test's connection.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    [entry] = CallJournalEntry.objects.all()
    assert entry.sender == "zammad"
    assert entry.caller_number == "31201234567"


def test_a_failing_write_does_not_break_the_answer(api_key, address_book, monkeypatch, caplog):
    params = {"caller_number": "020 123 4567", "start_time": FIXED_START}
    expected = get(api_key[1], **params).content
    CallJournalEntry.objects.all().delete()

    def broken(*args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(journal, "_insert", broken)
    with caplog.at_level(logging.ERROR, logger="integrations.journal"):
        response = get(api_key[1], **params)

    assert response.status_code == 200
    assert response.content == expected
    assert "Could not write 1 call-log entries" in caplog.text
    assert not CallJournalEntry.objects.exists()


def test_a_failing_record_does_not_raise(tenant, monkeypatch, caplog):
    monkeypatch.setattr(journal, "_Pending", None)  # building the entry fails
    with caplog.at_level(logging.ERROR, logger="integrations.journal"):
        journal_record(
            tenant=tenant, sender="api", request_data={}, answer=None, status_code=200, duration_ms=1
        )
    assert "Could not record" in caplog.text


def test_masked_numbers_keep_only_the_last_digits_everywhere(api_key, tenant, address_book, google):
    call_journal_options_update(tenant=tenant, enabled=True, days_kept=30, mask_numbers=True)

    response = get(api_key[1], caller_number="020 123 4567", ddi_number="0207654321")

    assert response.json()["call"]["caller_number_e164"] == "+31201234567"  # the answer is not masked
    [entry] = CallJournalEntry.objects.all()
    assert entry.caller_number == "•••••4567"
    assert entry.caller_e164 == "•••••4567"
    assert entry.called_number == "0207654321"  # the tenant's own number
    stored = json.dumps([entry.request, entry.answer], ensure_ascii=False)
    for notation in ("201234567", "123 4567", "(0)20", "q=020"):
        assert notation not in stored
    answer = entry.answer
    assert isinstance(answer, dict)
    assert answer["call"]["caller_number"] == "•••••4567"
    assert answer["matches"][0]["record"]["phone"]["number"] == "•••••4567"
    assert answer["actions"][0]["url"] == "https://www.google.nl?q=•••••4567"
    assert entry.matched is True


def test_mask_number_leaves_extensions_and_words_alone():
    assert mask_number("+31 20 123 4567") == "•••••4567"
    assert mask_number("201") == "201"
    assert mask_number("anonymous") == "anonymous"


def test_a_pbx_event_recorded_outside_a_request_is_written_at_once(tenant, address_book):
    call = call_from_params(tenant=tenant, params={"caller_number": "+31201234567", "direction": "in"})
    answer = match_call(tenant=tenant, call=call)

    journal_record(
        tenant=tenant,
        sender="zammad",
        event="newCall",
        request_data={"from": "31201234567", "to": "31207654321", "direction": "in"},
        answer=answer,
        status_code=200,
        duration_ms=2.5,
        caller_number="31201234567",
        called_number="31207654321",
    )
    journal_record(
        tenant=tenant,
        sender="zammad",
        event="hangup",
        request_data={"from": "31201234567"},
        answer=None,
        status_code=200,
        duration_ms=0.5,
    )

    new_call, hangup = CallJournalEntry.objects.order_by("id")
    assert new_call.caller_e164 == "+31201234567"
    assert new_call.matched is True
    assert new_call.counts_as_call is True
    assert hangup.counts_as_call is False
    assert hangup.answer is None


def test_outbound_calls_do_not_count_as_calls(api_key, address_book):
    get(api_key[1], caller_number="0201234567", direction="out")

    [entry] = CallJournalEntry.objects.all()
    assert entry.direction == "out"
    assert entry.counts_as_call is False


def test_each_tenant_logs_only_its_own_requests(api_key, other_api_key, tenant, other_tenant):
    get(api_key[1], caller_number="0201234567")
    get(other_api_key[1], caller_number="02 123 45 67")

    mine = CallJournalEntry.objects.get(tenant=tenant)
    theirs = CallJournalEntry.objects.get(tenant=other_tenant)
    assert theirs.caller_e164 == "+3221234567"  # read in Belgium, the other tenant's country
    assert call_journal_entry_get(tenant=tenant, entry_id=mine.pk) == mine
    with pytest.raises(CallJournalEntry.DoesNotExist):
        call_journal_entry_get(tenant=tenant, entry_id=theirs.pk)


def test_the_purge_keeps_each_tenant_its_own_number_of_days(tenant, other_tenant, settings):
    settings.CALL_JOURNAL_DAYS = 30
    call_journal_options_update(tenant=other_tenant, enabled=True, days_kept=7, mask_numbers=False)
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        for tenant_ in (tenant, other_tenant):
            for days in (1, 6, 8, 29, 31):
                journal_entry(tenant_, now - dt.timedelta(days=days), call_id=f"{days}")

        assert purge_call_journal() == 1 + 3

    def kept(tenant_) -> list[str]:
        return sorted(CallJournalEntry.objects.filter(tenant=tenant_).values_list("call_id", flat=True))

    assert kept(tenant) == ["1", "29", "6", "8"]
    assert kept(other_tenant) == ["1", "6"]

    with time_machine.travel(now + dt.timedelta(days=2), tick=False):
        purge_call_journal()
    assert kept(tenant) == ["1", "6", "8"]
    assert kept(other_tenant) == ["1"]


def test_the_purge_runs_on_the_beat_schedule():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["purge-call-journal"]
    assert schedule["task"] == "integrations.purge_call_journal"
    assert schedule["schedule"] == float(django_settings.CALL_JOURNAL_PURGE_INTERVAL)


def test_a_body_too_large_and_a_wrong_content_type_are_logged(api_key, settings):
    big = Client().post(
        URL,
        json.dumps({"caller_number": "0" * (django_settings.API_MAX_BODY_BYTES + 10)}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
    )
    xml = Client().post(
        URL, "<call/>", content_type="application/xml", HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}"
    )

    assert (big.status_code, xml.status_code) == (413, 415)
    assert sorted(CallJournalEntry.objects.values_list("status_code", flat=True)) == [413, 415]
    assert not CallJournalEntry.objects.filter(counts_as_call=True).exists()


def test_internal_extensions_and_ignored_callers_are_not_counted_as_calls(api_key, tenant):
    assert get(api_key[1], caller_number="201").status_code == 200  # an internal extension
    assert get(api_key[1], caller_number="anonymous").status_code == 200  # withheld: a call, unmatched

    ignored_number_add(tenant=tenant, number="020 999 9999", note="spam")
    assert get(api_key[1], caller_number="0209999999").json()["ignored"] is True

    internal, anonymous, spam = CallJournalEntry.objects.order_by("id")
    assert internal.counts_as_call is False
    assert anonymous.counts_as_call is True
    assert anonymous.matched is False
    assert spam.counts_as_call is False


@given(
    national=st.integers(min_value=100_000_000, max_value=799_999_999),
    style=st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        ]
    ),
)
@hypothesis_settings(max_examples=60)
def test_every_notation_of_the_caller_number_is_masked(national: int, style: int):
    number = phonenumbers.parse(f"+31{national}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, style)
    masker = journal._NumberMasker(caller_number=written, e164=e164)

    masked = masker.json(
        {
            "caller_number": written,
            "url": f"https://x.example/?q={quote(e164)}",
            "search": f"https://x.example/?q={quote(written)}",
            "other": "2026-11-21",
        }
    )

    text = json.dumps(masked, ensure_ascii=False)
    assert str(national) not in text
    assert masker.caller(written).endswith(str(national)[-4:])
    assert masked["other"] == "2026-11-21"


def test_a_pbx_that_answers_its_own_format_logs_the_match_and_what_was_sent(tenant, address_book):
    call = call_from_params(tenant=tenant, params={"caller_number": "+31201234567"})
    match = match_call(tenant=tenant, call=call)
    sent = '<?xml version="1.0" encoding="UTF-8"?><Response onHangup="https://cti.example/h"/>'

    journal_record(
        tenant=tenant,
        sender="sipgate",
        event="newCall",
        request_data={"event": "newCall", "from": "4920112345", "to": "31201234567"},
        answer={"match": match, "sent": sent},
        status_code=200,
        duration_ms=4.0,
        caller_number="31201234567",
    )

    [entry] = CallJournalEntry.objects.all()
    assert entry.matched is True
    assert entry.integration_ids == [address_book.pk]
    assert entry.caller_e164 == "+31201234567"
    assert entry.counts_as_call is True
    assert entry.answer == {"match": json.loads(json.dumps(match)), "sent": sent}
