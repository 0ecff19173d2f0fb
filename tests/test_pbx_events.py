"""PBX event formats (issue 9 item 4): each format's documented payloads, signatures and answers.

Payloads are written as each sender's documentation shows them (Zammad's generic CTI docs,
Placetel's call-control-notify-api README, sipgate.io's README, seed 004 for Anywhere365, the
CloudCTI call-state fields of peers.md). Every refusal is a clear 4xx, never a 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations import journal as call_journal
from integrations.ignore_list import ignored_number_add
from integrations.models import IgnoreAction, Integration
from integrations.pbx.base import country_code_first
from integrations.pbx.models import PbxSender
from integrations.pbx.placetel import placetel_signature
from integrations.pbx.services import pbx_sender_create, pbx_sender_rotate, pbx_sender_set_enabled
from integrations.pbx.sipgate import sipgate_signature_valid
from integrations.services import integration_create
from integrations.sync import phone_cache_sync
from tests.carddav_double import CardDavDouble, vcard

FORM = "application/x-www-form-urlencoded"


def _synced(tenant, name: str, cards: dict[str, str]) -> Integration:
    double = CardDavDouble(cards)
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        settings_values=double.settings(),
        notification_fields=["Company"],
        start_sync=False,
    )
    result = phone_cache_sync(
        integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
    )
    assert result.status == "ok"
    return integration


@pytest.fixture
def address_book(tenant) -> Integration:
    # The callers of the documentation's examples, stored as people write them.
    return _synced(
        tenant,
        "Sales CRM",
        {
            "berlin.vcf": vcard("berlin-1", "Berta Berlin", "work:+49 30 5557 1600", org="Berlin GmbH"),
            "koeln.vcf": vcard("koeln-1", "Karl Köln", "work:0049 221 29191999", org="Köln AG"),
            "duesseldorf.vcf": vcard("dus-1", "Dora Düsseldorf", "work:+49 (0)211 1234567"),
            "jan.vcf": vcard("jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV"),
        },
    )


def url(sender: PbxSender) -> str:
    return f"/pbx/{sender.format}/{sender.token}/"


def post(sender_or_url: PbxSender | str, body: bytes | str, content_type: str, **headers: Any) -> Any:
    target = url(sender_or_url) if isinstance(sender_or_url, PbxSender) else sender_or_url
    data = body.encode() if isinstance(body, str) else body
    return Client().generic("POST", target, data, content_type=content_type, **headers)


def match_titles(answer: dict[str, Any]) -> list[str]:
    """The match titles of a match answer, or of the match a journaled PBX answer was built from
    (`{"match": …, "sent": …}`)."""
    answer = answer.get("match", answer)
    return [m["notification"]["title"] for m in answer["matches"]]


@pytest.fixture
def journal(monkeypatch) -> list[dict[str, Any]]:
    """Records each `journal_record` call the PBX events make (the call log's own tests cover the rest)."""
    calls: list[dict[str, Any]] = []

    def journal_record(**kwargs: Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(call_journal, "journal_record", journal_record)
    return calls


# --- Zammad generic CTI -------------------------------------------------------------------------


@pytest.fixture
def zammad(tenant) -> PbxSender:
    return pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad PBX")


def test_zammad_new_call_as_the_docs_curl_sends_it_is_matched_and_answered_with_an_empty_object(
    zammad, address_book, journal
):
    # docs.zammad.org, "newCall" curl example (form data, user[] per user, numbers without "+").
    body = "event=newCall&from=493055571600&to=491711234567890&direction=in&callId=4&user[]=Alice&user[]=Bob"
    response = post(zammad, body, FORM)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    [entry] = journal
    assert entry["event"] == "newCall"
    assert entry["call_id"] == "4"
    assert entry["caller_number"] == "+493055571600"
    assert match_titles(entry["answer"]) == ["Berta Berlin"]
    assert entry["answer"]["match"]["call"]["device_name"] == "Alice, Bob"
    assert entry["status_code"] == 200
    assert entry["sender"] == "zammad:Zammad PBX"


def test_zammad_json_events_newcall_answer_hangup_are_all_acknowledged(zammad, address_book, journal):
    call_id = "f4ebd2be-7b9a-4d58-94a9-8d7e7fd45e1b"
    events = [
        {
            "event": "newCall",
            "from": "02214710334",
            "to": "493023125741",
            "direction": "in",
            "callId": call_id,
            "user": ["Christopher Miller"],
            "queue": "helpdesk",
        },
        {
            "event": "answer",
            "from": "02214710334",
            "to": "493023125741",
            "direction": "in",
            "callId": call_id,
            "user": ["Christopher Miller"],
            "answeringNumber": "jdoe",
        },
        {
            "event": "hangup",
            "from": "02214710334",
            "to": "493023125741",
            "direction": "in",
            "callId": call_id,
            "cause": "normalClearing",
            "answeringNumber": "jdoe",
        },
    ]
    for payload in events:
        response = post(zammad, json.dumps(payload), "application/json")
        assert response.status_code == 200, response.content
        assert response.json() == {}
    assert [e["event"] for e in journal] == ["newCall", "answer", "hangup"]
    assert journal[0]["answer"] is not None
    assert journal[0]["answer"]["match"]["call"]["ddi_name"] == "helpdesk"
    assert journal[1]["answer"] == {"match": None, "sent": "{}"}
    assert journal[2]["answer"] == {"match": None, "sent": "{}"}


def test_zammad_rejects_a_caller_the_ignore_list_rejects(zammad):
    ignored_number_add(tenant=zammad.tenant, number="+493055571600", action=IgnoreAction.REJECT)
    body = "event=newCall&from=493055571600&to=491711234567890&direction=in&callId=5&user[]=Alice"

    response = post(zammad, body, FORM)

    assert response.status_code == 200
    assert response.json() == {"action": "reject", "reason": "busy"}


def test_zammad_ignored_without_reject_is_an_empty_object(zammad):
    ignored_number_add(tenant=zammad.tenant, number="+493055571600", action=IgnoreAction.IGNORE)
    response = post(zammad, "event=newCall&from=493055571600&to=4930&direction=in&callId=6", FORM)
    assert response.json() == {}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("event=ringing&from=493055571600&to=4930&direction=in&callId=1", "Unknown event ringing"),
        ("event=newCall&from=493055571600&to=4930&direction=sideways&callId=1", "Invalid direction"),
        ("event=newCall&from=493055571600&to=4930&direction=in", "callId is required"),
        ("event=newCall&from=not+a+number&to=4930&direction=in&callId=1", "caller_number"),
        ("event=newCall&event=hangup&from=4930&direction=in&callId=1", "more than once"),
    ],
)
def test_zammad_errors_are_422_with_an_error_message_as_zammad_answers(zammad, body, words):
    response = post(zammad, body, FORM)
    assert response.status_code == 422
    assert words in response.json()["error"]


