"""CTI Configurator: the Django project and the tenant app (tenants, admins, API keys, UI)."""

from configurator.celery import app as celery_app

__all__ = ("celery_app",)
