from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Tenants, tenant memberships and the tenants' API keys (tables still named `configurator_*`)."""

    name = "tenants"
    label = "tenants"
    # The Django admin's section; its models are "Tenants" and "Tenant API keys".
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"