def test_zammad_unknown_token_is_401_and_a_disabled_sender_422_like_zammads_controller(tenant, zammad):
    response = post(f"/pbx/zammad/{'x' * 43}/", "event=newCall", FORM)
    assert response.status_code == 401
    assert "Unknown PBX URL" in response.json()["error"]

    pbx_sender_set_enabled(tenant=tenant, sender_id=zammad.pk, enabled=False)
    response = post(zammad, "event=newCall&from=4930&direction=in&callId=1", FORM)
    assert response.status_code == 422
    assert "disabled" in response.json()["error"]


# --- Placetel ------------------------------------------------------------------------------------


@pytest.fixture
def placetel(tenant) -> PbxSender:
    tenant.country = "DE"  # Placetel's numbers are German national numbers
    tenant.save()
    return pbx_sender_create(tenant=tenant, format_slug="placetel", name="Placetel")


def signed_post(sender: PbxSender, body: str, *, secret: str | None = None) -> Any:
    signature = placetel_signature(secret if secret is not None else sender.secret, body.encode())
    return post(sender, body, FORM, HTTP_X_PLACETEL_SIGNATURE=signature)


def test_the_placetel_signature_is_the_readmes_example_hex_hmac():
    # call-control-notify-api README, "Our POST request": secret 12345 and this payload.
    payload = (
        b"call_id=4a4cbb39578170aed9a2761a7bec8c7e704a541f52291ef603d6f5f152980c3c"
        b"&event=CallAccepted&from=0123456789&to=0987654321"
    )
    assert placetel_signature("12345", payload) == (
        "c4f823c5b8806432fe2b83b1fc2ee714422e0cdfb4b5129152a7d0bbcd7792d0"
    )


