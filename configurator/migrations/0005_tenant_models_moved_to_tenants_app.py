"""The tenant models now belong to the tenants app (tenants/migrations/0001_initial.py).

State only: the tables keep their names (the tenants models set `Meta.db_table`) and their rows.
Runs after every app's foreign keys point at `tenants.Tenant`.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("configurator", "0004_tenant_match_config_version"),
        ("tenants", "0001_initial"),
        ("integrations", "0014_tenant_moved_to_tenants_app"),
        ("agents", "0002_tenant_moved_to_tenants_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="tenantmembership", name="tenant"),
                migrations.RemoveField(model_name="tenantapikey", name="tenant"),
                migrations.RemoveField(model_name="tenantmembership", name="user"),
                migrations.DeleteModel(name="Tenant"),
                migrations.DeleteModel(name="TenantAPIKey"),
                migrations.DeleteModel(name="TenantMembership"),
            ],
        ),
    ]
