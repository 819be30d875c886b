"""A line of an « achèvement » filing carries its order's dispositif (copied for the lines
already there), and the evidence of completion is indexed by it: one dispositif's orders are
judged from their own lines."""

from django.db import migrations, models

from sons.models.parts import copy_order_dispositif


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0013_dashboard_weeks_dropped"),
    ]

    operations = [
        *copy_order_dispositif(model_name="filedcompletion", table="payments_filedcompletion"),
        migrations.RemoveIndex(model_name="filedcompletion", name="filed_completion_by_order"),
        migrations.AddIndex(
            model_name="filedcompletion",
            index=models.Index(
                fields=["dispositif", "order"],
                include=["filing", "agency_decision"],
                name="filed_completion_by_dispositif",
            ),
        ),
    ]