def test_placetel_incoming_call_signed_with_the_secret_is_matched_and_answered_in_xml(
    placetel, address_book, journal
):
    body = urlencode(
        {
            "event": "IncomingCall",
            "from": "022129191999",
            "to": "022129191999",
            "call_id": "f4591ba315d81671d7a06c2a3b4f963dafd119de39cb26edd8a6476676b2f447",
        }
    )
    response = signed_post(placetel, body)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>\n'
    assert match_titles(journal[0]["answer"]) == ["Karl Köln"]
    assert journal[0]["answer"]["match"]["call"]["direction"] == "in"


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "OutgoingCall", "from": "777abcdefg@fpbx.de", "to": "022129191999", "direction": "out"},
        {
            "event": "CallAccepted",
            "from": "022129191999",
            "to": "022129191999",
            "peer": "7777abcdefg@fpbx.de",
            "direction": "in",
        },
        {
            "event": "HungUp",
            "from": "022129191999",
            "to": "022129191999",
            "type": "accepted",
            "duration": "42",
            "direction": "in",
        },
    ],
)
def test_placetel_other_events_are_acknowledged_without_a_match(placetel, address_book, journal, fields):
    body = urlencode(
        {**fields, "call_id": "f4591ba315d81671d7a06c2a3b4f963dafd119de39cb26edd8a6476676b2f447"}
    )
    response = signed_post(placetel, body)
    assert response.status_code == 200
    assert b"<Response/>" in response.content
    assert journal[0]["answer"]["match"] is None
    assert journal[0]["event"] == fields["event"]


def test_placetel_rejects_a_caller_the_ignore_list_rejects(placetel):
    ignored_number_add(tenant=placetel.tenant, number="+4922129191999", action=IgnoreAction.REJECT)
    response = signed_post(placetel, "event=IncomingCall&from=022129191999&to=0221&call_id=ab12")
    assert response.status_code == 200
    assert b'<Response><Reject reason="busy"/></Response>' in response.content


@pytest.mark.parametrize(
    ("signature", "words"),
    [
        (None, "header is missing"),
        ("0" * 64, "does not match"),
        ("not hex at all \u00e9", "does not match"),
    ],
)
def test_placetel_a_missing_or_bad_signature_is_a_403_in_xml(placetel, signature, words):
    headers = {} if signature is None else {"HTTP_X_PLACETEL_SIGNATURE": signature}
    response = post(placetel, "event=IncomingCall&from=022129191999&to=0221&call_id=ab12", FORM, **headers)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/xml")
    assert b"<Error message=" in response.content
    assert words.encode() in response.content


def test_placetel_a_body_altered_after_signing_is_refused(placetel):
    body = "event=IncomingCall&from=022129191999&to=0221&call_id=ab12"
    signature = placetel_signature(placetel.secret, body.encode())
    altered = body.replace("022129191999", "022129191998")
    response = post(placetel, altered, FORM, HTTP_X_PLACETEL_SIGNATURE=signature)
    assert response.status_code == 403


def test_placetel_another_tenants_secret_is_refused(placetel, other_tenant):
    other = pbx_sender_create(tenant=other_tenant, format_slug="placetel", name="Theirs")
    response = signed_post(
        placetel, "event=IncomingCall&from=022129191999&to=0221&call_id=ab12", secret=other.secret
    )
    assert response.status_code == 403


