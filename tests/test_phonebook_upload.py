"""Phone book upload: CSV (any delimiter and encoding) or vCard, a mapping step, an import that is a sync."""

from __future__ import annotations

import codecs

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from integrations.connectors.base import CrmRecord
from integrations.connectors.phonebook import (
    PhoneBookFileError,
    RowProblem,
    csv_preview,
    decode_upload,
    guess_mapping,
    parse_csv,
    parse_vcards,
)
from integrations.matching import call_from_params, match_call
from integrations.models import (
    Integration,
    PhoneBookUpload,
    PhoneBookUploadStatus,
    PhoneCacheEntry,
    SyncRun,
    SyncTrigger,
)
from integrations.phonebook_upload import phonebook_upload_import, phonebook_upload_receive
from integrations.services import integration_create, integration_hold_accept, integration_hold_reject
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.conftest import PASSWORD

UTF8_CSV = (
    "Name,Company,Work phone,Mobile,E-mail\r\n"
    "Jan Jansen,Acme BV,020 123 4567,06-12345678,jan@example.com\r\n"
    "Piet Pietersen,,010 765 4321,,piet@example.com\r\n"
)


def _book(tenant: Tenant, name: str = "Phone book") -> Integration:
    return integration_create(
        tenant=tenant, preset_slug="phonebook_upload", name=name, settings_values={}, start_sync=False
    )


def _match(tenant: Tenant, number: str) -> list[str]:
    answer = match_call(tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": number}))
    return [m["notification"]["title"] for m in answer["matches"]]


def _import(tenant: Tenant, integration: Integration, content: bytes, mapping: list[str] | None = None):
    upload = phonebook_upload_receive(
        tenant=tenant, integration=integration, file_name="book.csv", content=content
    )
    return upload, phonebook_upload_import(
        tenant=tenant, upload=upload, mapping=mapping if mapping is not None else upload.mapping
    )


def _people_csv(count: int, *, start: int = 0) -> bytes:
    lines = ["Name;Phone"] + [f"Person {i};020 555 {i:04d}" for i in range(start, start + count)]
    return ("\n".join(lines) + "\n").encode()


# Decoding and parsing ------------------------------------------------------------------------


def test_a_utf8_csv_with_a_bom_is_read_with_its_comma_delimiter():
    decoded = decode_upload(codecs.BOM_UTF8 + UTF8_CSV.encode())
    assert (decoded.kind, decoded.encoding, decoded.delimiter) == ("csv", "utf-8-sig", ",")
    assert decoded.text.startswith("Name,")  # the BOM is not part of the first column's title


def test_a_cp1252_csv_with_semicolons_is_decoded_and_its_delimiter_found():
    text = (
        "Naam;Telefoon;Bedrijf\r\n"
        "José Müller;020 123 4567;Café Öst\r\n"
        "Renée Dubois;010 765 4321;Crème € BV\r\n"
    )
    decoded = decode_upload(text.encode("cp1252"))
    assert decoded.delimiter == ";"
    assert "José Müller" in decoded.text
    assert "Crème € BV" in decoded.text
    assert decoded.encoding.replace("_", "").lower() in {"cp1252", "windows1252"}


def test_a_tab_separated_file_is_recognised():
    decoded = decode_upload(b"Name\tPhone\nJan\t020 123 4567\nPiet\t010 765 4321\n")
    assert decoded.delimiter == "\t"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64,
    ],
)
def test_a_binary_file_is_refused_with_a_clear_message(content):
    with pytest.raises(PhoneBookFileError, match="not a text file"):
        decode_upload(content)


def test_an_empty_file_is_refused():
    with pytest.raises(PhoneBookFileError, match="empty"):
        decode_upload(b"  \n")


def test_the_mapping_is_guessed_from_the_header():
    assert guess_mapping(["Name", "Company", "Work phone", "Mobile", "E-mail", "Notes"]) == [
        "name",
        "company",
        "number:work",
        "number:cell",
        "email",
        "ignore",
    ]


