"""Dutch for why a number cannot be read, and for connector fragments (issue 8, item 8).

The test lookup and the overview's unreadable numbers speak the reader's language; the match API
answers the same numbers in English whatever Accept-Language the PBX sends; the LDAP and CardDAV
fragments inside a connector error are translated with their sentence.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from integrations.connectors.base import ConnectorError
from integrations.connectors.carddav import _check_batch, _DavResponse
from integrations.connectors.ldap import _result_error
from integrations.connectors.rest_json import REST_JSON
from integrations.models import UnreadableNumber
from integrations.phones import PhoneNumberError, normalize_phone, problem_text
from integrations.registry import get_preset
from integrations.services import integration_create, integration_sample_records, integration_settings_clean
from integrations.sync import phone_cache_sync
from integrations.texts import Text, translated
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.carddav_double import CardDavDouble, vcard
from tests.json_api_server import JsonApi, json_api_server, make_contacts
from tests.test_rest_json import settings_for

DUTCH = "nl-NL,nl;q=0.9,en;q=0.5"


def q(text: str) -> str:
    """`text` between the Dutch catalog's single quotation marks (U+2018, U+2019)."""
    return f"\u2018{text}\u2019"


SEND = "; send digits with optional + ( ) - . / and spaces, an extension, or anonymous for a withheld number"
STUUR = (
    "; stuur cijfers met eventueel + ( ) - . / en spaties, een toestelnummer, of anonymous voor een "
    "afgeschermd nummer"
)
# (caller number, the English reason the match API gives today, the Dutch reason)
BAD_NUMBERS = [
    (
        "abc",
        '"abc" contains characters that do not belong in a phone number' + SEND,
        q("abc") + " bevat tekens die niet in een telefoonnummer thuishoren" + STUUR,
    ),
    (
        "+31 12",
        '"+31 12" has the wrong number of digits for a phone number of its country',
        q("+31 12") + " heeft het verkeerde aantal cijfers voor een telefoonnummer van zijn land",
    ),
    (
        "jan@example.nl",
        '"jan@example.nl" contains characters that do not belong in a phone number' + SEND,
        q("jan@example.nl") + " bevat tekens die niet in een telefoonnummer thuishoren" + STUUR,
    ),
    (
        "tel:;ext=1",
        '"tel:;ext=1" is a tel: address without a phone number',
        q("tel:;ext=1") + " is een tel:-adres zonder telefoonnummer",
    ),
]


def _page_text(response: HttpResponseBase) -> str:
    assert isinstance(response, HttpResponse)
    return html.unescape(response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "english", "dutch"), BAD_NUMBERS)
def test_the_test_lookup_says_why_a_number_cannot_be_read_in_the_readers_language(
    tenant: Tenant, admin_client: Client, number: str, english: str, dutch: str
) -> None:
    url = reverse("test-lookup")

    nl = admin_client.get(url, {"caller_number": number}, HTTP_ACCEPT_LANGUAGE=DUTCH)
    en = admin_client.get(url, {"caller_number": number}, HTTP_ACCEPT_LANGUAGE="en")

    assert nl.status_code == en.status_code == 400
    assert dutch in _page_text(nl)
    assert english not in _page_text(nl)
    assert english in _page_text(en)
    assert dutch not in _page_text(en)


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "english", "dutch"), BAD_NUMBERS)
def test_the_match_api_says_why_a_number_cannot_be_read_in_english_to_a_dutch_pbx(
    tenant: Tenant, client: Client, number: str, english: str, dutch: str
) -> None:
    _api_key, key = api_key_create(tenant=tenant, name="PBX")

    response = client.get(
        reverse("api-match"),
        {"caller_number": number},
        HTTP_ACCEPT_LANGUAGE="nl",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )

    assert response.status_code == 400
    assert response.json() == {  # as before the messages had Dutch, byte for byte
        "detail": f"Bad call parameters: caller_number: {english}.",
        "errors": {"caller_number": english},
    }


