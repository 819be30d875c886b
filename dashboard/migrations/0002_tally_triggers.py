"""The tally's triggers on the orders, the claims and the deployments, the tally counted from
the rows already there, and its folding every five minutes (django-celery-beat)."""

from django.db import migrations

SCHEDULE = ("Regroupement des décomptes du tableau de bord", "dashboard.compact_tally")


def install(apps, schema_editor):
    from dashboard import tally

    tally.install(schema_editor.connection)
    tally.recount(schema_editor.connection)
    crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
    task = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = crontab.objects.get_or_create(
        minute="*/5",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Paris",
    )
    name, task_name = SCHEDULE
    task.objects.update_or_create(name=name, defaults={"task": task_name, "crontab": schedule})


def remove(apps, schema_editor):
    from dashboard import tally

    tally.remove(schema_editor.connection)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name=SCHEDULE[0]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_initial"),
        ("sons", "0016_rows_by_week_of_instant"),
        ("payments", "0012_claims_by_week_of_instant"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, remove, elidable=False)]