def test_unreadable_rows_are_reported_with_their_line_numbers():
    text = (
        "Name,Phone,Mobile\n"  # line 1
        "Jan,020 123 4567,\n"  # 2: fine
        "Piet,,\n"  # 3: no phone number
        ",,\n"  # 4: empty, passed over
        "Klaas,020 111 2222\n"  # 5: two columns
        '"Multi\nline",not a number,\n'  # 6-7: unreadable number, no other
        "Marie,010 765 4321,hello\n"  # 8: one unreadable number, one good
    )
    items = list(parse_csv(text, delimiter=",", mapping=["name", "number:work", "number:cell"], country="NL"))
    problems = [str(item) for item in items if isinstance(item, RowProblem)]
    records = [item for item in items if isinstance(item, CrmRecord)]
    assert problems == [
        "Line 3: no phone number",
        "Line 5: it has 2 columns, the header has 3",
        'Line 6: the phone number "not a number" (column Phone) cannot be read',
        'Line 8: the phone number "hello" (column Mobile) cannot be read',
    ]
    assert [(r.display_name, [p.number for p in r.phones], r.id) for r in records] == [
        ("Jan", ["020 123 4567"], "line-2"),
        ("Marie", ["010 765 4321"], "line-8"),
    ]


def _read_all(content: bytes) -> str | list[CrmRecord | RowProblem]:
    """Everything an upload goes through, up to the records; the error message if refused."""
    try:
        decoded = decode_upload(content)
        if "\x00" in decoded.text:
            return []  # fails the test below: NUL must have been refused
        if decoded.kind == "vcard":
            return list(parse_vcards(decoded.text, country="NL"))
        header, _ = csv_preview(decoded.text, decoded.delimiter)
        mapping = ["number:work"] + ["name"] * (len(header) - 1) if header else []
        return list(parse_csv(decoded.text, delimiter=decoded.delimiter, mapping=mapping, country="NL"))
    except PhoneBookFileError as exc:
        return exc.message


@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_any_bytes_are_read_or_refused_with_a_message_never_an_exception(content):
    outcome = _read_all(content)
    if isinstance(outcome, str):
        assert outcome.strip()
    else:
        assert all(isinstance(item, CrmRecord | RowProblem) for item in outcome)
        assert b"\x00" not in content or content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def test_a_utf16_file_with_a_nul_character_is_refused():
    with pytest.raises(PhoneBookFileError, match="not a text file"):
        decode_upload("Name,Phone\nJan\x00,020 123 4567\n".encode("utf-16"))


# Importing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_csv_with_numbers_in_several_columns_fills_the_phone_cache(tenant):
    integration = _book(tenant)
    upload, outcome = _import(tenant, integration, codecs.BOM_UTF8 + UTF8_CSV.encode())
    assert outcome.result.status == "ok"
    assert (outcome.result.records, outcome.result.numbers) == (2, 3)
    assert _match(tenant, "0612345678") == ["Jan Jansen"]
    assert _match(tenant, "+31201234567") == ["Jan Jansen"]
    assert _match(tenant, "0107654321") == ["Piet Pietersen"]
    entry = PhoneCacheEntry.objects.get(integration=integration, e164="+31612345678")
    assert entry.number_type == "cell"
    assert entry.fields["Company"] == "Acme BV"
    assert entry.fields["Email"] == "jan@example.com"
    run = SyncRun.objects.get(integration=integration)
    assert run.trigger == SyncTrigger.UPLOAD
    upload.refresh_from_db()
    assert upload.status == PhoneBookUploadStatus.IMPORTED


@pytest.mark.django_db
def test_an_id_column_and_joined_name_columns(tenant):
    integration = _book(tenant)
    content = b"Id,First name,Last name,Phone\nK-1,Jan,Jansen,020 123 4567\n"
    _, outcome = _import(tenant, integration, content, ["id", "name", "name", "number:work"])
    assert outcome.result.status == "ok"
    entry = PhoneCacheEntry.objects.get(integration=integration)
    assert (entry.record_id, entry.display_name) == ("K-1", "Jan Jansen")