@pytest.mark.django_db
def test_a_number_a_sync_could_not_read_is_listed_in_the_readers_language(
    tenant: Tenant, admin_client: Client
) -> None:
    double = CardDavDouble(
        {
            "jan.vcf": vcard("jan", "Jan Jansen", "work:020 123 4567", "cell:n.v.t."),
            "piet.vcf": vcard("piet", "Piet Pieters", "work:+31 12"),
        }
    )
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values=double.settings(),
        start_sync=False,
    )
    with translation.override(None):  # a Celery worker: no request, no language
        result = phone_cache_sync(
            integration_id=integration.pk, client_factory=lambda: httpx.Client(transport=double.transport())
        )
    assert result.status == "ok", result
    english = {
        '"n.v.t." contains characters that do not belong in a phone number',
        '"+31 12" has the wrong number of digits for a phone number of its country',
    }
    assert set(UnreadableNumber.objects.values_list("reason", flat=True)) == english  # stored in English
    overview = reverse("integration-overview", args=[integration.pk])

    nl = _page_text(admin_client.get(overview, HTTP_ACCEPT_LANGUAGE=DUTCH))
    en = _page_text(admin_client.get(overview, HTTP_ACCEPT_LANGUAGE="en"))

    assert q("n.v.t.") + " bevat tekens die niet in een telefoonnummer thuishoren" in nl
    assert q("+31 12") + " heeft het verkeerde aantal cijfers voor een telefoonnummer van zijn land" in nl
    assert not [sentence for sentence in english if sentence in nl]
    assert all(sentence in en for sentence in english)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "x" * 501,
        "12\x01",
        "abc",
        "+31 12",
        'a"b@c',
        "tel:;ext=1",
        "sip:alice@example.com",
        "tel:020;ext=a",
    ],
)
def test_every_reading_error_is_a_text_and_reads_back_from_its_english(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone(raw, country="NL")
    text = caught.value.text
    assert isinstance(text, Text)
    assert str(caught.value) == str(text)  # the English stays as it was

    with translation.override("nl"):
        dutch = text.translated()
        read_back = problem_text(str(caught.value))

    assert dutch != str(text)
    assert read_back == dutch


def test_a_stored_reason_that_is_no_reading_error_is_shown_as_it_is() -> None:
    with translation.override("nl"):
        assert (
            problem_text('"abc" contains characters that do not belo')
            == '"abc" contains characters that do not belo'
        )
        assert problem_text("") == ""


def test_the_ldap_servers_permanent_results_read_in_dutch() -> None:
    error = _result_error({"result": 50, "description": "insufficientAccessRights"}, what_failed="bind")
    message = error.message
    english = (
        "The LDAP server denied access: the bind DN has no permission (insufficient access rights) "
        "(LDAP result 50 insufficientAccessRights)."
    )

    assert error.permanent
    assert str(message) == english
    with translation.override("nl"):
        assert isinstance(message, Text)
        assert message.translated() == (
            "De LDAP-server weigerde de toegang: de bind-DN heeft geen rechten (insufficient access "
            "rights) (LDAP result 50 insufficientAccessRights)."
        )
        # Read back from what a sync stores beside the English.
        assert Text.from_json(message.to_json()).translated().startswith("De LDAP-server weigerde de toegang")


@pytest.mark.parametrize(("operation", "dutch"), [("bind", "bind"), ("search", "zoekopdracht")])
def test_the_ldap_operation_that_failed_reads_in_dutch(operation: str, dutch: str) -> None:
    source = (Path(settings.BASE_DIR) / "integrations/connectors/ldap.py").read_text(encoding="utf-8")
    assert f'what_failed=Text(gettext_noop("{operation}"))' in source  # as the connector passes it

    message = _result_error({"result": 80, "description": "other"}, what_failed=Text(operation)).message

    assert str(message) == f"The LDAP server could not complete the {operation} (LDAP result 80 other)."
    with translation.override("nl"):
        assert translated(message) == f"De LDAP-server kon de {dutch} niet voltooien (LDAP result 80 other)."


def test_a_carddav_cards_problem_reads_in_dutch() -> None:
    base = "https://dav.example.com/book/"
    entry = _DavResponse(
        fromstring(
            '<d:response xmlns:d="DAV:"><d:href>/book/jan.vcf</d:href>'
            "<d:propstat><d:prop><d:getetag>1</d:getetag></d:prop>"
            "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        )
    )
    requested = {f"/book/{name}.vcf": f"/book/{name}.vcf" for name in ("jan", *(f"x{i}" for i in range(6)))}

    with pytest.raises(ConnectorError) as caught:
        _check_batch([entry], requested=requested, url=base)

    message = caught.value.message
    assert str(message).startswith(
        "The CardDAV server did not deliver 7 of 7 cards in an addressbook-multiget: jan.vcf (no "
        "address-data), x0.vcf (not returned), x1.vcf (not returned), x2.vcf (not returned), "
        "x3.vcf (not returned) and 2 more."
    )
    with translation.override("nl"):
        assert isinstance(message, Text)
        assert message.translated().startswith(
            "De CardDAV-server leverde 7 van 7 kaarten in een addressbook-multiget niet: jan.vcf "
            "(geen address-data), x0.vcf (niet teruggegeven), x1.vcf (niet teruggegeven), x2.vcf "
            "(niet teruggegeven), x3.vcf (niet teruggegeven) en nog 2."
        )


def test_a_samples_unreadable_number_reads_in_the_readers_language(allow_private_addresses: None) -> None:
    contacts = make_contacts(2)
    contacts[0]["phones"] = [{"type": "work", "number": "n.v.t."}]
    with json_api_server(JsonApi(contacts)) as api:
        samples = integration_sample_records(
            preset=REST_JSON, settings_values=settings_for(api, "cursor"), limit=2, country="NL"
        )

    problem = samples[0].numbers[0].problem
    assert (samples[0].numbers[0].e164, str(problem)) == (
        "",
        '"n.v.t." contains characters that do not belong in a phone number',
    )
    with translation.override("nl"):  # the sample page renders it with {{ number.problem }}
        shown = Template("{{ problem }}").render(Context({"problem": problem}))
    assert html.unescape(shown) == q("n.v.t.") + " bevat tekens die niet in een telefoonnummer thuishoren"


def test_saving_an_ldap_url_that_is_not_ldap_says_so_in_the_readers_language() -> None:
    values = {"server_url": "https://directory.example.com", "base_dn": "dc=example,dc=com"}
    with translation.override("nl"), pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=get_preset("ldap"), values=values)

    assert caught.value.message_dict["server_url"][0].endswith(
        q("https://directory.example.com") + " is geen ldap://host[:poort]- of ldaps://host[:poort]-URL."
    )


def test_the_number_reading_still_works_without_django_settings() -> None:
    """bench/normalize_bench.py reads numbers with no DJANGO_SETTINGS_MODULE: the Texts need none."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "from integrations.phones import PhoneNumberError, normalize_phone\n"
        "try:\n    normalize_phone('abc', country='NL')\n"
        "except PhoneNumberError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stdout) == (
        0,
        '"abc" contains characters that do not belong in a phone number\n',
    ), done.stderr