def test_placetel_a_replayed_event_is_a_409_until_the_window_has_passed(placetel, settings):
    settings.PBX_REPLAY_WINDOW_SECONDS = 600
    body = "event=IncomingCall&from=022129191999&to=0221&call_id=ab12"
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC), tick=False) as traveller:
        assert signed_post(placetel, body).status_code == 200
        replay = signed_post(placetel, body)
        assert replay.status_code == 409
        assert b"already received" in replay.content
        # Another event of the same call is no replay.
        assert signed_post(placetel, body.replace("IncomingCall", "HungUp")).status_code == 200
        traveller.shift(601)
        assert signed_post(placetel, body).status_code == 200


def test_placetel_form_body_only(placetel):
    body = json.dumps({"event": "IncomingCall", "from": "022129191999", "call_id": "ab12"})
    signature = placetel_signature(placetel.secret, body.encode())
    response = post(placetel, body, "application/json", HTTP_X_PLACETEL_SIGNATURE=signature)
    assert response.status_code == 415
    assert b"application/x-www-form-urlencoded" in response.content


def test_placetel_unknown_event_is_a_422(placetel):
    response = signed_post(placetel, "event=CallParked&from=022129191999&call_id=ab12")
    assert response.status_code == 422
    assert b"Unknown event CallParked" in response.content


# --- sipgate.io ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sipgate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sipgate(tenant, settings, sipgate_key) -> PbxSender:
    pem = sipgate_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.PBX_SIPGATE_PUBLIC_KEY = pem.decode()
    return pbx_sender_create(tenant=tenant, format_slug="sipgate", name="sipgate")


