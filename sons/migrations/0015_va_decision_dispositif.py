"""A VA's decision carries the VA's dispositif (copied from the VA for the decisions already
there) and the Paris week of the decision (a generated column, core.clock.ParisMonday): the
dashboard counts a dispositif's VA signed per week from their own index, no join to the VA."""

from django.db import migrations, models

import core.clock
from core.copied_columns import add_copied_column, copied_foreign_key


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_deadline_hour_sourced_tariff"),
        ("sons", "0014_dashboard_weeks"),
    ]

    operations = [
        *add_copied_column(
            model_name="vadecision",
            name="dispositif",
            field=copied_foreign_key(
                "catalogue.Dispositif",
                verbose_name="dispositif",
                help_text="Celui de la VA, recopié à l'enregistrement de la décision.",
            ),
            table="sons_vadecision",
            source="SELECT v.dispositif_id FROM sons_verificationaptitude v "
            "WHERE v.id = sons_vadecision.va_id",
        ),
        migrations.AddField(
            model_name="vadecision",
            name="decided_week",
            field=models.GeneratedField(
                db_persist=True,
                expression=core.clock.ParisMonday("decided_at"),
                output_field=models.DateField(),
                verbose_name="semaine de la décision (lundi, Paris)",
            ),
        ),
        migrations.AddIndex(
            model_name="vadecision",
            index=models.Index(
                fields=["dispositif", "outcome", "decided_week"],
                include=("decided_at",),
                name="va_decision_by_dispositif",
            ),
        ),
    ]
