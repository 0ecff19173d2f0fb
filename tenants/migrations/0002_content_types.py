"""Point the moved models' content types at the tenants app.

The rows of `django_content_type` are renamed (app_label "configurator" -> "tenants"), not
recreated, so that the audit log's entries (django-auditlog's `LogEntry.content_type`) and the
permissions (`auth_permission.content_type`) granted on these models keep pointing at them.
On a new database there are no rows yet (Django creates them after migrating): nothing to do.
"""

from typing import Any

from django.db import migrations

MODELS = ("tenant", "tenantmembership", "tenantapikey")


def _relabel(apps: Any, *, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not content_type.objects.filter(app_label=old, model=model).exists():
            continue
        # A row made for the new label meanwhile (a `migrate` stopped half-way) has nothing pointing at it yet.
        content_type.objects.filter(app_label=new, model=model).delete()
        content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, old="configurator", new="tenants")


def backwards(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, old="tenants", new="configurator")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenants", "0001_initial"),
        ("configurator", "0005_tenant_models_moved_to_tenants_app"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
