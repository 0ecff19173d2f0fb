from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """CRM integrations: presets, connectors, phone cache, sync and matching."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep each process's matching configuration current (integrations.match_config)."""
        from integrations.match_config import connect_signals

        connect_signals()
