from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Agents, their devices, and the live notification page."""

    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Close an agent's open live pages when they sign out (another tab, or an expired session
        on the next reconnect, is then sent to the sign-in page)."""
        from django.contrib.auth.signals import user_logged_out

        from agents.live import agent_signed_out

        user_logged_out.connect(agent_signed_out, dispatch_uid="agents-signed-out")