def sipgate_post(sender: PbxSender, body: str, key: rsa.RSAPrivateKey) -> Any:
    signature = base64.b64encode(key.sign(body.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    return post(sender, body, FORM, HTTP_X_SIPGATE_SIGNATURE=signature)


def test_sipgate_new_call_as_the_readme_shows_it_is_matched_and_answered_with_xml(
    sipgate, sipgate_key, address_book, journal
):
    # sipgate.io README, "New call" curl example, plus the optional fields the push API adds.
    body = (
        "event=newCall&from=492111234567&to=4915791234567&direction=in&callId=123456"
        "&user[]=Alice&user[]=Bob&userId[]=w0&fullUserId[]=1234567w0&origCallId=123456&xcid=abc"
    )
    response = sipgate_post(sipgate, body, sipgate_key)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>\n'
    assert match_titles(journal[0]["answer"]) == ["Dora Düsseldorf"]


def test_sipgate_answer_and_hangup_are_acknowledged(sipgate, sipgate_key, journal):
    answer = (
        "event=answer&callId=123456&user=Alice&from=492111234567&to=4915791234567&direction=in"
        "&answeringNumber=21199999999"
    )
    hangup = (
        "event=hangup&cause=normalClearing&callId=123456&from=492111234567&to=4915791234567"
        "&direction=in&answeringNumber=4921199999999"
    )
    for body in (answer, hangup):
        response = sipgate_post(sipgate, body, sipgate_key)
        assert response.status_code == 200, response.content
        assert b"<Response/>" in response.content
    assert [e["answer"]["match"] for e in journal] == [None, None]


def test_sipgate_rejects_a_caller_the_ignore_list_rejects(sipgate, sipgate_key):
    ignored_number_add(tenant=sipgate.tenant, number="+492111234567", action=IgnoreAction.REJECT)
    body = "event=newCall&from=492111234567&to=4915791234567&direction=in&callId=7&user[]=Alice"
    response = sipgate_post(sipgate, body, sipgate_key)
    assert response.status_code == 200
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Reject reason="busy"/></Response>\n'
    )


def test_sipgate_a_signature_by_another_key_or_none_is_a_403(sipgate):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = "event=newCall&from=492111234567&to=4915791234567&direction=in&callId=8"
    assert sipgate_post(sipgate, body, stranger).status_code == 403
    assert post(sipgate, body, FORM).status_code == 403
    assert post(sipgate, body, FORM, HTTP_X_SIPGATE_SIGNATURE="%%% not base64").status_code == 403


def test_sipgate_a_replayed_event_is_a_409(sipgate, sipgate_key):
    body = "event=newCall&from=492111234567&to=4915791234567&direction=in&callId=9"
    assert sipgate_post(sipgate, body, sipgate_key).status_code == 200
    assert sipgate_post(sipgate, body, sipgate_key).status_code == 409


def test_sipgates_published_key_is_the_default_and_refuses_our_signatures(settings, sipgate_key):
    settings.PBX_SIPGATE_PUBLIC_KEY = ""
    body = b"event=newCall&from=492111234567"
    signature = base64.b64encode(sipgate_key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert sipgate_signature_valid(signature, body) is False


# --- Anywhere365 CTI Broker ----------------------------------------------------------------------


@pytest.fixture
def anywhere(tenant) -> PbxSender:
    return pbx_sender_create(tenant=tenant, format_slug="anywhere365", name="Anywhere365")


def anywhere_event(event_type: int, **extra: Any) -> str:
    payload = {
        "SubscriptionId": "296854af-2ba7-45d0-b460-085dc1843b3d",
        "SessionType": 0,
        "ImAddress": "sip:agentname@domain.com",
        "eventType": event_type,
        "callId": "5b0c7c3e-5f3c-4a56-9f1a-0d7f3d1d2a11",
        "ani": "+31201234567",
        **extra,
    }
    return json.dumps(payload)


def test_anywhere365_hunting_of_an_inbound_call_gets_the_match(anywhere, address_book):
    response = post(anywhere, anywhere_event(3), "application/json")
    assert response.status_code == 200
    answer = response.json()
    assert match_titles(answer) == ["Jan Jansen"]
    assert answer["call"]["device_name"] == "sip:agentname@domain.com"
    assert answer["call"]["direction"] == "in"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "LoggedIn"),
        (1, "LoggedOff"),
        (4, "Connected"),
        (5, "Disconnected"),
        (6, "OnHold"),
        (7, "Retrieve"),
    ],
)
def test_anywhere365_other_events_are_acknowledged(anywhere, code, name):
    extra = {"callId": ""} if code == 0 else {}
    response = post(anywhere, anywhere_event(code, **extra), "application/json")
    assert response.status_code == 200
    assert response.json() == {"accepted": True, "event": name}


def test_anywhere365_an_outbound_hunting_and_a_tel_uri_ani(anywhere, address_book):
    assert post(anywhere, anywhere_event(3, SessionType=1), "application/json").json() == {
        "accepted": True,
        "event": "Hunting",
    }
    answer = post(anywhere, anywhere_event(3, ani="tel:+31201234567"), "application/json").json()
    assert match_titles(answer) == ["Jan Jansen"]


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        (anywhere_event(2), 422, "Unknown eventType 2"),
        (anywhere_event(9), 422, "Unknown eventType 9"),
        (anywhere_event(3, SessionType=5), 400, "SessionType"),
        (anywhere_event(3, ani=None), 400, "ani is required"),
        (anywhere_event(4, ani=None), 400, "not null"),
        (anywhere_event(3, callId=["a", "b"]), 400, "not a list"),
        ("[1, 2]", 400, "JSON object"),
    ],
)
def test_anywhere365_bad_events_are_clear_4xx(anywhere, payload, status, words):
    response = post(anywhere, payload, "application/json")
    assert response.status_code == status
    assert words in response.json()["detail"]


# --- CloudCTI ------------------------------------------------------------------------------------


@pytest.fixture
def cloudcti(tenant) -> PbxSender:
    return pbx_sender_create(tenant=tenant, format_slug="cloudcti", name="CloudCTI")


