"""Forms of the admin UI's sign-in and audit-log screens, plus the Bootstrap styling all UI forms share."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy


class BootstrapFormMixin:
    """Give every widget its Bootstrap 5 class.

    Mix in before `forms.Form`; the templates then render fields with `_field.html` without a
    form library. Fields with errors get `aria-invalid="true"` from Django, which
    static/app/app.css styles like Bootstrap's `is-invalid`.
    """

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style_widgets()

    def style_widgets(self) -> None:
        """Add the Bootstrap class to every widget that has none yet (call again after adding fields)."""
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect | forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "")
            if css not in classes.split():
                widget.attrs["class"] = f"{classes} {css}".strip()


class SignInForm(BootstrapFormMixin, AuthenticationForm):
    """Django's sign-in form (user name and password), styled."""


class AuditLogFilterForm(BootstrapFormMixin, forms.Form):
    """The audit page's filter (GET): one kind of object, or one integration's history."""

    type = forms.ChoiceField(required=False, label=gettext_lazy("Object type"))
    integration = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, kinds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        type_field = self.fields["type"]
        assert isinstance(type_field, forms.ChoiceField)
        type_field.choices = [("", "All objects"), *kinds]
