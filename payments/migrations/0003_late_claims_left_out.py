"""Claims left out of a filing for lateness (their reason, the vendor told) and filings set
aside when their lines were late at transmission."""

import django_fsm
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_schedules"),
    ]

    operations = [
        migrations.AddField(
            model_name="aspfiling",
            name="set_aside_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="écarté le"
            ),
        ),
        migrations.AddField(
            model_name="aspfiling",
            name="set_aside_reason",
            field=models.TextField(blank=True, editable=False, verbose_name="motif de l'écart"),
        ),
        migrations.AddField(
            model_name="paymentclaim",
            name="deadline_missed_notified_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                null=True,
                verbose_name="fournisseur averti du retard le",
            ),
        ),
        migrations.AddField(
            model_name="paymentclaim",
            name="deadline_missed_reason",
            field=models.TextField(
                blank=True, editable=False, verbose_name="motif : échéance de dépôt dépassée"
            ),
        ),
        migrations.AlterField(
            model_name="aspfiling",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("generated", "Généré"),
                    ("transmitted", "Transmis à l'ASP"),
                    ("acknowledged", "Pris en compte par l'ASP"),
                    ("set_aside", "Écarté : hors délai, non transmis"),
                ],
                default="generated",
                max_length=16,
                protected=True,
                verbose_name="état",
            ),
        ),
    ]