def cloudcti_event(**fields: Any) -> str:
    payload = {
        "CallId": "1f0e0c8e-3c1d-4a52-9d2e-7a1b7c9d0e11",
        "CallerNumber": "+31201234567",
        "CalledNumber": "+31207654321",
        "Direction": "inbound",
        "State": "ringing",
        "StartTime": "2026-12-01T09:15:00Z",
        "EndTime": None,
        "CallDuration": 0,
    }
    payload.update(fields)
    return json.dumps({k: v for k, v in payload.items() if v is not None})


def test_cloudcti_a_ringing_inbound_call_gets_the_match_json(cloudcti, address_book):
    response = post(cloudcti, cloudcti_event(), "application/json")
    assert response.status_code == 200
    answer = response.json()
    assert match_titles(answer) == ["Jan Jansen"]
    assert answer["call"]["ddi_number"] == "+31207654321"
    assert answer["call"]["start_time"] == "2026-12-01T10:15:00+01:00"  # the tenant's time zone


@pytest.mark.parametrize(
    "fields",
    [
        {"State": "answered"},
        {"State": "ended", "EndTime": "2026-12-01T09:17:00Z", "CallDuration": 120},
        {"State": "ringing", "Direction": "outbound"},
    ],
)
def test_cloudcti_other_states_are_acknowledged(cloudcti, fields):
    response = post(cloudcti, cloudcti_event(**fields), "application/json")
    assert response.status_code == 200
    assert response.json() == {"accepted": True, "event": fields["State"]}


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"State": "parked"}, 422, "Unknown State parked"),
        ({"Direction": "sideways"}, 400, "not inbound or outbound"),
        ({"StartTime": "yesterday"}, 400, "start_time"),
        ({"CallerNumber": "call me maybe"}, 400, "caller_number"),
        ({"CallerNumber": 31201234567}, 400, "one string"),
    ],
)
def test_cloudcti_bad_events_are_clear_4xx(cloudcti, fields, status, words):
    response = post(cloudcti, cloudcti_event(**fields), "application/json")
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_cloudcti_a_sender_matches_only_its_own_tenants_data(other_tenant, address_book):
    theirs = pbx_sender_create(tenant=other_tenant, format_slug="cloudcti", name="Theirs")
    answer = post(theirs, cloudcti_event(), "application/json").json()
    assert answer["matches"] == []


# --- every format ---------------------------------------------------------------------------------

FORMATS = ["zammad", "placetel", "sipgate", "anywhere365", "cloudcti"]


@pytest.fixture
def every_sender(tenant, settings, sipgate_key) -> dict[str, PbxSender]:
    pem = sipgate_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.PBX_SIPGATE_PUBLIC_KEY = pem.decode()
    return {slug: pbx_sender_create(tenant=tenant, format_slug=slug, name=slug) for slug in FORMATS}


@pytest.mark.parametrize("slug", FORMATS)
def test_an_unknown_token_a_rotated_one_and_a_deleted_sender_are_refused(tenant, every_sender, slug):
    sender = every_sender[slug]
    old_url = url(sender)
    unknown = post(f"/pbx/{slug}/{'A' * 43}/", "{}", "application/json")
    assert unknown.status_code == (401 if slug == "zammad" else 404)
    assert b"Unknown PBX URL" in unknown.content

    pbx_sender_rotate(tenant=tenant, sender_id=sender.pk)
    assert post(old_url, "{}", "application/json").status_code == unknown.status_code
    # A token is only valid under its own format's URL.
    other_format = "cloudcti" if slug != "cloudcti" else "zammad"
    sender.refresh_from_db()
    wrong = post(f"/pbx/{other_format}/{sender.token}/", "{}", "application/json")
    assert wrong.status_code in (401, 404)