@pytest.mark.django_db
def test_a_vcard_file_is_imported_like_the_carddav_connector_reads_cards(tenant):
    integration = _book(tenant)
    content = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jan\r\nFN:Jan Jansen\r\nORG:Acme BV\r\n"
        b"TEL;TYPE=WORK:020 123 4567\r\nTEL;TYPE=CELL:06-12345678\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Phone\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad Number\r\nTEL:call me\r\nEND:VCARD\r\n"
    )
    upload, outcome = _import(tenant, integration, content)
    assert upload.kind == "vcard"
    assert outcome.result.status == "ok"
    assert outcome.result.numbers == 2
    assert outcome.problems == [
        "Line 9: no phone number",
        'Line 13: the phone number "call me" cannot be read',
    ]
    entry = PhoneCacheEntry.objects.get(integration=integration, e164="+31201234567")
    assert (entry.record_id, entry.display_name, entry.number_type) == ("jan", "Jan Jansen", "work")
    assert entry.fields["Company"] == "Acme BV"


@pytest.mark.django_db
def test_a_reupload_replaces_the_cache_all_or_nothing(tenant, monkeypatch):
    integration = _book(tenant)
    _import(tenant, integration, _people_csv(10) + b"Jan Jansen;020 123 4567\n")
    assert _match(tenant, "0201234567") == ["Jan Jansen"]

    import integrations.connectors.phonebook as phonebook

    monkeypatch.setattr("integrations.sync.BATCH_SIZE", 1)  # rows are written as they come
    seen_mid_import: list[list[str]] = []
    real_parse = phonebook.parse_upload

    def parse_and_look(upload, *, country):
        for count, item in enumerate(real_parse(upload, country=country)):
            if count == 5:
                seen_mid_import.append(_match(tenant, "0201234567"))
            yield item

    monkeypatch.setattr(phonebook, "parse_upload", parse_and_look)
    _, outcome = _import(tenant, integration, _people_csv(10) + b"Jan Renamed;020 123 4567\n")

    assert outcome.result.status == "ok"
    assert seen_mid_import == [["Jan Jansen"]]  # the old cache answered while the new one was written
    assert _match(tenant, "0201234567") == ["Jan Renamed"]
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == 11
    assert PhoneBookUpload.objects.filter(integration=integration).count() == 1  # the old upload is gone


@pytest.mark.django_db
def test_a_much_smaller_reupload_is_held_and_the_old_cache_stays_live(tenant):
    integration = _book(tenant)
    _import(tenant, integration, _people_csv(200))
    upload, outcome = _import(tenant, integration, _people_csv(10, start=500))
    assert outcome.result.status == "held"
    integration.refresh_from_db()
    assert integration.cached_numbers == 200
    assert integration.held_numbers == 10
    assert integration.held_message.startswith("The uploaded phone book held 10 contacts with 10 phone")
    assert _match(tenant, "0205550100") == ["Person 100"]
    assert _match(tenant, "0205550505") == []
    upload.refresh_from_db()
    assert upload.status == PhoneBookUploadStatus.HELD

    assert integration_hold_accept(tenant=tenant, integration=integration)
    assert _match(tenant, "0205550505") == ["Person 505"]
    assert _match(tenant, "0205550100") == []


@pytest.mark.django_db
def test_keeping_the_old_cache_sets_a_held_upload_aside_for_later_syncs(tenant):
    integration = _book(tenant)
    _import(tenant, integration, _people_csv(200))
    small, outcome = _import(tenant, integration, _people_csv(10, start=500))
    assert outcome.result.status == "held"
    # A sync while the admin has not decided holds the same upload again.
    assert phone_cache_sync(integration_id=integration.pk).status == "held"

    assert integration_hold_reject(tenant=tenant, integration=integration)
    # The next (nightly) sync reads the phone book before the held one: nothing is held again.
    assert phone_cache_sync(integration_id=integration.pk).status == "ok"
    integration.refresh_from_db()
    assert (integration.cached_numbers, integration.held_generation) == (200, None)
    small.refresh_from_db()
    assert small.status == PhoneBookUploadStatus.REJECTED
    assert _match(tenant, "0205550100") == ["Person 100"]


