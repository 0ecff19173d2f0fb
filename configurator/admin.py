"""The Django admin, where providers create tenants and their first admins."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
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
class TenantAPIKeyAdmin(APIKeyModelAdmin):
    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), "tenant")

    def get_list_filter(self, request: HttpRequest) -> Any:
        return ("tenant", *super().get_list_filter(request))
