"""The Django admin (issue 5, finding 8): bookkeeping is read-only and a save writes only what changed.

Before: cache generation, sync state and tenant were editable and `save()` wrote every column, so a
support edit could point lookups at a missing cache generation, move an integration to another
tenant, or overwrite what a running sync had just written.
"""

from __future__ import annotations

import importlib
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches, reverse
from django.utils import timezone

from integrations.admin import IntegrationAdmin
from integrations.models import Integration, SyncRun, SyncRunStatus, SyncState
from integrations.services import integration_create, script_create
from tenants.models import Tenant, TenantAPIKey
from tenants.services import api_key_create
from tests.conftest import PASSWORD

EDITABLE = {"name", "enabled", "position", "notification_fields", "settings"}


@pytest.fixture
def staff_client(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "", "s3cure-root-pass-2026")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def integration(tenant: Tenant) -> Integration:
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        start_sync=False,
        settings_values={"url": "https://dav.example.com/ab/", "username": "u", "password": "pw-123456"},
    )
    Integration.objects.filter(pk=integration.pk).update(cache_generation=3, cached_numbers=120)
    integration.refresh_from_db()
    return integration


def change_url(obj: object) -> str:
    meta = obj._meta  # type: ignore[attr-defined]
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]


def integration_form(integration: Integration, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": integration.name,
        "position": integration.position,
        "notification_fields": json.dumps(integration.notification_fields),
        "settings": json.dumps(integration.settings),
        # Fields with a callable default post their initial value too (show_hidden_initial).
        "initial-notification_fields": json.dumps(integration.notification_fields),
        "initial-settings": json.dumps(integration.settings),
        "_save": "Save",
    }
    if integration.enabled:
        data["enabled"] = "on"
    data.update(changes)
    return data


