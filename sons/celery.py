"""The Celery application; in the embedded default, tasks run in-process (eager)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sons.settings")

# The app's Task class holds, in the embedded mode, the tasks a request queues until its response
# is sent (core/after_response.py).
app = Celery("sons", task_cls="core.after_response:AppTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