@pytest.mark.django_db
def test_an_accepted_held_upload_stays_current_for_later_syncs(tenant):
    integration = _book(tenant)
    _import(tenant, integration, _people_csv(200))
    small, _ = _import(tenant, integration, _people_csv(10, start=500))
    assert integration_hold_accept(tenant=tenant, integration=integration)

    assert phone_cache_sync(integration_id=integration.pk).status == "ok"
    integration.refresh_from_db()
    assert integration.cached_numbers == 10
    small.refresh_from_db()
    assert small.status == PhoneBookUploadStatus.IMPORTED
    assert _match(tenant, "0205550505") == ["Person 505"]


@pytest.mark.django_db
def test_a_mapping_without_a_number_column_is_refused(tenant):
    integration = _book(tenant)
    upload = phonebook_upload_receive(
        tenant=tenant, integration=integration, file_name="b.csv", content=UTF8_CSV.encode()
    )
    with pytest.raises(ValidationError, match="at least one column holding phone numbers"):
        phonebook_upload_import(
            tenant=tenant, upload=upload, mapping=["name", "company", "ignore", "ignore", "email"]
        )
    assert not PhoneCacheEntry.objects.filter(integration=integration).exists()


# Views ---------------------------------------------------------------------------------------


def _post_file(client, integration: Integration, content: bytes, name: str = "book.csv"):
    return client.post(
        reverse("phonebook-upload", args=[integration.pk]),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


@pytest.mark.django_db
def test_the_add_page_creates_a_phonebook_integration_without_a_url(tenant, admin_client):
    response = admin_client.post(
        reverse("integration-add", args=["phonebook_upload"]),
        {"name": "Our phone book", "notification_fields": ["Company"], "action": "create"},
    )
    integration = Integration.objects.get(tenant=tenant, name="Our phone book")
    assert response.status_code == 302
    assert response["Location"] == reverse("integration-overview", args=[integration.pk])
    page = admin_client.get(response["Location"])
    assert b"Upload a phone book" in page.content
    assert b'enctype="multipart/form-data"' in page.content


@pytest.mark.django_db
def test_upload_preview_mapping_and_import_through_the_views(tenant, admin_client):
    integration = _book(tenant)
    content = (
        "Naam;Telefoon;Mobiel;Bedrijf\r\nJosé Müller;020 123 4567;06-12345678;Café\r\nGeen Nummer;;;\r\n"
    )
    response = _post_file(admin_client, integration, content.encode("cp1252"))
    upload = PhoneBookUpload.objects.get(integration=integration)
    assert response.status_code == 302
    assert response["Location"] == reverse("phonebook-map", args=[integration.pk, upload.pk])

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "semicolon (;)" in html
    assert "cp1252" in html.lower() or "windows-1252" in html.lower()
    assert "José Müller" in html  # the preview row, decoded
    assert 'name="column-2"' in html
    assert '<option value="number:cell" selected>' in html  # "Mobiel" guessed as a cell number

    response = admin_client.post(
        reverse("phonebook-map", args=[integration.pk, upload.pk]),
        {"column-0": "name", "column-1": "number:work", "column-2": "number:cell", "column-3": "company"},
    )
    assert response.status_code == 302
    assert _match(tenant, "0612345678") == ["José Müller"]
    overview = admin_client.get(response["Location"]).content.decode()
    assert "Imported 1 contacts with 2 phone numbers" in overview
    assert "Line 3: no phone number" in overview


@pytest.mark.django_db
def test_a_much_smaller_upload_through_the_views_offers_accept_and_keep(tenant, admin_client):
    integration = _book(tenant)
    _import(tenant, integration, _people_csv(200))
    _post_file(admin_client, integration, _people_csv(10, start=500))
    upload = PhoneBookUpload.objects.filter(integration=integration, selected_at__isnull=True).get()
    response = admin_client.post(
        reverse("phonebook-map", args=[integration.pk, upload.pk]),
        {"column-0": "name", "column-1": "number:work"},
    )
    page = admin_client.get(response["Location"]).content.decode()
    assert (
        "The new phone book has 10 contacts with 10 phone numbers, far fewer than the 200 cached now" in page
    )
    assert reverse("integration-hold-accept", args=[integration.pk]) in page
    assert reverse("integration-hold-reject", args=[integration.pk]) in page
    assert _match(tenant, "0205550100") == ["Person 100"]


@pytest.mark.django_db
def test_an_import_without_a_number_column_shows_the_mapping_again(tenant, admin_client):
    integration = _book(tenant)
    _post_file(admin_client, integration, UTF8_CSV.encode())
    upload = PhoneBookUpload.objects.get(integration=integration)
    response = admin_client.post(
        reverse("phonebook-map", args=[integration.pk, upload.pk]),
        {f"column-{i}": "ignore" for i in range(5)},
    )
    assert response.status_code == 400
    assert b"Choose at least one column holding phone numbers." in response.content
    assert not PhoneCacheEntry.objects.filter(integration=integration).exists()


@pytest.mark.django_db
def test_bad_rows_are_listed_on_the_overview_first_fifty_then_a_count(tenant, admin_client):
    integration = _book(tenant)
    lines = ["Name,Phone", "Jan,020 123 4567"] + [f"Nobody {i}," for i in range(60)]
    _, outcome = _import(tenant, integration, ("\n".join(lines) + "\n").encode())
    assert outcome.problem_count == 60
    assert len(outcome.problems) == 50
    page = admin_client.get(reverse("integration-overview", args=[integration.pk])).content.decode()
    assert "Line 3: no phone number" in page
    assert "Line 52: no phone number" in page
    assert "Line 53: no phone number" not in page
    assert "and 10 more" in page


@pytest.mark.django_db
def test_a_file_over_the_cap_is_refused_with_a_message(tenant, admin_client, settings):
    settings.PHONEBOOK_MAX_UPLOAD_BYTES = 100
    integration = _book(tenant)
    response = _post_file(admin_client, integration, _people_csv(50))
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "The file is too large" in page
    assert "the limit is 100 bytes" in page
    assert not PhoneBookUpload.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 8, b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00\x01" * 100, b""],
)
def test_a_binary_or_empty_file_gets_a_clear_message_never_a_500(tenant, admin_client, content):
    integration = _book(tenant)
    response = _post_file(admin_client, integration, content, name="photo.jpg")
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "not a text file" in page or "empty" in page or "Choose a CSV or vCard file" in page
    assert not PhoneBookUpload.objects.exists()


