"""manage.py secrets_reencrypt: re-encrypt every integration's secrets with the newest key.

Key rotation: put a new Fernet key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it),
run this command, then drop the old keys. With `--legacy`, values encrypted the old way (keys
derived from SECRET_KEY + SECRET_KEY_FALLBACKS and ENCRYPTION_SALT_KEYS, before
FIELD_ENCRYPTION_KEYS existed) are read too; `--legacy-secret-key` adds an old SECRET_KEY to try
(e.g. the formerly published default).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.encryption import SecretsUndecryptable, secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every integration's secrets with the newest key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--legacy",
            action="store_true",
            help="also read values encrypted with keys derived from SECRET_KEY (+ SECRET_KEY_FALLBACKS)",
        )
        parser.add_argument(
            "--legacy-secret-key",
            action="append",
            default=[],
            metavar="KEY",
            help="an old SECRET_KEY to derive legacy keys from (repeatable; implies --legacy)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        legacy_secret_keys: list[str] | None = None
        if options["legacy"] or options["legacy_secret_key"]:
            legacy_secret_keys = list(options["legacy_secret_key"])
        try:
            counts = secrets_reencrypt(
                legacy=legacy_secret_keys is not None, legacy_secret_keys=legacy_secret_keys or []
            )
        except SecretsUndecryptable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Re-encrypted the secrets of {counts['integrations']} integrations "
            f"(and of {counts['PBX senders']} PBX senders and the request headers of "
            f"{counts['scripts']} scripts) with the newest key."
        )
