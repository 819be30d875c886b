"""The payment claims and the recoveries carry their order's dispositif (sons/models/parts.py),
copied from the orders for the rows already there: the dashboard counts them per dispositif by
their own index instead of joining each to its order."""

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
        ("payments", "0006_completion_refiled_after_refusal"),
        ("sons", "0013_order_parts_dispositif"),
    ]

    operations = [
        *carried(
            "paymentclaim",
            "payments_paymentclaim",
            "claim_by_dispositif",
            ["created_at", "submitted_at", "paid_on", "amount_ttc_cents", "paid_amount_cents"],
        ),
        *carried(
            "recovery",
            "payments_recovery",
            "recovery_by_dispositif",
            ["opened_at", "notified_at", "closed_at"],
        ),
    ]
