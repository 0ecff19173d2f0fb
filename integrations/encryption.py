"""Key rotation for integration secrets (the `secrets` column, see `integrations.fields`).

Each leaf value of the stored JSON document is a Fernet token (https://github.com/fernet/spec).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.db import transaction

from integrations.models import Integration, PbxSender, Script


class SecretsUndecryptable(Exception):
    """Some integrations' secrets decrypt with none of the keys tried; nothing was changed."""


def legacy_fernet_keys(*, secret_keys: Iterable[str], salts: Iterable[str]) -> list[bytes]:
    """The keys django-fernet-encrypted-fields 0.4 derived from SECRET_KEY: one per (secret key, salt).

    PBKDF2-HMAC-SHA256 (RFC 8018), 100,000 iterations, 32 bytes, url-safe base64: the library's
    `EncryptedFieldMixin.keys`, which encrypted our secrets before FIELD_ENCRYPTION_KEYS.
    """
    keys = []
    for secret_key in secret_keys:
        for salt in salts:
            kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=100_000)
            keys.append(base64.urlsafe_b64encode(kdf.derive(secret_key.encode())))
    return keys


def _map_leaves(value: Any, func: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {key: _map_leaves(item, func) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_leaves(item, func) for item in value]
    return func(str(value))


def integration_secrets_reencrypt(*, legacy: bool = False, legacy_secret_keys: Iterable[str] = ()) -> int:
    """Re-encrypt every integration's secrets with the newest of `settings.FIELD_ENCRYPTION_KEYS`.

    Reads with every configured key, and with `legacy` also with the keys derived from SECRET_KEY,
    SECRET_KEY_FALLBACKS and `legacy_secret_keys` (salts: settings.SALT_KEY). Only the `secrets`
    column is written (UPDATE per row, one transaction). Returns the number of integrations
    re-encrypted. Raises `SecretsUndecryptable` (and changes nothing) when some row decrypts with
    none of the keys. PBX senders' secrets are re-encrypted in the same transaction
    (`secrets_reencrypt` counts them too).
    """
    return secrets_reencrypt(legacy=legacy, legacy_secret_keys=legacy_secret_keys)["integrations"]


# Every Fernet token starts with version 0x80 and a timestamp, base64: "gAAAAA" (Fernet spec).
_FERNET_PREFIX = "gAAAAA"


def secrets_reencrypt(*, legacy: bool = False, legacy_secret_keys: Iterable[str] = ()) -> dict[str, int]:
    """Re-encrypt the `secrets` of every integration and PBX sender, and the request headers of
    every server-request script (see `integration_secrets_reencrypt`).

    Returns how many rows were re-encrypted: `{"integrations": n, "PBX senders": m, "scripts": k}`.
    One transaction: if any row decrypts with none of the keys, nothing is changed.
    """
    readers = [Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS]
    if legacy:
        salts = settings.SALT_KEY if isinstance(settings.SALT_KEY, list) else [settings.SALT_KEY]
        secret_keys = [*legacy_secret_keys, settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        readers += [Fernet(key) for key in legacy_fernet_keys(secret_keys=secret_keys, salts=salts)]
    reader = MultiFernet(readers)

    def decrypt(token: str) -> str:
        return reader.decrypt(token.encode()).decode()

    models: list[tuple[str, type[Integration] | type[PbxSender]]] = [
        ("integrations", Integration),
        ("PBX senders", PbxSender),
    ]
    counts: dict[str, int] = {}
    with transaction.atomic():
        plain_by_model: list[tuple[type[Integration] | type[PbxSender], dict[int, Any]]] = []
        for label, model in models:
            # The field decrypts with the configured keys on load; a value it could not decrypt is
            # left as the stored JSON text.
            rows = (
                model.objects.select_for_update()
                .filter(secrets__isnull=False)
                .values_list("pk", "secrets")
                .order_by("pk")
            )
            plain: dict[int, Any] = {}
            failed: list[int] = []
            for pk, value in rows:
                if isinstance(value, str):
                    try:
                        value = _map_leaves(json.loads(value), decrypt)
                    except (InvalidToken, ValueError):
                        failed.append(pk)
                        continue
                plain[pk] = value
            if failed:
                hint = "" if legacy else " (values from before FIELD_ENCRYPTION_KEYS need --legacy)"
                raise SecretsUndecryptable(
                    f"The secrets of {label} {', '.join(map(str, failed))} decrypt with none of the "
                    f"keys{hint}; nothing was changed."
                )
            plain_by_model.append((model, plain))
            counts[label] = len(plain)
        # Server-request scripts' header lines (`EncryptedTextField`: decrypted on load, or the
        # stored token when no configured key opens it).
        headers: dict[int, str] = {}
        scripts = Script.objects.select_for_update().exclude(request_headers="")
        for pk, text in scripts.values_list("pk", "request_headers"):
            if text.startswith(_FERNET_PREFIX):
                try:
                    text = decrypt(text)
                except InvalidToken:
                    raise SecretsUndecryptable(
                        f"The request headers of script {pk} decrypt with none of the keys; "
                        "nothing was changed."
                    ) from None
            headers[pk] = text
        counts["scripts"] = len(headers)
        for model, plain in plain_by_model:
            for pk, value in plain.items():
                model.objects.filter(pk=pk).update(secrets=value)
        for pk, text in headers.items():
            Script.objects.filter(pk=pk).update(request_headers=text)
    return counts
