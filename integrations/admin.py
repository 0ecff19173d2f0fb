"""Read-mostly admin views of integrations for providers' support staff."""

from django.contrib import admin

from integrations.models import Integration, Script


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin[Integration]):
    list_display = ("name", "tenant", "preset", "enabled", "cached_numbers", "last_sync_at", "last_error")
    list_filter = ("preset", "enabled")
    search_fields = ("name", "tenant__name")
    exclude = ("secrets",)
    readonly_fields = ("cache_generation", "cached_numbers", "sync_state", "last_sync_at", "last_error")


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin[Script]):
    list_display = ("name", "tenant", "integration", "applies", "auto_open")
    search_fields = ("name", "tenant__name")
