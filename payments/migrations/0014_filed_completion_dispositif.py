"""A line of an « achèvement » filing carries its order's dispositif (copied for the lines
already there), and the evidence of completion is indexed by it: one dispositif's orders are
judged from their own lines."""

from django.db import migrations, models

from core.copied_columns import add_copied_column
from sons.models.parts import order_dispositif_field


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0013_dashboard_weeks_dropped"),
    ]

    operations = [
        *add_copied_column(
            model_name="filedcompletion",
            name="dispositif",
            field=order_dispositif_field(),
            table="payments_filedcompletion",
            source="SELECT o.dispositif_id FROM sons_purchaseorder o "
            "WHERE o.id = payments_filedcompletion.order_id",
        ),
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
