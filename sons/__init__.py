"""SONS: the Django project package and the Prestation Ségur lifecycle."""

from .celery import app as celery_app

__all__ = ["celery_app"]