@pytest.mark.parametrize("slug", FORMATS)
def test_a_disabled_sender_is_refused(tenant, every_sender, slug):
    sender = every_sender[slug]
    pbx_sender_set_enabled(tenant=tenant, sender_id=sender.pk, enabled=False)
    response = post(sender, "{}", "application/json")
    assert response.status_code == (422 if slug == "zammad" else 403)
    assert b"disabled" in response.content


@pytest.mark.parametrize("slug", FORMATS)
def test_get_is_a_405_and_an_unknown_format_a_404(every_sender, slug):
    response = Client().get(url(every_sender[slug]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert Client().post(f"/pbx/asterisk/{every_sender[slug].token}/").status_code == 404


def _garbage() -> list[tuple[bytes, str]]:
    deep = "[" * 5000 + "]" * 5000
    return [
        (b"", FORM),
        (b"", "application/json"),
        (b"\xff\xfe\x00garbage", FORM),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"event=%ff%fe&from=1", FORM),
        (b"%ff=1", FORM),
        ("event=newCall&from=\\ud800&callId=\u0000".encode(), FORM),
        (b"event=newCall&from=%ED%A0%80&callId=1&direction=in", FORM),  # a lone surrogate, CESU-8
        (b"event=newCall&from=%00&callId=1&direction=in", FORM),
        (
            b'{"event": "newCall", "from": "\\ud800", "callId": "1", "direction": "in", "eventType": 3,'
            b' "State": "ringing", "Direction": "inbound", "CallId": "1", "CallerNumber": "\\ud800",'
            b' "ani": "\\udfff", "SessionType": 0}',
            "application/json",
        ),
        (
            b'{"event": {"nested": {"deeper": [1, 2, {"x": null}]}}, "State": [], "eventType": {}}',
            "application/json",
        ),
        (deep.encode(), "application/json"),
        (b'{"a": 1, "a": 2}', "application/json"),
        (b"NaN", "application/json"),
        (b"<xml/>", "application/xml"),
        (b"event=newCall", "text/plain"),
        (b"event=newCall", "multipart/form-data; boundary=x"),
        (b"event=newCall", ""),
        ("&".join(f"f{i}=1" for i in range(500)).encode(), FORM),
        (("event=newCall&callId=" + "9" * 5000).encode(), FORM),
        (
            json.dumps(
                {"CallId": "1", "State": "ringing", "Direction": "inbound", "CallerNumber": "1" * 300}
            ).encode(),
            "application/json",
        ),
        (b"x" * (70 * 1024), FORM),
        (b"x" * (70 * 1024), "application/json"),
    ]


@pytest.mark.parametrize("slug", FORMATS)
def test_garbage_of_any_shape_is_a_clear_4xx_never_a_500(every_sender, slug, sipgate_key):
    sender = every_sender[slug]
    for body, content_type in _garbage():
        headers: dict[str, str] = {}
        if slug == "placetel":
            headers["HTTP_X_PLACETEL_SIGNATURE"] = placetel_signature(sender.secret, body)
        if slug == "sipgate":
            signature = sipgate_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
            headers["HTTP_X_SIPGATE_SIGNATURE"] = base64.b64encode(signature).decode()
        response = post(sender, body, content_type, **headers)
        assert 400 <= response.status_code < 500, (body[:80], content_type, response.status_code)
        assert response.content, (body[:80], content_type)
        if len(body) > 64 * 1024:
            assert response.status_code == 413


def test_a_body_over_the_limit_is_a_413_before_the_signature_is_checked(every_sender):
    response = post(every_sender["placetel"], b"x" * (70 * 1024), FORM)
    assert response.status_code == 413


def test_a_failing_journal_never_fails_the_event(zammad, monkeypatch):
    def journal_record(**kwargs: Any) -> None:
        raise RuntimeError("journal down")

    monkeypatch.setattr(call_journal, "journal_record", journal_record)
    response = post(zammad, "event=newCall&from=493055571600&to=4930&direction=in&callId=1", FORM)
    assert response.status_code == 200


def test_refused_events_are_journaled_with_their_status(zammad, journal):
    post(zammad, "event=ringing&from=493055571600&direction=in&callId=1", FORM)
    assert journal[0]["status_code"] == 422
    assert journal[0]["answer"]["match"] is None


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("493055571600", "+493055571600"),
        ("4915791234567", "+4915791234567"),
        ("02214710334", "02214710334"),
        ("anonymous", "anonymous"),
        ("42", "42"),
        ("201", "201"),
        ("+493055571600", "+493055571600"),
        ("9999999", "9999999"),
    ],
)
def test_numbers_with_the_country_code_first_get_a_plus(number, expected):
    assert country_code_first(number) == expected


