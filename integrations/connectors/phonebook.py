"""Phone book upload: a CSV or vCard file the admin uploads stands in for a CRM.

The upload is kept in the database (`PhoneBookUpload`); the connector reads the integration's
current upload instead of the network, so an import is an ordinary phone-cache sync
(`integrations.sync.phone_cache_sync`): all-or-nothing, with the shrink guard and the history.

CSV (RFC 4180, and the dialects spreadsheets write): the encoding is detected (a BOM, else
UTF-8, else charset-normalizer, e.g. cp1252), the delimiter sniffed among `, ; tab |`, the
first row is the header. A column mapping gives each column a role (`COLUMN_ROLES`): the
display name (several name columns are joined: first and last name), an id (else the line
number), phone numbers with a type label (several columns), e-mail, company, job title.
vCard files (RFC 6350 / RFC 2426) are read card by card with vobject, like the CardDAV
connector does. Rows that cannot be read are reported with their line numbers (`RowProblem`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import charset_normalizer
from django.utils.translation import gettext_noop

from integrations.connectors.base import Connector, CrmRecord, RecordPhone, SkippedRecord
from integrations.connectors.carddav import _card_record
from integrations.phones import PhoneNumberError, extract_numbers
from integrations.presets import DefaultScript, Preset, RecordField, ScriptApplies
from integrations.texts import Text

if TYPE_CHECKING:
    from integrations.models import PhoneBookUpload

# Settings key through which the sync tells the connector which integration it reads
# (`integrations.sync.connector_settings`).
INTEGRATION_ID_SETTING = "_integration_id"

DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "vertical bar (|)"}
PREVIEW_ROWS = 10
# Unreadable rows kept for display after an import; the rest are only counted.
MAX_LISTED_PROBLEMS = 50

# The roles a CSV column can have in the mapping: value -> label.
COLUMN_ROLES: dict[str, str] = {
    "ignore": "Ignore",
    "name": "Name",
    "id": "Identifier",
    "number:work": "Number (work)",
    "number:cell": "Number (cell)",
    "number:home": "Number (home)",
    "number:other": "Number (other)",
    "email": "E-mail",
    "company": "Company",
    "title": "Job title",
}
_FIELD_OF_ROLE = {"email": "Email", "company": "Company", "title": "Title"}

# Header words that suggest a column's role (lower case, checked in this order).
_GUESSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("e-mail", "email", "mail")),
    ("number:cell", ("mobile", "mobiel", "cell", "gsm", "handy", "portable")),
    ("number:home", ("home", "privé", "prive", "private", "thuis")),
    ("number:work", ("work", "business", "office", "werk", "kantoor", "direct")),
    ("number:other", ("phone", "tel", "telefoon", "number", "nummer", "fax")),
    ("company", ("company", "organization", "organisation", "org", "bedrijf", "firma", "account")),
    ("title", ("title", "job", "function", "functie", "position")),
    ("id", ("id", "identifier", "key", "customer no", "klantnummer")),
    ("name", ("name", "naam", "contact", "person", "first", "last", "voornaam", "achternaam")),
)


_NOT_TEXT = gettext_noop(
    "The file is not a text file (it contains binary data): upload a CSV or vCard (.vcf) file."
)
_UNKNOWN_ENCODING = gettext_noop(
    "The file's text encoding could not be recognised: save it as UTF-8 CSV and upload it again."
)
_NO_PHONE_NUMBER = Text(gettext_noop("no phone number"))


class PhoneBookFileError(ValueError):
    """The uploaded file cannot be used at all; `message` says why, for the admin (a `Text`:
    English as a `str`, `translated()` in the reader's language)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DecodedFile:
    """An uploaded file as text: `kind` "csv" or "vcard", `encoding` as detected, `delimiter`
    the CSV delimiter ("" for vCard)."""

    kind: str
    text: str
    encoding: str
    delimiter: str


# "Line 17: no phone number": a listed problem of an upload.
LINE_PROBLEM = gettext_noop("Line %(line)s: %(reason)s")


@dataclass(frozen=True)
class RowProblem:
    """A row (CSV) or card (vCard) that was left out, or a number of it that was: `line` is the
    1-based line of the file where it starts."""

    line: int
    reason: str  # a Text for the problems this module finds; a card's own reason may be plain

    def __str__(self) -> str:
        return f"Line {self.line}: {self.reason}"

    def text(self) -> Text:
        """`str(self)` as a Text, shown in the reader's language."""
        return Text(LINE_PROBLEM, line=self.line, reason=self.reason)


def _looks_binary(text: str) -> bool:
    """More than 1 % control characters (other than tab, CR, LF, FF): not a text file."""
    sample = text[:65536]
    if not sample:
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    # NUL anywhere: databases refuse it in text (PostgreSQL), and no phone book has one.
    return "\x00" in text or controls > len(sample) / 100


def decode_upload(content: bytes) -> DecodedFile:
    """Decode an uploaded phone book and tell CSV from vCard.

    Encoding: a UTF-8 or UTF-16 byte-order mark, else strict UTF-8, else the best guess of
    charset-normalizer (cp1252, latin-1, ...). A vCard file starts with BEGIN:VCARD; anything
    else is read as CSV, its delimiter sniffed (`csv.Sniffer`) among `DELIMITERS` on the first
    lines, else the most frequent of them in the header, else "," (one column).
    Raises `PhoneBookFileError` for an empty file, binary data or text in no known encoding.
    """
    if not content.strip():
        raise PhoneBookFileError(Text(gettext_noop("The file is empty.")))
    encoding = ""
    if content.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if not encoding and b"\x00" in content[:65536]:
        raise PhoneBookFileError(Text(_NOT_TEXT))
    try:
        text = content.decode(encoding or "utf-8")
        encoding = encoding or "utf-8"
    except UnicodeDecodeError:
        if encoding:
            raise PhoneBookFileError(
                Text(
                    gettext_noop(
                        "The file starts with a %(encoding)s byte-order mark but is not %(encoding)s text."
                    ),
                    encoding=encoding,
                )
            ) from None
        encoding = guess_encoding(content)
        if not encoding:
            raise PhoneBookFileError(Text(_UNKNOWN_ENCODING)) from None
        try:
            text = content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise PhoneBookFileError(Text(_UNKNOWN_ENCODING)) from None
    if _looks_binary(text):
        raise PhoneBookFileError(Text(_NOT_TEXT))
    if text.lstrip().upper().startswith("BEGIN:VCARD"):
        return DecodedFile(kind="vcard", text=text, encoding=encoding, delimiter="")
    return DecodedFile(kind="csv", text=text, encoding=encoding, delimiter=sniff_delimiter(text))


def guess_encoding(content: bytes) -> str:
    """The most likely single-byte encoding of `content` per charset-normalizer, "" if none fits.

    Short files often fit several code pages equally well (cp1250 and cp1252 for "José Müller");
    the Western-European Windows code page cp1252, what spreadsheets there write, wins such ties.
    """
    results = list(charset_normalizer.from_bytes(content[: 4 * 1024 * 1024]))
    if not results:
        return ""
    best = results[0]
    for match in results:
        if match.chaos <= best.chaos and "cp1252" in (match.encoding, *match.could_be_from_charset):
            return "cp1252"
    return str(best.encoding)


def sniff_delimiter(text: str) -> str:
    """The CSV delimiter of `text`: one of `DELIMITERS`, "," when the file has one column."""
    lines = text.splitlines()
    sample = "\n".join(lines[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the row starts, its cells) for every row, the header included.

    Quoted cells may span lines (RFC 4180 §2.6), hence the start line. Raises
    `PhoneBookFileError` naming the line when the CSV reader gives up (e.g. a cell too large).
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise PhoneBookFileError(
                Text(
                    gettext_noop("Line %(line)s: the CSV cannot be read (%(error)s)."),
                    line=start,
                    error=str(exc),
                )
            ) from None
        yield start, row
        start = reader.line_num + 1


def csv_preview(text: str, delimiter: str, *, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """The header and the first `rows` data rows, each padded or cut to the header's width."""
    header: list[str] = []
    body: list[list[str]] = []
    for _, row in csv_rows(text, delimiter):
        if not header:
            header = [cell.strip() for cell in row]
            continue
        if len(body) >= rows:
            break
        body.append((row + [""] * len(header))[: len(header)])
    return header, body


def guess_mapping(header: Sequence[str]) -> list[str]:
    """A first mapping from the header's words (see `_GUESSES`); unknown columns are ignored."""
    mapping: list[str] = []
    for title in header:
        words = title.strip().casefold()
        role = "ignore"
        for candidate, hints in _GUESSES:
            if any(re.search(rf"(^|[^a-z]){re.escape(hint)}([^a-z]|$)", words) for hint in hints):
                role = candidate
                break
        if role == "id" and "id" in mapping:
            role = "ignore"
        mapping.append(role)
    return mapping


def check_mapping(mapping: Sequence[str], *, columns: int) -> list[str]:
    """Validate a CSV column mapping; return it as a list. Raises `PhoneBookFileError` when it has
    the wrong length, an unknown role, no number column or more than one id column."""
    roles = list(mapping)
    if len(roles) != columns:
        raise PhoneBookFileError(
            Text(
                gettext_noop("The mapping has %(mapped)s columns, the file has %(columns)s."),
                mapped=len(roles),
                columns=columns,
            )
        )
    unknown = sorted({role for role in roles if role not in COLUMN_ROLES})
    if unknown:
        raise PhoneBookFileError(
            Text(gettext_noop("Unknown column role %(roles)s."), roles=", ".join(unknown))
        )
    if not any(role.startswith("number:") for role in roles):
        raise PhoneBookFileError(Text(gettext_noop("Choose at least one column holding phone numbers.")))
    if roles.count("id") > 1:
        raise PhoneBookFileError(Text(gettext_noop("Choose at most one identifier column.")))
    return roles


def _usable_phones(
    candidates: Sequence[tuple[str, str, str]], *, line: int, country: str
) -> tuple[list[RecordPhone], list[RowProblem]]:
    """Keep the (number, type, column title or "") candidates libphonenumber reads; report the others."""
    phones: list[RecordPhone] = []
    problems: list[RowProblem] = []
    for number, kind, column in candidates:
        try:
            extract_numbers(number, country=country)
        except PhoneNumberError:
            if column:
                reason = Text(
                    gettext_noop('the phone number "%(number)s" (column %(column)s) cannot be read'),
                    number=number[:40],
                    column=column,
                )
            else:
                reason = Text(
                    gettext_noop('the phone number "%(number)s" cannot be read'), number=number[:40]
                )
            problems.append(RowProblem(line, reason))
            continue
        phones.append(RecordPhone(number=number, type=kind))
    return phones, problems


def parse_csv(
    text: str, *, delimiter: str, mapping: Sequence[str], country: str
) -> Iterator[CrmRecord | RowProblem]:
    """Yield a `CrmRecord` per usable data row and a `RowProblem` per row (or number) left out.

    Record: `id` the id column's value, else "line-<n>"; `type` "contact"; `display_name` the
    name columns joined by spaces, else the company, else the e-mail; `phones` the readable
    numbers (`integrations.phones.extract_numbers` with the tenant's `country`) typed by their
    column role; `fields` DisplayName, Identifier, Email, Company, Title. Problems: a row whose
    cell count differs from the header's, a row without a readable number (or name and number),
    an unreadable number (the row keeps its other numbers). Empty rows are passed over.
    Raises `PhoneBookFileError` if the mapping does not fit the header.
    """
    rows = csv_rows(text, delimiter)
    header_row = next(rows, None)
    if header_row is None:
        return
    header = header_row[1]
    roles = check_mapping(mapping, columns=len(header))
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield RowProblem(
                line,
                Text(
                    gettext_noop("it has %(cells)s columns, the header has %(columns)s"),
                    cells=len(row),
                    columns=len(header),
                ),
            )
            continue
        names: list[str] = []
        values: dict[str, str] = {}
        candidates: list[tuple[str, str, str]] = []
        for title, role, cell in zip(header, roles, row, strict=True):
            value = cell.strip()
            if not value:
                continue
            if role == "name":
                names.append(value)
            elif role.startswith("number:"):
                candidates.append((value, role.split(":", 1)[1], title.strip() or "?"))
            elif role in ("id", "email", "company", "title"):
                values.setdefault(role, value)
        name = " ".join(names)
        if not name and not candidates:
            yield RowProblem(line, Text(gettext_noop("no name and no phone number")))
            continue
        if not candidates:
            yield RowProblem(line, _NO_PHONE_NUMBER)
            continue
        phones, problems = _usable_phones(candidates, line=line, country=country)
        yield from problems
        if not phones:
            continue
        record_id = values.get("id") or f"line-{line}"
        display_name = name or values.get("company", "") or values.get("email", "")
        fields = {"DisplayName": display_name, "Identifier": record_id, "PopUpUri": ""}
        fields.update({_FIELD_OF_ROLE[role]: values.get(role, "") for role in _FIELD_OF_ROLE})
        yield CrmRecord(
            id=record_id,
            type="contact",
            display_name=display_name,
            phones=tuple(phones),
            fields=fields,
        )


def vcard_blocks(text: str) -> Iterator[tuple[int, str]]:
    """Yield (line of BEGIN:VCARD, the card's text) for each card of a vCard file.

    Text outside BEGIN:VCARD ... END:VCARD is ignored; a card without its END runs to the end.
    """
    start = 0
    block: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            if block:
                yield start, "\n".join(block)
            start, block = number, [line]
        elif block:
            block.append(line)
            if upper == "END:VCARD":
                yield start, "\n".join(block)
                block = []
    if block:
        yield start, "\n".join(block)


def vcard_preview(text: str, *, rows: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first `rows` cards as [line, name, numbers] for the import page."""
    preview: list[list[str]] = []
    for line, block in vcard_blocks(text):
        if len(preview) >= rows:
            break
        record = _card_record(block, href=f"line-{line}", card_url="")
        if isinstance(record, CrmRecord):
            numbers = ", ".join(f"{p.number} ({p.type})" if p.type else p.number for p in record.phones)
            preview.append([str(line), record.display_name, numbers])
        elif isinstance(record, SkippedRecord):
            preview.append([str(line), "(unreadable)", record.reason])
        else:
            preview.append([str(line), "(no phone number)", ""])
    return preview


def parse_vcards(text: str, *, country: str) -> Iterator[CrmRecord | RowProblem]:
    """Yield a `CrmRecord` per card with a readable TEL and a `RowProblem` per card (or number)
    left out; the record shape is the CardDAV connector's (UID, else "line-<n>", as id)."""
    for line, block in vcard_blocks(text):
        record = _card_record(block, href=f"line-{line}", card_url="")
        if record is None:
            yield RowProblem(line, _NO_PHONE_NUMBER)
            continue
        if isinstance(record, SkippedRecord):
            yield RowProblem(line, record.reason)
            continue
        candidates = [(phone.number, phone.type, "") for phone in record.phones]
        phones, problems = _usable_phones(candidates, line=line, country=country)
        yield from problems
        if phones:
            yield CrmRecord(
                id=record.id,
                type=record.type,
                display_name=record.display_name,
                phones=tuple(phones),
                url=record.url,
                fields=record.fields,
            )


def parse_upload(upload: PhoneBookUpload, *, country: str) -> Iterator[CrmRecord | RowProblem]:
    """The records and problems of a stored upload (CSV with its mapping, or vCard)."""
    if upload.kind == "vcard":
        return parse_vcards(upload.text, country=country)
    return parse_csv(upload.text, delimiter=upload.delimiter, mapping=upload.mapping, country=country)


def current_upload(integration_id: int) -> PhoneBookUpload | None:
    """The upload the integration's phone cache is built from: the newest one imported.

    An upload whose import the shrink guard held stays current while the admin has not decided
    (so a sync in between holds it again); once decided, the latest decision on a held result
    (`SyncRun` "accepted" or "rejected") settles it: accepted, it is current ("imported"); kept
    the old cache, it is set aside ("rejected") and the upload before it is current again.
    """
    from integrations.models import (
        Integration,
        PhoneBookUpload,
        PhoneBookUploadStatus,
        SyncRun,
        SyncRunStatus,
    )

    uploads = (
        PhoneBookUpload.objects.select_related("tenant")
        .filter(integration_id=integration_id, selected_at__isnull=False)
        .order_by("-selected_at", "-id")
    )
    for upload in uploads:
        if upload.status != PhoneBookUploadStatus.HELD:
            return upload
        pending = Integration.objects.filter(pk=integration_id, held_generation__isnull=False).exists()
        if pending:
            return upload
        decision = (
            SyncRun.objects.filter(
                integration_id=integration_id, status__in=[SyncRunStatus.ACCEPTED, SyncRunStatus.REJECTED]
            )
            .order_by("-started_at", "-id")
            .values_list("status", flat=True)
            .first()
        )
        if decision == SyncRunStatus.ACCEPTED:
            upload.status = PhoneBookUploadStatus.IMPORTED
            upload.save(update_fields=["status"])
            return upload
        upload.status = PhoneBookUploadStatus.REJECTED
        upload.selected_at = None
        upload.save(update_fields=["status", "selected_at"])
    return None


class PhoneBookConnector(Connector):
    """Reads the integration's current phone book upload; no network.

    Settings: only `INTEGRATION_ID_SETTING`, which the sync adds. Without an upload it lists
    nothing (a new integration's first sync caches nothing and is not an error).
    """

    what = Text(gettext_noop("The phone book upload"))

    def test_connection(self) -> None:
        """Nothing to reach: an upload is checked when it is uploaded."""

    def iter_records(self) -> Iterator[CrmRecord | SkippedRecord]:
        """Yield the upload's records; each unreadable row or number is a `SkippedRecord` whose
        id is "line <n>" (see `parse_csv`, `parse_vcards`)."""
        integration_id = self.settings.get(INTEGRATION_ID_SETTING, "")
        if not integration_id.isdigit():
            return
        upload = current_upload(int(integration_id))
        if upload is None:
            return
        for item in parse_upload(upload, country=upload.tenant.country):
            if isinstance(item, RowProblem):
                yield SkippedRecord(reason=item.reason, id=f"line {item.line}")
            else:
                yield item


PHONEBOOK_UPLOAD = Preset(
    slug="phonebook_upload",
    name="Phone book upload (CSV or vCard)",
    description=gettext_noop(
        "Upload a phone book as a CSV or vCard file; a new upload replaces the cached numbers."
    ),
    category="Address book",
    auth_methods=("None: the admin uploads the file",),
    paging="",
    settings=(),
    default_scripts=(DefaultScript("E-mail the contact", "mailto:$(Email)", ScriptApplies.ON_MATCH),),
    connector_class=PhoneBookConnector,
    record_types=("contact",),
    fields=(
        RecordField("Email", gettext_noop("E-mail")),
        RecordField("Company", gettext_noop("Company")),
        RecordField("Title", gettext_noop("Job title")),
    ),
    default_notification_fields=("Company",),
    keywords=("csv", "vcard", "vcf", "excel", "spreadsheet", "import", "file", "phone book", "upload"),
    docs_url="https://datatracker.ietf.org/doc/html/rfc4180",
)
