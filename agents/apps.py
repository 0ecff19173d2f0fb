from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Agents, their devices, and the live notification page."""

    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"
