"""PBX events in the call log and against the real ignore list (issue 9 items 3, 4 and 5 together).

The format tests (tests/test_pbx_events.py) record `journal_record`'s arguments; here the real call
log and the real ignore list are used: what a PBX sent lands in the log with the answer it got, and
a caller the ignore list rejects is refused in each format's own words.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client

from integrations.ignore_list import ignored_number_add
from integrations.models import CallJournalEntry
from integrations.pbx.models import PbxSender
from integrations.pbx.services import pbx_sender_create
from tests.test_pbx_events import FORM, address_book, post  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def answer_of(entry: CallJournalEntry) -> dict[str, Any]:
    """What the log kept of the answer: `{"match": <the match>, "sent": <what the PBX got>}`."""
    assert isinstance(entry.answer, dict)
    return entry.answer


@pytest.fixture
def zammad(tenant) -> PbxSender:
    return pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad PBX")


def test_a_zammad_new_call_is_in_the_call_log_with_the_match_and_what_zammad_got(
    tenant,
    zammad,
    address_book,  # noqa: F811
):
    body = "event=newCall&from=31201234567&to=31207654321&direction=in&callId=c-1&user[]=Alice"

    response = post(zammad, body, FORM)

    assert response.status_code == 200
    [entry] = CallJournalEntry.objects.filter(tenant=tenant)
    assert entry.sender == "zammad:Zammad PBX"
    assert entry.event == "newCall"
    assert entry.call_id == "c-1"
    assert entry.caller_e164 == "+31201234567"
    assert entry.matched
    assert entry.match_count == 1
    assert entry.counts_as_call
    assert answer_of(entry)["sent"] == "{}"
    assert answer_of(entry)["match"]["matches"][0]["notification"]["title"] == "Jan Jansen"


def test_a_hangup_is_logged_but_is_not_a_call_of_the_chart(tenant, zammad, address_book):  # noqa: F811
    post(zammad, "event=hangup&from=31201234567&to=3120&direction=in&callId=c-2&cause=normalClearing", FORM)

    [entry] = CallJournalEntry.objects.filter(tenant=tenant)
    assert entry.event == "hangup"
    assert not entry.counts_as_call


def test_another_tenants_pbx_events_stay_out_of_this_tenants_log(tenant, other_tenant, address_book):  # noqa: F811
    theirs = pbx_sender_create(tenant=other_tenant, format_slug="zammad", name="Theirs")

    post(theirs, "event=newCall&from=31201234567&to=3120&direction=in&callId=c-3", FORM)

    assert not CallJournalEntry.objects.filter(tenant=tenant).exists()
    assert CallJournalEntry.objects.filter(tenant=other_tenant).count() == 1
    response = Client().get("/call-log/")  # signed out: no log at all
    assert response.status_code in (302, 403)


def test_zammad_rejects_a_caller_on_the_real_ignore_list_and_the_log_says_ignored(
    tenant,
    zammad,
    address_book,  # noqa: F811
):
    ignored_number_add(tenant=tenant, number="+31 20 123 4567", action="reject", note="robocaller")

    response = post(zammad, "event=newCall&from=31201234567&to=3120&direction=in&callId=c-4", FORM)

    assert response.json() == {"action": "reject", "reason": "busy"}
    [entry] = CallJournalEntry.objects.filter(tenant=tenant)
    assert answer_of(entry)["match"]["ignored"] is True
    assert not entry.matched
    assert not entry.counts_as_call


def test_a_prefix_ignored_without_reject_is_acknowledged_without_a_notification(tenant, zammad, address_book):  # noqa: F811
    ignored_number_add(tenant=tenant, number="+3120", kind="prefix", action="ignore")

    response = post(zammad, "event=newCall&from=31201234567&to=3120&direction=in&callId=c-5", FORM)

    assert response.json() == {}
    [entry] = CallJournalEntry.objects.filter(tenant=tenant)
    assert answer_of(entry)["match"]["matches"] == []


def test_sipgate_rejects_a_caller_on_the_real_ignore_list_with_its_xml(tenant, settings, address_book):  # noqa: F811
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.PBX_SIPGATE_PUBLIC_KEY = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sender = pbx_sender_create(tenant=tenant, format_slug="sipgate", name="sipgate")
    ignored_number_add(tenant=tenant, number="+31201234567", action="reject")
    body = "event=newCall&from=31201234567&to=4915791234567&direction=in&callId=s-1&user[]=Alice"
    signature = base64.b64encode(key.sign(body.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    response = post(sender, body, FORM, HTTP_X_SIPGATE_SIGNATURE=signature)

    assert response.status_code == 200
    assert "<Reject" in response.content.decode()
    [entry] = CallJournalEntry.objects.filter(tenant=tenant)
    assert "<Reject" in answer_of(entry)["sent"]
