"""The API's periodic tasks, held by django-celery-beat (editable in the admin)."""

from django.db import migrations

SCHEDULES = [
    # name, task, minute, hour
    ("Webhooks : événements du journal et envois en retard", "api.dispatch_events", "*", "*"),
    ("API : oubli des clés d'idempotence expirées", "api.purge_idempotency_keys", "15", "4"),
]


def create(apps, schema_editor):
    crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
    task = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task_name, minute, hour in SCHEDULES:
        schedule, _ = crontab.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="Europe/Paris",
        )
        task.objects.update_or_create(name=name, defaults={"task": task_name, "crontab": schedule})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[name for name, *_ in SCHEDULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
