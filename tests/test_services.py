"""Integration and script services: validation, defaults, and the tenant line."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Integration, Script
from integrations.presets import ScriptApplies
from integrations.registry import PRESETS, get_preset
from integrations.services import (
    integration_create,
    integration_delete,
    integration_settings_clean,
    integration_sync_request,
    script_create,
    script_update,
)


def test_every_preset_declares_valid_default_scripts_and_fields():
    for preset in PRESETS:
        assert preset.default_scripts, f"{preset.slug} has no pre-configured script"
        names = {f.name for f in preset.all_fields}
        assert set(preset.default_notification_fields) <= names
        assert len({s.name for s in preset.settings}) == len(preset.settings)


def test_settings_are_checked_field_by_field():
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=get_preset("carddav"), values={"url": "not a url", "colour": "red"})

    errors = caught.value.message_dict
    assert "enter a full http" in errors["url"][0]
    assert "has no setting" in errors["colour"][0]


def test_secrets_are_kept_apart_and_encrypted_at_rest(tenant):
    integration = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        start_sync=False,
        settings_values={"url": "https://dav.example.com/ab/", "username": "u", "password": "s3cret-pass"},
    )

    integration.refresh_from_db()
    assert integration.settings == {"url": "https://dav.example.com/ab/", "username": "u"}
    assert integration.secrets == {"password": "s3cret-pass"}
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [integration.pk])
        stored = cursor.fetchone()[0]
    assert "s3cret-pass" not in stored


def test_a_pop_only_preset_gets_its_script_with_the_settings_filled_in(tenant):
    integration = integration_create(
        tenant=tenant,
        preset_slug="oracle_crmod",
        name="CRMOD",
        settings_values={"base_url": "https://secure-ausomxabc.crmondemand.com/"},
    )

    [script] = Script.objects.filter(integration=integration)
    assert script.template == (
        "https://secure-ausomxabc.crmondemand.com/OnDemand/user/CTICommand?Command=ScreenPop"
        "&Record%20Type=Activity&Channel%20Type=Inbound%20Call&Record%20Id=#(Call id)"
    )
    assert script.applies == ScriptApplies.ALWAYS
    assert script.auto_open
    assert integration_sync_request(tenant=tenant, integration=integration) is False  # nothing to sync


def test_integration_names_are_unique_per_tenant_only(tenant, other_tenant):
    integration_create(tenant=tenant, preset_slug="web_search", name="Search", settings_values={})
    integration_create(tenant=other_tenant, preset_slug="web_search", name="Search", settings_values={})

    with pytest.raises(ValidationError, match="already exists"):
        integration_create(tenant=tenant, preset_slug="web_search", name="Search", settings_values={})


def test_a_bad_template_is_refused_with_its_position_and_nothing_is_saved(tenant):
    with pytest.raises(ValidationError, match=r"Caler number.*character 25"):
        script_create(
            tenant=tenant, integration=None, name="Bad", template="https://www.google.nl?q=#(Caler number)"
        )
    assert not Script.objects.exists()


def test_tenant_wide_scripts_cannot_use_crm_fields(tenant):
    with pytest.raises(ValidationError, match="CRM fields"):
        script_create(tenant=tenant, integration=None, name="Pop", template="$(PopUpUri)")


def test_no_match_scripts_cannot_use_crm_fields(tenant):
    book = integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Book",
        start_sync=False,
        settings_values={"url": "https://dav.example.com/ab/"},
    )

    with pytest.raises(ValidationError, match="CRM fields"):
        script_create(
            tenant=tenant,
            integration=book,
            name="Create",
            template="https://x.example/$(DisplayName)",
            applies=ScriptApplies.ON_NO_MATCH,
        )


@pytest.mark.parametrize("template", ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd"])
def test_dangerous_schemes_are_refused_when_saved(tenant, template):
    with pytest.raises(ValidationError, match="are not allowed"):
        script_create(tenant=tenant, integration=None, name="Evil", template=template)


def test_a_tenant_may_allow_an_app_scheme(tenant):
    with pytest.raises(ValidationError):
        script_create(
            tenant=tenant,
            integration=None,
            name="Teams",
            template="msteams:/l/call/0/0?users=#(Caller number)",
        )
    tenant.extra_url_schemes = "msteams"
    tenant.save()

    script = script_create(
        tenant=tenant, integration=None, name="Teams", template="msteams:/l/call/0/0?users=#(Caller number)"
    )
    assert script.pk


def test_nothing_crosses_the_tenant_line(tenant, other_tenant):
    theirs = integration_create(
        tenant=other_tenant, preset_slug="web_search", name="Theirs", settings_values={}
    )
    their_script = Script.objects.get(integration=theirs)

    with pytest.raises(ValidationError):
        script_create(tenant=tenant, integration=theirs, name="Sneaky", template="https://x.example/")
    with pytest.raises(ValidationError):
        script_update(
            tenant=tenant,
            script=their_script,
            name="Mine",
            template="https://x.example/",
            applies="always",
            auto_open=False,
        )
    with pytest.raises(Integration.DoesNotExist):
        integration_sync_request(tenant=tenant, integration=theirs)
    integration_delete(tenant=tenant, integration=theirs)

    assert Integration.objects.filter(pk=theirs.pk).exists()
    assert Script.objects.get(pk=their_script.pk).name == "Search the web"