@pytest.mark.django_db
def test_another_tenants_phonebook_is_not_found(tenant, other_tenant, admin_client):
    theirs = _book(other_tenant, "Their book")
    upload = phonebook_upload_receive(
        tenant=other_tenant, integration=theirs, file_name="b.csv", content=UTF8_CSV.encode()
    )
    assert _post_file(admin_client, theirs, UTF8_CSV.encode()).status_code == 404
    assert admin_client.get(reverse("phonebook-map", args=[theirs.pk, upload.pk])).status_code == 404
    assert admin_client.post(reverse("phonebook-map", args=[theirs.pk, upload.pk]), {}).status_code == 404
    mine = _book(tenant)
    # Their upload id under my integration's id is not found either.
    assert admin_client.get(reverse("phonebook-map", args=[mine.pk, upload.pk])).status_code == 404
    assert not PhoneCacheEntry.objects.exists()


@pytest.mark.django_db
def test_a_member_without_admin_rights_is_refused(tenant, client):
    integration = _book(tenant)
    assert client.login(request=HttpRequest(), username="member", password=PASSWORD)
    response = _post_file(client, integration, UTF8_CSV.encode())
    assert response.status_code == 403
    assert not PhoneBookUpload.objects.exists()


@pytest.mark.django_db
def test_the_upload_pages_of_another_preset_are_not_found(tenant, admin_client):
    other = integration_create(
        tenant=tenant,
        preset_slug="web_search",
        name="Search",
        settings_values={},
        start_sync=False,
    )
    assert _post_file(admin_client, other, UTF8_CSV.encode()).status_code == 404
