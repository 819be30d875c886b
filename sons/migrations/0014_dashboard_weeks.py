"""The Paris week of an order's signature, kept by the database (a generated column,
core.clock.ParisMonday), and the dashboard's index of a dispositif's orders ordered by state and
that week: the orders signed per week are counted from the index, no instant converted."""

import core.clock
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0005_deadline_hour_sourced_tariff'),
        ('sons', '0013_order_parts_dispositif'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='purchaseorder',
            name='order_dispositif_status_cover',
        ),
        migrations.AddField(
            model_name='purchaseorder',
            name='signed_week',
            field=models.GeneratedField(db_persist=True, expression=core.clock.ParisMonday('signed_at'), output_field=models.DateField(), verbose_name='semaine de la signature (lundi, Paris)'),
        ),
        migrations.AddIndex(
            model_name='purchaseorder',
            index=models.Index(fields=['dispositif', 'status', 'signed_week'], include=('id', 'created_at', 'signed_at'), name='order_dispositif_status_cover'),
        ),
    ]
