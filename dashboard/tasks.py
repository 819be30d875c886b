from celery import shared_task
from django.db import connection

from . import tally


@shared_task(name="dashboard.compact_tally")
def compact_tally() -> int:
    """Folds the dashboard's tally (`dashboard.tally.compact`); the rows it now holds."""
    return tally.compact(connection)
