"""The reminders' periodic tasks, held by django-celery-beat (editable in the admin)."""

from django.db import migrations

from core.schedules import schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        schedules_operation(
            [
                ("Rappels d'échéances (quotidien)", "reminders.send_due_reminders", "30", "6"),
                ("Récapitulatifs quotidiens des rappels", "reminders.send_digests", "0", "7"),
            ]
        )
    ]
