from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """CRM integrations: presets, connectors, phone cache, sync and matching."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
