from django.apps import AppConfig


class ConfiguratorConfig(AppConfig):
    """The admin UI's frame, sign-in, main screen and audit log; its migrations made the tenant tables."""

    name = "configurator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from configurator import audit

        audit.register_models()
