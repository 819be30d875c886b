"""The payment claims and the recoveries carry their order's dispositif (sons/models/parts.py),
copied from the orders for the rows already there: the dashboard counts them per dispositif by
their own index instead of joining each to its order."""

from django.db import migrations, models

from sons.models.parts import carry_order_dispositif


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_deadline_hour_sourced_tariff"),
        ("payments", "0006_completion_refiled_after_refusal"),
        ("sons", "0013_order_parts_dispositif"),
    ]

    operations = [
        *carry_order_dispositif(
            model_name="paymentclaim",
            table="payments_paymentclaim",
            index="claim_by_dispositif",
            include=[
                "created_at",
                "submitted_at",
                "paid_on",
                "amount_ttc_cents",
                "paid_amount_cents",
            ],
        ),
        *carry_order_dispositif(
            model_name="recovery",
            table="payments_recovery",
            index="recovery_by_dispositif",
            include=["opened_at", "notified_at", "closed_at"],
        ),
    ]
