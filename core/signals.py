"""Celery's final-failure signal feeds the dead-letter table (visible in the admin)."""

import logging

from celery.signals import task_failure

logger = logging.getLogger(__name__)


@task_failure.connect
def record_dead_letter(sender=None, task_id=None, exception=None, args=None, einfo=None, **kw):
    from .models import TaskFailure

    name = getattr(sender, "name", str(sender))
    logger.error("task_failed task=%s id=%s error=%r", name, task_id, exception)
    try:
        TaskFailure.objects.create(
            task_name=name,
            task_id=task_id or "",
            arguments=list(args or []),
            exception=repr(exception),
            traceback=str(einfo or ""),
        )
    except Exception:  # the dead-letter record must never hide the original failure
        logger.exception("dead_letter_not_recorded task=%s id=%s", name, task_id)
