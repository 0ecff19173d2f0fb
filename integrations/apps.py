from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """CRM integrations: presets, connectors, phone cache, sync and matching."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep each process's matching configuration current (integrations.match_config), drop
        a deleted integration's phone-cache tables (integrations.phone_cache_store), and let the
        script engine's messages be shown in the reader's language (integrations.texts)."""
        import scripts_engine.errors
        from integrations import api_key_cache, match_config, phone_cache_store
        from integrations.texts import Text

        match_config.connect_signals()
        api_key_cache.connect_signals()
        phone_cache_store.connect_signals()
        scripts_engine.errors.message_factory = Text
