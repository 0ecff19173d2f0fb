"""CTI Configurator: the Django project (settings, URLs, Celery app) and the admin UI's frame."""

from configurator.celery import app as celery_app

__all__ = ("celery_app",)
