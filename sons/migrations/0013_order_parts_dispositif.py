"""The deployments and the VA carry their order's dispositif (sons/models/parts.py), copied
from the orders for the rows already there: the dashboard counts them per dispositif by their own
index instead of joining each to its order. And the orders still owing their prestation of a
dispositif, in the order of their keys: the orders at risk are judged from that index."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE {table} SET dispositif_id = (
    SELECT o.dispositif_id FROM sons_purchaseorder o WHERE o.id = {table}.order_id
)
"""


def field(null: bool) -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False,
        editable=False,
        help_text="Celui du BDC, recopié à la création de la ligne.",
        null=null,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="catalogue.dispositif",
        verbose_name="dispositif",
    )


def carried(model: str, table: str, index: str, include: list[str]) -> list:
    return [
        migrations.AddField(model_name=model, name="dispositif", field=field(True)),
        migrations.RunSQL(BACKFILL.format(table=table), migrations.RunSQL.noop, elidable=False),
        migrations.AlterField(model_name=model, name="dispositif", field=field(False)),
        migrations.AddIndex(
            model_name=model,
            index=models.Index(fields=["dispositif", "status"], include=include, name=index),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_deadline_hour_sourced_tariff"),
        ("sons", "0012_dashboard_indexes"),
    ]

    operations = [
        *carried(
            "deployment", "sons_deployment", "deployment_by_dispositif", ["firm_date_confirmed_at"]
        ),
        *carried(
            "verificationaptitude",
            "sons_verificationaptitude",
            "va_by_dispositif",
            ["order", "issued_at"],
        ),
        migrations.AddIndex(
            model_name="purchaseorder",
            index=models.Index(
                condition=models.Q(("status__in", ["conditional", "signed"])),
                fields=["dispositif", "id"],
                include=["created_at", "signed_at"],
                name="order_owing_by_dispositif",
            ),
        ),
    ]
