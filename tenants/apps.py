from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, tenant memberships and the tenants' API keys (tables still named `configurator_*`)."""

    name = "tenants"
    label = "tenants"
    default_auto_field = "django.db.models.BigAutoField"
