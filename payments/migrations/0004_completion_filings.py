"""Filings of notices of completion: their kind beside the claims', and each notice's line."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_late_claims_left_out'),
        ('sons', '0008_conflict_decision'),
    ]

    operations = [
        migrations.AlterField(
            model_name='aspfiling',
            name='kind',
            field=models.CharField(choices=[('avance', "Demande d'avance"), ('solde', 'Demande de solde'), ('secondaire', 'Prestation secondaire'), ('compensation', "Compensation d'une avance (client retiré du périmètre)"), ('achevement', "Notification d'achèvement")], max_length=16, verbose_name='nature'),
        ),
        migrations.CreateModel(
            name='FiledCompletion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('line_number', models.PositiveIntegerField(verbose_name='numéro de ligne')),
                ('filing', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='completion_lines', to='payments.aspfiling')),
                ('notice', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='filed_line', to='sons.completionnotice', verbose_name="notification d'achèvement")),
            ],
            options={
                'verbose_name': "notification d'achèvement déposée",
                'verbose_name_plural': "notifications d'achèvement déposées",
                'constraints': [models.UniqueConstraint(fields=('filing', 'line_number'), name='filed_completion_unique_line')],
            },
        ),
    ]
