"""Periodic tasks held by django-celery-beat, created by the migrations of the apps that own
them (and editable in the admin afterwards): one helper so each app lists only its schedules."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations

# name, task, minute, hour (crontab fields, Paris time, every day)
Schedule = tuple[str, str, str, str]


def schedules_operation(schedules: Sequence[Schedule]) -> migrations.RunPython:
    def create(apps, schema_editor):
        crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
        task = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task_name, minute, hour in schedules:
            schedule, _ = crontab.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone="Europe/Paris",
            )
            task.objects.update_or_create(
                name=name, defaults={"task": task_name, "crontab": schedule}
            )

    def remove(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
            name__in=[name for name, *_ in schedules]
        ).delete()

    return migrations.RunPython(create, remove)
