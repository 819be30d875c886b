"""The claims still to file of a dispositif in the order of their keys (a partial index): the
dashboard's list of claims to file stops at its LIMIT without reading the claims already filed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_deadline_hour_sourced_tariff"),
        ("payments", "0008_filed_completion_order"),
        ("sons", "0013_order_parts_dispositif"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="paymentclaim",
            index=models.Index(
                condition=models.Q(
                    ("deadline_missed_at__isnull", True), ("status__in", ["draft", "ready"])
                ),
                fields=["dispositif", "id"],
                name="claim_unfiled_by_dispositif",
            ),
        ),
    ]
