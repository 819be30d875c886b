"""A row version on the webhook subscriptions, raised by every write (the model's save, and a
trigger for every other UPDATE): their ETags derive from it (core/versioning.py)."""

from django.db import migrations, models

from core.versioning import row_version_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0005_webhook_signature_scheme"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="row_version",
            field=models.PositiveBigIntegerField(
                db_default=1,
                default=1,
                editable=False,
                help_text="Augmente à chaque écriture de la ligne, par qui que ce soit.",
                verbose_name="version de la ligne",
            ),
        ),
        row_version_trigger("api", "WebhookSubscription"),
    ]
