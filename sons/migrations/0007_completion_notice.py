"""The vendor's notice of completion of its prestation, one per order."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sons', '0006_client_contact_moved'),
    ]

    operations = [
        migrations.CreateModel(
            name='CompletionNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('notified_at', models.DateTimeField(db_index=True, verbose_name='notifiée le')),
                ('notified_by', models.CharField(max_length=255, verbose_name='notifiée par')),
                ('statement', models.TextField(verbose_name="déclaration d'achèvement")),
                ('order', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='completion_notice', to='sons.purchaseorder', verbose_name='BDC')),
            ],
            options={
                'verbose_name': "notification d'achèvement de la prestation",
                'verbose_name_plural': "notifications d'achèvement de la prestation",
            },
        ),
    ]
