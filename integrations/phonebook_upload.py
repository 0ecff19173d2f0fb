"""Services and selectors of the phone book upload: receive a file, map its columns, import it.

Receiving stores the decoded file as a `PhoneBookUpload` waiting for its mapping; importing
marks it as the integration's current upload and runs the phone-cache sync, whose connector
(`integrations.connectors.phonebook.PhoneBookConnector`) reads it. The sync replaces the cache
all-or-nothing and holds a result that would shrink it too much (`integrations.sync`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from integrations.connectors.phonebook import (
    COLUMN_ROLES,
    DELIMITER_NAMES,
    LINE_PROBLEM,
    MAX_LISTED_PROBLEMS,
    PHONEBOOK_UPLOAD,
    PhoneBookFileError,
    RowProblem,
    check_mapping,
    csv_preview,
    current_upload,
    decode_upload,
    guess_mapping,
    parse_upload,
    vcard_preview,
)
from integrations.models import (
    Integration,
    PhoneBookUpload,
    PhoneBookUploadKind,
    PhoneBookUploadStatus,
    SyncTrigger,
)
from integrations.sync import SyncResult, phone_cache_sync
from integrations.texts import Text, stored_text, text_json, translated
from tenants.models import Tenant


def is_phonebook_integration(integration: Integration) -> bool:
    """Whether the integration is of the phone book upload preset."""
    return integration.preset == PHONEBOOK_UPLOAD.slug


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def phonebook_upload_receive(
    *, tenant: Tenant, integration: Integration, file_name: str, content: bytes
) -> PhoneBookUpload:
    """Store an uploaded phone book (CSV or vCard), decoded, waiting for its column mapping.

    `content` is the file's bytes (at most `PHONEBOOK_MAX_UPLOAD_BYTES`). The CSV mapping starts
    as a guess from the header. Earlier uploads that were never imported are dropped.
    Raises `ValidationError` (message for the admin) for another tenant's integration, a preset
    other than the phone book upload, a file too large, empty, binary, in an unknown encoding,
    or a CSV without a header row; raises `Integration.DoesNotExist` for another tenant's row.
    """
    if integration.tenant_id != tenant.pk:
        raise Integration.DoesNotExist("Integration not found for this tenant.")
    if not is_phonebook_integration(integration):
        raise ValidationError(
            gettext("%(name)s does not take phone book uploads.") % {"name": integration.name}
        )
    limit: int = settings.PHONEBOOK_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise ValidationError(
            gettext("The file is too large (%(value)s); the limit is %(limit)s (PHONEBOOK_MAX_UPLOAD_BYTES).")
            % {"value": _size_text(len(content)), "limit": _size_text(limit)}
        )
    try:
        decoded = decode_upload(content)
        mapping: list[str] = []
        if decoded.kind == PhoneBookUploadKind.CSV:
            header, _ = csv_preview(decoded.text, decoded.delimiter)
            if not any(header):
                raise PhoneBookFileError(
                    Text(gettext_noop("The CSV file has no header row (the column titles)."))
                )
            mapping = guess_mapping(header)
    except PhoneBookFileError as exc:
        raise ValidationError(translated(exc.message)) from None
    PhoneBookUpload.objects.filter(tenant=tenant, integration=integration, selected_at__isnull=True).delete()
    return PhoneBookUpload.objects.create(
        tenant=tenant,
        integration=integration,
        file_name=(file_name.replace("\x00", "") or "phone book")[:255],
        size=len(content),
        kind=decoded.kind,
        encoding=decoded.encoding,
        delimiter=decoded.delimiter,
        text=decoded.text,
        mapping=mapping,
    )


def phonebook_upload_get(*, tenant: Tenant, integration: Integration, upload_id: int) -> PhoneBookUpload:
    """One upload of the tenant's integration; raises `PhoneBookUpload.DoesNotExist` otherwise."""
    return PhoneBookUpload.objects.get(tenant=tenant, integration=integration, pk=upload_id)


def phonebook_upload_latest(*, tenant: Tenant, integration: Integration) -> PhoneBookUpload | None:
    """The integration's current upload (the overview shows its problems), or None.

    See `integrations.connectors.phonebook.current_upload` for how a held import is settled.
    """
    if integration.tenant_id != tenant.pk:
        raise Integration.DoesNotExist("Integration not found for this tenant.")
    return current_upload(integration.pk)


@dataclass(frozen=True)
class UploadPreview:
    """What the mapping page shows: `header` (CSV column titles, or vCard's Line/Name/Numbers),
    `rows` the first rows, `mapping` the role per CSV column, `delimiter_name` e.g. "semicolon (;)"."""

    kind: str
    header: list[str]
    rows: list[list[str]]
    mapping: list[str]
    encoding: str
    delimiter_name: str


