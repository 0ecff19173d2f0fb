"""The Django admin, where providers create tenants and their first admins."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from configurator.models import Tenant, TenantAPIKey, TenantMembership


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
class TenantAPIKeyAdmin(APIKeyModelAdmin):  # type: ignore[misc]
    list_display = (*APIKeyModelAdmin.list_display, "tenant")
    list_filter = (*APIKeyModelAdmin.list_filter, "tenant")