def test_the_secret_is_stored_encrypted(tenant):
    from django.db import connection

    sender = pbx_sender_create(tenant=tenant, format_slug="placetel", name="Enc")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_pbxsender WHERE id = %s", [sender.pk])
        [stored] = cursor.fetchone()
    assert sender.secret
    assert sender.secret not in str(stored)
    assert pbx_sender_create(tenant=tenant, format_slug="zammad", name="No secret").secrets is None


def test_secrets_reencrypt_also_rotates_pbx_sender_secrets(tenant, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    sender = pbx_sender_create(tenant=tenant, format_slug="placetel", name="Placetel")
    secret = sender.secret
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]

    out = StringIO()
    call_command("secrets_reencrypt", stdout=out)

    assert "of 1 PBX senders" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [key_b]  # the old key dropped
    sender.refresh_from_db()
    assert sender.secret == secret


def test_zammad_an_anonymous_caller_is_acknowledged_and_matches_nothing(zammad, address_book, journal):
    payload = {"event": "newCall", "from": "anonymous", "to": "493023125741", "direction": "in",
               "callId": "anon-1", "user": "Christopher Miller"}  # fmt: skip
    response = post(zammad, json.dumps(payload), "application/json")
    assert response.status_code == 200
    assert response.json() == {}
    assert journal[0]["answer"]["match"]["call"]["anonymous"] is True
    assert journal[0]["answer"]["match"]["matches"] == []
    assert journal[0]["answer"]["match"]["call"]["device_name"] == "Christopher Miller"


@pytest.mark.parametrize("pem", ["not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_a_broken_sipgate_key_setting_is_a_403_not_a_500(sipgate, sipgate_key, settings, pem):
    settings.PBX_SIPGATE_PUBLIC_KEY = pem
    response = sipgate_post(sipgate, "event=newCall&from=492111234567&direction=in&callId=1", sipgate_key)
    assert response.status_code == 403
    assert b"PBX_SIPGATE_PUBLIC_KEY" in response.content


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_FIELD_NAMES = st.sampled_from(
    ["event", "from", "to", "direction", "callId", "call_id", "user[]", "eventType", "SessionType", "ani",
     "State", "Direction", "CallId", "CallerNumber", "StartTime"]
) | st.text(max_size=10)  # fmt: skip


@pytest.mark.parametrize("slug", FORMATS)
@hypothesis_settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.dictionaries(_FIELD_NAMES, _JSON_VALUES, max_size=8),
    form=st.lists(st.tuples(_FIELD_NAMES, st.text(max_size=20)), max_size=8),
)
def test_any_json_or_form_payload_is_answered_without_a_500(every_sender, sipgate_key, slug, payload, form):
    sender = every_sender[slug]
    bodies = [
        (json.dumps(payload).encode(), "application/json"),
        (urlencode(form).encode(), FORM),
    ]
    for body, content_type in bodies:
        headers: dict[str, str] = {}
        if slug == "placetel":
            headers["HTTP_X_PLACETEL_SIGNATURE"] = placetel_signature(sender.secret, body)
        if slug == "sipgate":
            signature = sipgate_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
            headers["HTTP_X_SIPGATE_SIGNATURE"] = base64.b64encode(signature).decode()
        response = post(sender, body, content_type, **headers)
        assert response.status_code < 500
        assert response.status_code in (200, 400, 409, 415, 422), response.content
