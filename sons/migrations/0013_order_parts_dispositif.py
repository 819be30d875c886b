"""The deployments and the VA carry their order's dispositif (sons/models/parts.py), copied
from the orders for the rows already there: the dashboard counts them per dispositif by their own
index instead of joining each to its order. And the orders still owing their prestation of a
dispositif, in the order of their keys: the orders at risk are judged from that index."""

from django.db import migrations, models

from sons.models.parts import carry_order_dispositif


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_deadline_hour_sourced_tariff"),
        ("sons", "0012_dashboard_indexes"),
    ]

    operations = [
        *carry_order_dispositif(
            model_name="deployment",
            table="sons_deployment",
            index="deployment_by_dispositif",
            include=["firm_date_confirmed_at"],
        ),
        *carry_order_dispositif(
            model_name="verificationaptitude",
            table="sons_verificationaptitude",
            index="va_by_dispositif",
            include=["order", "issued_at"],
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
