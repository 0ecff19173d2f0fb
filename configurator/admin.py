"""Shared Django admin pieces (the tenants' admin is in tenants/admin.py).

Rows that background jobs also write (an integration's sync bookkeeping, say) are edited with
`EditableFieldsAdmin`: only the listed fields are editable, every other column is read-only, and
a save writes only the fields the form changed, so a sync running meanwhile keeps its writes.
"""

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

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
