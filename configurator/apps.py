from django.apps import AppConfig


class ConfiguratorConfig(AppConfig):
    """Tenants, tenant admins, API keys and the admin UI."""

    name = "configurator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from configurator import audit

        audit.register_models()
