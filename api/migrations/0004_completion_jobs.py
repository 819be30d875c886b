"""Bulk jobs of notices of completion (kind « completions »)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0003_registrations_to_relationships'),
    ]

    operations = [
        migrations.AlterField(
            model_name='bulkjob',
            name='kind',
            field=models.CharField(choices=[('orders', 'BDC'), ('clients', 'clients'), ('completions', "notifications d'achèvement")], max_length=16, verbose_name='objet'),
        ),
    ]
