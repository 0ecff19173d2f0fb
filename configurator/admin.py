"""The Django admin, where providers create tenants and their first admins.

Rows that background jobs also write (an integration's sync bookkeeping, say) are edited with
`EditableFieldsAdmin`: only the listed fields are editable, every other column is read-only, and
a save writes only the fields the form changed, so a sync running meanwhile keeps its writes.
"""

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from configurator.models import Tenant, TenantAPIKey, TenantMembership

M = TypeVar("M", bound=models.Model)


class EditableFieldsAdmin(admin.ModelAdmin[M]):
    """A ModelAdmin that edits `editable_fields` only and saves nothing else.

    Every other concrete field of the model (including fields added later) is read-only;
    `create_fields` are also editable when adding a row. A change saves with
    `update_fields` = the editable fields the form changed (nothing changed: no write).
    """

    editable_fields: tuple[str, ...] = ()
    create_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: M | None = None) -> Any:
        editable = set(self.editable_fields)
        if obj is None:
            editable |= set(self.create_fields)
        excluded = set(self.exclude or ())
        return tuple(
            field.name
            for field in self.model._meta.concrete_fields
            if field.name not in editable and field.name not in excluded and not field.primary_key
        )

    def changed_editable_fields(self, form: forms.ModelForm[M]) -> list[str]:
        """The editable fields this form changed, in form order."""
        return [name for name in form.changed_data if name in self.editable_fields]

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        if not change:
            obj.save()
            return
        update_fields = self.changed_editable_fields(form)
        if update_fields:
            obj.save(update_fields=update_fields)


class ConstraintCheckingForm(forms.ModelForm[M]):
    """A ModelForm that also checks the model's constraints on fields the form does not edit.

    Django skips a UniqueConstraint when one of its fields is not in the form (a read-only
    tenant, say); the database would then refuse the save with an IntegrityError (a 500).
    """

    def validate_unique(self) -> None:
        super().validate_unique()
        if not self.errors:
            try:
                self.instance.validate_constraints()
            except forms.ValidationError as exc:
                self.add_error(None, exc)


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
