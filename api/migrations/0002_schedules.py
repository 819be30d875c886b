"""The API's periodic tasks, held by django-celery-beat (editable in the admin)."""

from django.db import migrations

from core.schedules import schedules_operation

SCHEDULES = [
    # name, task, minute, hour
    ("Webhooks : événements du journal et envois en retard", "api.dispatch_events", "*", "*"),
    ("API : oubli des clés d'idempotence expirées", "api.purge_idempotency_keys", "15", "4"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedules_operation(SCHEDULES)]
