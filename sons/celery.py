"""The Celery application; in the embedded default, tasks run in-process (eager)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sons.settings")

app = Celery("sons")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
