"""A database made before the tenants app (configurator 0004) migrates forward with its rows.

The tenant models moved from the configurator app to the tenants app with state-only migrations:
the tables keep their names, the rows stay, and the content types are renamed so that the audit
log and the permissions keep pointing at the moved models. Runs on SQLite and on PostgreSQL
(whichever the suite runs on), following Django's MigrationExecutor as its own tests use it.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework_api_key.crypto import KeyGenerator

from integrations.models import Integration
from tenants.models import Tenant, TenantAPIKey, TenantMembership
from tenants.selectors import tenant_admin_tenant

BEFORE_THE_MOVE = [
    ("configurator", "0004_tenant_match_config_version"),
    ("integrations", "0013_unreadable_number_generation"),
    ("agents", "0001_agents"),
]


def _migrate(targets: list[tuple[str, str | None]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_the_tenants_app_are_reachable_after_migrating() -> None:
    executor = _migrate([*BEFORE_THE_MOVE, ("tenants", None)])
    old = executor.loader.project_state(BEFORE_THE_MOVE).apps

    old_tenant = old.get_model("configurator", "Tenant").objects.create(name="Old Co", country="BE")
    old_user = old.get_model("auth", "User").objects.create(username="old-admin")
    old.get_model("configurator", "TenantMembership").objects.create(
        user=old_user, tenant=old_tenant, is_tenant_admin=True
    )
    key, prefix, hashed_key = KeyGenerator().generate()
    old.get_model("configurator", "TenantAPIKey").objects.create(
        id=f"{prefix}.{hashed_key}", prefix=prefix, hashed_key=hashed_key, name="Main PBX", tenant=old_tenant
    )
    old_integration = old.get_model("integrations", "Integration").objects.create(
        tenant=old_tenant, preset="carddav", name="Address book"
    )
    old_content_type = ContentType.objects.get(app_label="configurator", model="tenant")
    entry = LogEntry.objects.create(
        content_type_id=old_content_type.pk,
        object_pk=str(old_tenant.pk),
        object_id=old_tenant.pk,
        object_repr="Old Co",
        action=LogEntry.Action.CREATE,
    )

    _migrate()

    tenant = Tenant.objects.get(pk=old_tenant.pk)
    assert (tenant.name, tenant.country) == ("Old Co", "BE")
    assert tenant_admin_tenant(user=TenantMembership.objects.get(tenant=tenant).user) == tenant
    api_key = TenantAPIKey.objects.get_from_key(key)
    assert isinstance(api_key, TenantAPIKey)
    assert api_key.tenant == tenant
    assert Integration.objects.get(pk=old_integration.pk).tenant == tenant
    # The content type row was renamed, not replaced: the audit entry and the permissions follow.
    content_type = ContentType.objects.get_for_model(Tenant)
    assert (content_type.pk, content_type.app_label) == (old_content_type.pk, "tenants")
    assert not ContentType.objects.filter(app_label="configurator").exists()
    assert LogEntry.objects.get(pk=entry.pk).content_type.model_class() is Tenant
    assert Permission.objects.get(content_type=content_type, codename="add_tenant")
