"""The Paris weeks of a claim's filing and payment, kept by the database (generated columns,
core.clock.ParisMonday), and the dashboard's index of a dispositif's claims ordered by state and
those weeks: the money claimed and paid per week is summed from the index."""

import core.clock
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0005_deadline_hour_sourced_tariff'),
        ('payments', '0009_unfiled_claims_by_dispositif'),
        ('sons', '0013_order_parts_dispositif'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='paymentclaim',
            name='claim_by_dispositif',
        ),
        migrations.AddField(
            model_name='paymentclaim',
            name='paid_week',
            field=models.GeneratedField(db_persist=True, expression=core.clock.ParisMonday('paid_on'), output_field=models.DateField(), verbose_name='semaine du paiement (lundi)'),
        ),
        migrations.AddField(
            model_name='paymentclaim',
            name='submitted_week',
            field=models.GeneratedField(db_persist=True, expression=core.clock.ParisMonday('submitted_at'), output_field=models.DateField(), verbose_name='semaine du dépôt (lundi, Paris)'),
        ),
        migrations.AddIndex(
            model_name='paymentclaim',
            index=models.Index(fields=['dispositif', 'status', 'submitted_week', 'paid_week'], include=('created_at', 'submitted_at', 'paid_on', 'amount_ttc_cents', 'paid_amount_cents'), name='claim_by_dispositif'),
        ),
    ]
