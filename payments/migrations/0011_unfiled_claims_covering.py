"""The claims still to file of a dispositif, read from their partial index alone: it carries
their kind and their creation, which the dashboard's list filters on (the kinds whose filing
deadline is still ahead, what existed at the instant judged)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0005_deadline_hour_sourced_tariff'),
        ('payments', '0010_dashboard_weeks'),
        ('sons', '0015_va_decision_dispositif'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='paymentclaim',
            name='claim_unfiled_by_dispositif',
        ),
        migrations.AddIndex(
            model_name='paymentclaim',
            index=models.Index(condition=models.Q(('deadline_missed_at__isnull', True), ('status__in', ['draft', 'ready'])), fields=['dispositif', 'id'], include=('kind', 'created_at'), name='claim_unfiled_by_dispositif'),
        ),
    ]