def phonebook_upload_preview(*, upload: PhoneBookUpload) -> UploadPreview:
    """The first rows of the upload and its current mapping, for the mapping step."""
    if upload.kind == PhoneBookUploadKind.VCARD:
        return UploadPreview(
            kind=upload.kind,
            header=["Line", "Name", "Numbers"],
            rows=vcard_preview(upload.text),
            mapping=[],
            encoding=upload.encoding,
            delimiter_name="",
        )
    header, rows = csv_preview(upload.text, upload.delimiter)
    mapping = list(upload.mapping) if len(upload.mapping) == len(header) else guess_mapping(header)
    return UploadPreview(
        kind=upload.kind,
        header=header,
        rows=rows,
        mapping=mapping,
        encoding=upload.encoding,
        delimiter_name=DELIMITER_NAMES.get(upload.delimiter, repr(upload.delimiter)),
    )


@dataclass(frozen=True)
class ImportOutcome:
    """An import's sync result and the unreadable rows: `problems` the first
    `MAX_LISTED_PROBLEMS` as "Line 17: no phone number", `problem_count` all of them."""

    result: SyncResult
    problems: list[str]
    problem_count: int


def _problems(upload: PhoneBookUpload, *, country: str) -> tuple[list[list[Any]], int]:
    listed: list[list[Any]] = []
    count = 0
    for item in parse_upload(upload, country=country):
        if isinstance(item, RowProblem):
            count += 1
            if len(listed) < MAX_LISTED_PROBLEMS:
                # The English reason, and its Text beside it so a page can show it translated.
                listed.append([item.line, str(item.reason), text_json(item.reason)])
    return listed, count


def problem_lines(upload: PhoneBookUpload) -> list[str]:
    """The upload's listed problems as "Line 17: no phone number", in the active language.

    Each stored problem is `[line, English reason, its Text's JSON or None]` (uploads stored
    before the Text have no third item: their reason is translated as a whole when the catalog has
    it, else shown as stored).
    """
    lines = []
    for item in upload.problems:
        line, reason = int(item[0]), str(item[1])
        data = item[2] if len(item) > 2 and isinstance(item[2], dict) else None
        lines.append(gettext(LINE_PROBLEM) % {"line": line, "reason": stored_text(reason, data)})
    return lines


def phonebook_upload_import(
    *, tenant: Tenant, upload: PhoneBookUpload, mapping: Sequence[str] | None = None
) -> ImportOutcome:
    """Import an upload with its column `mapping` (CSV; one `COLUMN_ROLES` key per column).

    The upload becomes the integration's current one and the phone-cache sync runs now, in this
    process: lookups keep the old cache until it is complete; a much smaller phone book is held
    for the admin (status "held"); a failed or busy sync leaves the previous upload current.
    After a successful import the older uploads are deleted. Raises `ValidationError` for a
    mapping that does not fit (wrong length, unknown role, no number column, two id columns)
    and `PhoneBookUpload.DoesNotExist` for another tenant's upload.
    """
    if upload.tenant_id != tenant.pk:
        raise PhoneBookUpload.DoesNotExist("Upload not found for this tenant.")
    if upload.kind == PhoneBookUploadKind.CSV:
        header, _ = csv_preview(upload.text, upload.delimiter)
        try:
            upload.mapping = check_mapping(list(mapping or []), columns=len(header))
        except PhoneBookFileError as exc:
            raise ValidationError(translated(exc.message)) from None
    try:
        listed, count = _problems(upload, country=tenant.country)
    except PhoneBookFileError as exc:
        raise ValidationError(translated(exc.message)) from None
    upload.problems, upload.problem_count = listed, count
    upload.selected_at = timezone.now()
    upload.save(update_fields=["mapping", "problems", "problem_count", "selected_at"])

    result = phone_cache_sync(integration_id=upload.integration_id, trigger=SyncTrigger.UPLOAD)

    if result.status == "ok":
        upload.status = PhoneBookUploadStatus.IMPORTED
        PhoneBookUpload.objects.filter(tenant=tenant, integration_id=upload.integration_id).exclude(
            pk=upload.pk
        ).delete()
    elif result.status == "held":
        upload.status = PhoneBookUploadStatus.HELD
    else:
        upload.status = PhoneBookUploadStatus.FAILED
        upload.selected_at = None  # the previous upload stays the integration's current one
    upload.save(update_fields=["status", "selected_at"])
    return ImportOutcome(result=result, problems=problem_lines(upload), problem_count=count)


ROLE_CHOICES: list[tuple[str, str]] = list(COLUMN_ROLES.items())
