"""Read-mostly admin views of integrations for providers' support staff.

Support may rename, enable/disable, reorder and adjust an integration's plain settings and a
script's text; the tenant, the preset and all sync bookkeeping (cache generation, sync state,
errors, and any bookkeeping column added later) are read-only, and a save writes only the fields
it changed (see `configurator.admin.EditableFieldsAdmin`). Integrations and scripts are created in
the admin UI or with `manage.py integration_add`, where presets validate them.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from configurator.admin import ConstraintCheckingForm, EditableFieldsAdmin
from integrations.models import CallJournalEntry, Integration, PbxSender, Script, SyncRun, UnreadableNumber
from integrations.registry import find_preset
from integrations.services import script_validate


class ScriptAdminForm(ConstraintCheckingForm[Script]):
    """Validates the template like the admin UI does (scripts_engine, the tenant's URL schemes)."""

    class Meta:
        model = Script
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        template = cleaned.get("template")
        applies = cleaned.get("applies") or self.instance.applies
        script = self.instance
        if template is not None and script.tenant_id is not None:
            preset = find_preset(script.integration.preset) if script.integration is not None else None
            try:
                script_validate(tenant=script.tenant, preset=preset, template=template, applies=applies)
            except ValidationError as exc:
                self.add_error("template", exc)
        return cleaned


@admin.register(Integration)
class IntegrationAdmin(EditableFieldsAdmin[Integration]):
    list_display = ("name", "tenant", "preset", "enabled", "cached_numbers", "last_sync_at", "last_error")
    list_filter = ("preset", "enabled")
    search_fields = ("name", "tenant__name")
    exclude = ("secrets",)
    form = ConstraintCheckingForm[Integration]
    editable_fields = ("name", "enabled", "position", "notification_fields", "settings")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Script)
class ScriptAdmin(EditableFieldsAdmin[Script]):
    list_display = ("name", "tenant", "integration", "applies", "auto_open")
    search_fields = ("name", "tenant__name")
    form = ScriptAdminForm
    editable_fields = ("name", "template", "applies", "auto_open", "position")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin[SyncRun]):
    """Sync history, for support: read-only (a row is the sync's own record of what it did)."""

    list_display = (
        "integration", "tenant", "started_at", "finished_at", "status", "trigger", "numbers", "error",
    )  # fmt: skip
    list_filter = ("status", "trigger")
    search_fields = ("integration__name", "tenant__name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False


@admin.register(PbxSender)
class PbxSenderAdmin(EditableFieldsAdmin[PbxSender]):
    """PBX senders, for support: rename or enable/disable; the token (URL) and secret are never shown."""

    list_display = ("name", "tenant", "format", "enabled", "created_at", "rotated_at")
    list_filter = ("format", "enabled")
    search_fields = ("name", "tenant__name")
    exclude = ("token", "secrets")
    form = ConstraintCheckingForm[PbxSender]
    editable_fields = ("name", "enabled")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CallJournalEntry)
class CallJournalEntryAdmin(admin.ModelAdmin[CallJournalEntry]):
    """The call log, for support: read-only (a row is what a PBX sent and what it was answered)."""

    list_display = (
        "created", "tenant", "sender", "event", "caller_number", "matched", "status_code", "duration_ms",
    )  # fmt: skip
    list_filter = ("sender", "matched", "status_code")
    search_fields = ("tenant__name", "caller_number", "caller_e164", "call_id")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CallJournalEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CallJournalEntry | None = None) -> bool:
        return False


@admin.register(UnreadableNumber)
class UnreadableNumberAdmin(admin.ModelAdmin[UnreadableNumber]):
    """Numbers the last sync could not read, for support: read-only (the sync replaces them)."""

    list_display = ("integration", "tenant", "record_name", "raw_text", "reason", "found_at")
    search_fields = ("integration__name", "tenant__name", "record_name", "raw_text")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UnreadableNumber | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UnreadableNumber | None = None) -> bool:
        return False
