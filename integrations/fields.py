"""The encrypted field for integration secrets, keyed by `settings.FIELD_ENCRYPTION_KEYS`.

django-fernet-encrypted-fields derives its Fernet keys from SECRET_KEY; we keep the library's
storage format (a JSON document whose leaf values are Fernet tokens, spec:
https://github.com/fernet/spec/blob/master/Spec.md) but take the keys from their own setting, a
list of Fernet keys, newest first: the newest encrypts, every key decrypts (MultiFernet), so keys
rotate without downtime (`manage.py secrets_reencrypt`).
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from encrypted_fields import fields as library_fields

LIBRARY_FIELD_PATH = "encrypted_fields.fields.EncryptedJSONField"


@functools.lru_cache(maxsize=8)
def multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    """A MultiFernet over `keys` (url-safe base64 Fernet keys, newest first).

    Raises ValueError for a value that is not a Fernet key.
    """
    return MultiFernet([Fernet(key) for key in keys])


def field_fernet() -> MultiFernet:
    """The MultiFernet of the current `settings.FIELD_ENCRYPTION_KEYS` (read on every call)."""
    return multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedJSONField(library_fields.EncryptedJSONField, models.JSONField):  # type: ignore[misc]
    """A JSON field whose leaf values are Fernet tokens under `settings.FIELD_ENCRYPTION_KEYS`.

    A value no configured key decrypts is returned as stored (the library's behaviour); the
    `secrets_reencrypt` command reports such rows.
    """

    @property
    def keys(self) -> list[bytes]:
        return [key.encode("ascii") for key in settings.FIELD_ENCRYPTION_KEYS]

    @property
    def f(self) -> MultiFernet:
        return field_fernet()

    def deconstruct(self) -> Any:
        # Same column and storage format as the library's field, so migrations keep naming the
        # library's class (no migration; historical models in data migrations would use the
        # library's SECRET_KEY-derived keys, so do not read secrets in a data migration).
        name, _path, args, kwargs = super().deconstruct()
        return name, LIBRARY_FIELD_PATH, args, kwargs


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as one Fernet token under `settings.FIELD_ENCRYPTION_KEYS` ("" stays "").

    For secrets typed as free text (a server-request script's header lines carry API tokens). A
    stored value no configured key decrypts is returned as stored, like `EncryptedJSONField`;
    `secrets_reencrypt` reports such rows. Not for lookups: each save gives a new token.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return field_fernet().encrypt(str(value).encode()).decode("ascii")

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        try:
            return field_fernet().decrypt(str(value).encode()).decode()
        except InvalidToken:
            return value
