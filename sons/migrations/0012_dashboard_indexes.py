"""The orders of a dispositif by state, with what the dashboard counts them by (their key, their
creation and their signature): its counts, its weekly chart, the orders it joins the claims,
deployments, VA and recoveries through, and the candidates of the orders at risk are read from
this index alone (an index-only scan), instead of visiting every row of the dispositif in the
table, where they lie scattered among the other dispositifs' rows. It replaces the plain index on
(dispositif, status), of which it is a superset. On SQLite the included columns are ignored."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sons", "0011_row_version"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="purchaseorder",
            name="sons_purcha_disposi_3b9e9d_idx",
        ),
        migrations.AddIndex(
            model_name="purchaseorder",
            index=models.Index(
                fields=["dispositif", "status"],
                include=["id", "created_at", "signed_at"],
                name="order_dispositif_status_cover",
            ),
        ),
    ]
