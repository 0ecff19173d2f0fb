"""The phone book upload speaks the reader's language (issue 8, item 8): a refused file's message
and the unreadable rows an import lists are Dutch for a Dutch admin and English for an English
one, from the same stored upload.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from integrations.connectors.phonebook import PhoneBookFileError, RowProblem, decode_upload, parse_csv
from integrations.models import Integration
from integrations.phonebook_upload import phonebook_upload_import, phonebook_upload_receive, problem_lines
from integrations.services import integration_create
from tenants.models import Tenant

# The Dutch catalog quotes with typographic single quotes.
OPEN, CLOSE = "\u2018", "\u2019"

BAD_ROWS = (
    b"Name,Phone,Mobile\n"  # line 1
    b"Jan,020 123 4567,\n"  # 2: fine
    b"Piet,,\n"  # 3: no phone number
    b"Klaas,020 111 2222\n"  # 4: two columns
    b"Marie,010 765 4321,hello\n"  # 5: one unreadable number
)


def _book(tenant: Tenant) -> Integration:
    return integration_create(
        tenant=tenant, preset_slug="phonebook_upload", name="Phone book", settings_values={}, start_sync=False
    )


@pytest.mark.django_db
def test_an_imports_unreadable_rows_are_listed_in_the_readers_language(tenant: Tenant) -> None:
    book = _book(tenant)
    with translation.override("en"):  # a stored upload is the same whoever imported it
        upload = phonebook_upload_receive(
            tenant=tenant, integration=book, file_name="b.csv", content=BAD_ROWS
        )
        phonebook_upload_import(tenant=tenant, upload=upload, mapping=["name", "number:work", "number:cell"])
    upload.refresh_from_db()

    with translation.override("en"):
        english = problem_lines(upload)
    with translation.override("nl"):
        dutch = problem_lines(upload)

    assert english == [
        "Line 3: no phone number",
        "Line 4: it has 2 columns, the header has 3",
        'Line 5: the phone number "hello" (column Mobile) cannot be read',
    ]
    assert dutch == [
        "Regel 3: geen telefoonnummer",
        "Regel 4: de regel heeft 2 kolommen, de kopregel heeft er 3",
        f"Regel 5: het telefoonnummer {OPEN}hello{CLOSE} (kolom Mobile) kan niet worden gelezen",
    ]


@pytest.mark.django_db
def test_an_upload_stored_before_the_texts_still_shows_its_reasons(tenant: Tenant) -> None:
    book = _book(tenant)
    upload = phonebook_upload_receive(tenant=tenant, integration=book, file_name="b.csv", content=BAD_ROWS)
    upload.problems = [[3, "no phone number"], [9, "something a later version wrote"]]  # no Text JSON

    with translation.override("nl"):
        assert problem_lines(upload) == [
            "Regel 3: geen telefoonnummer",
            "Regel 9: something a later version wrote",
        ]


@pytest.mark.django_db
def test_a_dutch_admin_sees_the_overview_list_and_a_refused_file_in_dutch(
    tenant: Tenant, admin_client: Client
) -> None:
    book = _book(tenant)
    upload = phonebook_upload_receive(tenant=tenant, integration=book, file_name="b.csv", content=BAD_ROWS)
    phonebook_upload_import(tenant=tenant, upload=upload, mapping=["name", "number:work", "number:cell"])

    overview = admin_client.get(reverse("integration-overview", args=[book.pk]), HTTP_ACCEPT_LANGUAGE="nl")
    text = overview.content.decode()
    assert "Regel 3: geen telefoonnummer" in text
    assert "no phone number" not in text

    refused = admin_client.post(
        reverse("phonebook-upload", args=[book.pk]),
        {"file": _file("empty.csv", b"   \n")},
        HTTP_ACCEPT_LANGUAGE="nl",
        follow=True,
    )
    page = refused.content.decode()
    assert "Het bestand is leeg." in page
    assert "The file is empty." not in page


def _file(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.parametrize(
    ("content", "english", "dutch"),
    [
        (b"", "The file is empty.", "Het bestand is leeg."),
        (
            b"\x00\x01\x02binary",
            "The file is not a text file (it contains binary data): upload a CSV or vCard (.vcf) file.",
            "Het bestand is geen tekstbestand (het bevat binaire gegevens): "
            "upload een CSV- of vCard-bestand (.vcf).",
        ),
    ],
)
def test_a_refused_files_message_is_english_text_that_translates(
    content: bytes, english: str, dutch: str
) -> None:
    with pytest.raises(PhoneBookFileError) as refused:
        decode_upload(content)

    assert str(refused.value.message) == english
    with translation.override("nl"):
        assert refused.value.message.translated() == dutch  # type: ignore[attr-defined]


def test_a_row_problem_keeps_its_english_and_translates_whole() -> None:
    items = list(
        parse_csv(
            "Name,Phone\nJan,not a number\n", delimiter=",", mapping=["name", "number:work"], country="NL"
        )
    )
    [problem] = [item for item in items if isinstance(item, RowProblem)]

    assert str(problem) == 'Line 2: the phone number "not a number" (column Phone) cannot be read'
    with translation.override("nl"):
        assert (
            problem.text().translated()
            == f"Regel 2: het telefoonnummer {OPEN}not a number{CLOSE} (kolom Phone) kan niet worden gelezen"
        )
