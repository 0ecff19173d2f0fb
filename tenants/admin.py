"""The Django admin, where providers create tenants and their first admins, and API keys."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from tenants.models import Tenant, TenantAPIKey, TenantMembership


class TenantMembershipInline(admin.TabularInline[TenantMembership, Tenant]):
    model = TenantMembership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ("name", "country", "time_zone", "created_at")
    search_fields = ("name",)
    inlines = (TenantMembershipInline,)


@admin.register(TenantAPIKey)
class TenantAPIKeyAdmin(APIKeyModelAdmin):
    """API keys: the tenant is chosen at creation and read-only afterwards."""

    editable_fields = ("name", "revoked", "expiry_date")

    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), "tenant")

    def get_list_filter(self, request: HttpRequest) -> Any:
        return ("tenant", *super().get_list_filter(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields = (*fields, "tenant")
        return fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any = None, change: bool = False) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        update_fields = [name for name in form.changed_data if name in self.editable_fields]
        if update_fields:
            obj.save(update_fields=update_fields)
