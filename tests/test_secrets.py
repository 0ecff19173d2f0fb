"""Integration secrets at rest (issue 5, finding 5): their own keys, rotation, and no default key.

The demo's CardDAV password used to decrypt from a database dump with only the README's strings:
the Fernet keys were derived from SECRET_KEY, which defaulted to a published value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.management import CommandError, call_command
from django.db import connection
from encrypted_fields import fields as library_fields

from integrations.encryption import legacy_fernet_keys
from integrations.models import Integration, Script, ScriptKind
from integrations.presets import ScriptApplies
from integrations.services import integration_create, script_create

BASE_DIR = Path(__file__).resolve().parent.parent
# The SECRET_KEY default that settings.py and the README published before issue 5.
PUBLISHED_DEFAULT_SECRET_KEY = "insecure-dev-key-change-me-in-production-0123456789"
PUBLISHED_SALT = "cti-configurator-integration-secrets"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def stored_secrets(pk: int) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [pk])
        raw = cursor.fetchone()[0]
    document: dict[str, str] = json.loads(raw) if isinstance(raw, str) else raw
    return document


def write_stored_secrets(pk: int, document: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE integrations_integration SET secrets = %s WHERE id = %s", [document, pk])


def carddav(tenant, name: str = "Book") -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name=name,
        start_sync=False,
        settings_values={"url": "https://dav.example.com/ab/", "username": "u", "password": "demo-carddav"},
    )


def test_a_database_dump_does_not_decrypt_with_keys_derived_from_the_secret_key(tenant, settings):
    integration = carddav(tenant)

    token = stored_secrets(integration.pk)["password"]

    derived = legacy_fernet_keys(
        secret_keys=[PUBLISHED_DEFAULT_SECRET_KEY, settings.SECRET_KEY], salts=[PUBLISHED_SALT]
    )
    with pytest.raises(InvalidToken):
        MultiFernet([Fernet(key) for key in derived]).decrypt(token.encode())
    own_keys = MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])
    assert own_keys.decrypt(token.encode()) == b"demo-carddav"


def test_the_legacy_derivation_is_the_librarys(settings):
    settings.SECRET_KEY = PUBLISHED_DEFAULT_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []
    settings.SALT_KEY = [PUBLISHED_SALT]

    library_keys = library_fields.EncryptedJSONField().keys

    assert library_keys == legacy_fernet_keys(
        secret_keys=[PUBLISHED_DEFAULT_SECRET_KEY], salts=[PUBLISHED_SALT]
    )


def test_secrets_reencrypt_rotates_to_the_newest_key(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    integration = carddav(tenant)
    untouched = carddav(tenant, "Book 2")
    Integration.objects.filter(pk=untouched.pk).update(secrets=None)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    out = StringIO()
    call_command("secrets_reencrypt", stdout=out)

    assert "secrets of 1 integrations" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # A dropped
    integration.refresh_from_db()
    assert integration.secrets == {"password": "demo-carddav"}
    token = stored_secrets(integration.pk)["password"]
    with pytest.raises(InvalidToken):
        Fernet(KEY_A).decrypt(token.encode())


def test_without_reencryption_dropping_the_old_key_loses_the_secrets(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    integration = carddav(tenant)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

    integration.refresh_from_db()

    assert integration.secrets != {"password": "demo-carddav"}
    with pytest.raises(CommandError, match="decrypt with none of the keys"):
        call_command("secrets_reencrypt", stdout=StringIO())


def test_legacy_secrets_are_migrated_with_the_legacy_flag(tenant, settings):
    integration = carddav(tenant)
    settings.SALT_KEY = [PUBLISHED_SALT]
    [legacy_key] = legacy_fernet_keys(secret_keys=[PUBLISHED_DEFAULT_SECRET_KEY], salts=[PUBLISHED_SALT])
    legacy_token = Fernet(legacy_key).encrypt(b"old-password").decode()
    write_stored_secrets(integration.pk, json.dumps({"password": legacy_token}))

    with pytest.raises(CommandError, match="--legacy"):
        call_command("secrets_reencrypt", stdout=StringIO())
    assert stored_secrets(integration.pk)["password"] == legacy_token  # nothing changed

    out = StringIO()
    call_command("secrets_reencrypt", "--legacy-secret-key", PUBLISHED_DEFAULT_SECRET_KEY, stdout=out)

    assert "secrets of 1 integrations" in out.getvalue()
    integration.refresh_from_db()
    assert integration.secrets == {"password": "old-password"}
    new_token = stored_secrets(integration.pk)["password"]
    assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(new_token.encode()) == b"old-password"


def test_the_secrets_field_needs_no_migration():
    field = Integration._meta.get_field("secrets")
    assert field.deconstruct()[1] == "encrypted_fields.fields.EncryptedJSONField"


def import_settings(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Import configurator.settings in a fresh interpreter with exactly `env` (no .env file read)."""
    code = (
        "import environ, json\n"
        "environ.Env.read_env = classmethod(lambda cls, *a, **k: None)\n"
        f"environ.Env.ENVIRON = json.loads({json.dumps(json.dumps(env))})\n"
        "import configurator.settings as s\n"
        "print(s.SECRET_KEY[:8], s.DEBUG)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_start_up_fails_without_a_secret_key_when_debug_is_off(tmp_path):
    result = import_settings({"FIELD_ENCRYPTION_KEYS": KEY_A, "VAR_DIR": str(tmp_path)}, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_start_up_refuses_the_secret_key_the_readme_once_published(tmp_path):
    env = {
        "SECRET_KEY": "insecure-dev-key-change-me-in-production-0123456789",
        "FIELD_ENCRYPTION_KEYS": KEY_A,
        "VAR_DIR": str(tmp_path),
    }

    result = import_settings(env, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY is a published development key" in result.stderr


def test_start_up_fails_without_field_encryption_keys_when_debug_is_off(tmp_path):
    result = import_settings({"SECRET_KEY": "x" * 50, "VAR_DIR": str(tmp_path)}, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEYS is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_start_up_refuses_a_field_encryption_key_that_is_not_a_fernet_key(tmp_path):
    env = {"SECRET_KEY": "x" * 50, "FIELD_ENCRYPTION_KEYS": "not-a-key", "VAR_DIR": str(tmp_path)}

    result = import_settings(env, tmp_path)

    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr


def test_debug_starts_with_development_keys(tmp_path):
    result = import_settings({"DEBUG": "true", "VAR_DIR": str(tmp_path)}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["insecure", "True"]


# --- Server-request scripts carry tokens in their header lines -----------------------------------


def stored_request_headers(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT request_headers FROM integrations_script WHERE id = %s", [pk])
        raw: str = cursor.fetchone()[0]
    return raw


def _server_script(tenant) -> Script:
    return script_create(
        tenant=tenant,
        integration=None,
        name="Call log in the CRM",
        template="https://crm.example.com/api/calls",
        applies=ScriptApplies.ALWAYS,
        kind=ScriptKind.SERVER_REQUEST,
        request_headers="Authorization: Bearer s3cret-token\nX-Caller: #(Caller number)",
        body_template='{"number": "#(Caller number)"}',
    )


def test_a_server_scripts_header_lines_are_encrypted_at_rest(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    script = _server_script(tenant)

    raw = stored_request_headers(script.pk)
    assert "s3cret-token" not in raw
    assert Fernet(KEY_A).decrypt(raw.encode()).decode().startswith("Authorization: Bearer s3cret-token")
    assert Script.objects.get(pk=script.pk).request_headers.startswith("Authorization: Bearer s3cret-token")


def test_secrets_reencrypt_rotates_the_header_lines_too(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    script = _server_script(tenant)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    out = StringIO()
    call_command("secrets_reencrypt", stdout=out)

    assert "request headers of 1 scripts" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # A dropped
    assert Script.objects.get(pk=script.pk).request_headers.startswith("Authorization: Bearer s3cret-token")
    with pytest.raises(InvalidToken):
        Fernet(KEY_A).decrypt(stored_request_headers(script.pk).encode())


def test_header_lines_no_key_opens_stop_the_reencryption_and_change_nothing(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    script = _server_script(tenant)
    before = stored_request_headers(script.pk)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # A lost without re-encrypting

    with pytest.raises(CommandError, match=f"request headers of script {script.pk}"):
        call_command("secrets_reencrypt", stdout=StringIO())

    assert stored_request_headers(script.pk) == before
