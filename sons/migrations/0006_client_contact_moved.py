"""The contact details and characteristics now live in each vendor's record of the client."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sons", "0005_client_relationship_data"),
        ("api", "0003_registrations_to_relationships"),
    ]

    operations = [
        migrations.RemoveField(model_name="client", name="address"),
        migrations.RemoveField(model_name="client", name="characteristics"),
        migrations.RemoveField(model_name="client", name="city"),
        migrations.RemoveField(model_name="client", name="email"),
        migrations.RemoveField(model_name="client", name="mssante_address"),
        migrations.RemoveField(model_name="client", name="postal_code"),
    ]
