"""A line of an « achèvement » filing carries its notice's order, copied from the notices for
the lines already there: whether an order told the ASP of its completion in time is judged from
the lines and their filings (an index on the order), without joining every notice."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE payments_filedcompletion SET order_id = (
    SELECT n.order_id FROM sons_completionnotice n WHERE n.id = payments_filedcompletion.notice_id
)
"""


def field(null: bool) -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False,
        editable=False,
        help_text="Celui de la notification, recopié à la création de la ligne.",
        null=null,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="sons.purchaseorder",
        verbose_name="BDC",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_order_parts_dispositif"),
        ("sons", "0013_order_parts_dispositif"),
    ]

    operations = [
        migrations.AddField(model_name="filedcompletion", name="order", field=field(True)),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
        migrations.AlterField(model_name="filedcompletion", name="order", field=field(False)),
        migrations.AddIndex(
            model_name="filedcompletion",
            index=models.Index(
                fields=["order"],
                include=["filing", "agency_decision"],
                name="filed_completion_by_order",
            ),
        ),
    ]