def test_a_post_cannot_change_the_cache_generation_tenant_or_sync_state(
    staff_client: Client, integration: Integration, other_tenant: Tenant
) -> None:
    response = staff_client.post(
        change_url(integration),
        integration_form(
            integration,
            name="Renamed",
            cache_generation=99,
            cached_numbers=0,
            tenant=other_tenant.pk,
            sync_state=SyncState.RUNNING,
            preset="web_search",
        ),
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Renamed"
    assert (integration.cache_generation, integration.cached_numbers) == (3, 120)
    assert integration.tenant_id != other_tenant.pk
    assert integration.sync_state == SyncState.IDLE
    assert integration.preset == "carddav"


def test_a_save_keeps_bookkeeping_a_sync_wrote_between_get_and_post(
    staff_client: Client, integration: Integration
) -> None:
    page = staff_client.get(change_url(integration))
    assert page.status_code == 200
    # A sync finishes while the support person looks at the form.
    Integration.objects.filter(pk=integration.pk).update(
        cache_generation=4, cached_numbers=130, sync_state=SyncState.IDLE, last_error="", enabled=True
    )

    response = staff_client.post(change_url(integration), integration_form(integration, position=7))

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.position == 7
    assert (integration.cache_generation, integration.cached_numbers) == (4, 130)


def test_a_save_without_changes_writes_nothing(staff_client: Client, integration: Integration) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.post(change_url(integration), integration_form(integration))

    assert response.status_code == 302
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "integrations_integration"')]
    assert updates == []


def test_every_field_but_the_editable_ones_is_read_only_including_future_ones() -> None:
    from django.contrib import admin

    model_admin = admin.site._registry[Integration]
    assert isinstance(model_admin, IntegrationAdmin)

    readonly = set(model_admin.get_readonly_fields(None))  # type: ignore[arg-type]

    concrete = {f.name for f in Integration._meta.concrete_fields} - {"id", "secrets"}
    assert readonly == concrete - EDITABLE
    assert {"tenant", "preset", "cache_generation", "sync_state", "last_error", "next_sync_at"} <= readonly


def test_a_duplicate_name_is_a_form_error_not_a_server_error(
    staff_client: Client, integration: Integration, tenant: Tenant
) -> None:
    integration_create(tenant=tenant, preset_slug="web_search", name="Search", settings_values={})

    response = staff_client.post(change_url(integration), integration_form(integration, name="Search"))

    assert response.status_code == 200
    assert "already exists" in response.text
    integration.refresh_from_db()
    assert integration.name == "Book"


def test_integrations_and_scripts_are_not_added_in_the_django_admin(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:integrations_integration_add")).status_code == 403
    assert staff_client.get(reverse("admin:integrations_script_add")).status_code == 403


def test_a_script_keeps_its_tenant_and_its_template_is_validated(
    staff_client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    script = script_create(
        tenant=tenant, integration=None, name="Google", template="https://www.google.nl?q=#(Caller number)"
    )
    form = {"name": "Google", "applies": script.applies, "position": 0, "_save": "Save"}

    bad = staff_client.post(change_url(script), {**form, "template": "javascript:alert(1)"})
    assert bad.status_code == 200
    assert "javascript" in bad.text
    script.refresh_from_db()
    assert script.template.startswith("https://www.google.nl")

    good = staff_client.post(
        change_url(script),
        {**form, "template": "https://www.bing.com?q=#(Caller number)", "tenant": other_tenant.pk},
    )
    assert good.status_code == 302
    script.refresh_from_db()
    assert script.template == "https://www.bing.com?q=#(Caller number)"
    assert script.tenant_id == tenant.pk


def test_an_api_keys_tenant_is_read_only_after_creation(
    staff_client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    api_key, _ = api_key_create(tenant=tenant, name="PBX")

    response = staff_client.post(
        change_url(api_key), {"name": "PBX renamed", "tenant": other_tenant.pk, "_save": "Save"}
    )

    assert response.status_code == 302
    api_key = TenantAPIKey.objects.get(pk=api_key.pk)
    assert (api_key.name, api_key.tenant_id) == ("PBX renamed", tenant.pk)


def test_a_tenant_admin_who_is_not_staff_is_refused(tenant: Tenant) -> None:
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": "admin", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200
    assert "staff account" in response.text
    assert client.get(reverse("admin:index")).status_code == 302

    client.force_login(get_user_model().objects.get(username="admin"))
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get(reverse("admin:integrations_integration_changelist")).status_code == 302


@pytest.fixture
def reload_urls(settings):
    """Re-import the URLconf after a test changed a setting it reads at import."""
    import configurator.urls

    def reload() -> None:
        importlib.reload(configurator.urls)
        clear_url_caches()

    original = settings.ADMIN_URL_PATH
    yield reload
    settings.ADMIN_URL_PATH = original  # the settings fixture restores it only after this teardown
    reload()
    assert reverse("admin:index") == f"/{original}"


def test_the_admin_path_comes_from_the_setting(staff_client: Client, settings, reload_urls) -> None:
    settings.ADMIN_URL_PATH = "support-7f3a/"
    reload_urls()

    assert reverse("admin:index") == "/support-7f3a/"
    assert staff_client.get("/support-7f3a/").status_code == 200
    assert staff_client.get("/django-admin/").status_code == 404
    assert staff_client.get("/admin/").status_code == 404


def test_sync_history_is_shown_read_only_in_the_django_admin(staff_client: Client, integration: Integration):
    run = SyncRun.objects.create(
        tenant=integration.tenant,
        integration=integration,
        started_at=timezone.now(),
        status=SyncRunStatus.OK,
        numbers=120,
        run_token="t",
        generation=3,
    )

    listing = staff_client.get(reverse("admin:integrations_syncrun_changelist"))
    page = staff_client.get(change_url(run))
    post = staff_client.post(change_url(run), {"status": SyncRunStatus.FAILED, "numbers": 0})
    delete = staff_client.post(reverse("admin:integrations_syncrun_delete", args=[run.pk]), {"post": "yes"})

    assert listing.status_code == 200
    assert "Book" in listing.content.decode()
    assert page.status_code == 200
    assert 'name="numbers"' not in page.content.decode()
    assert post.status_code == 403
    assert delete.status_code == 403
    run.refresh_from_db()
    assert (run.status, run.numbers) == (SyncRunStatus.OK, 120)
