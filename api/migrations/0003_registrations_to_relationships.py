"""Clients registered through the API become the vendor's records of them (with the details the
shared client row held), then the registrations go: the record is the registration."""

from django.db import migrations

CONTACT = ("address", "postal_code", "city", "email", "mssante_address", "characteristics")


def forwards(apps, schema_editor):
    ClientRegistration = apps.get_model("api", "ClientRegistration")
    ClientRelationship = apps.get_model("sons", "ClientRelationship")
    rows = ClientRegistration.objects.select_related("client").order_by("pk")
    ClientRelationship.objects.bulk_create(
        [
            ClientRelationship(
                vendor_id=r.vendor_id,
                client_id=r.client_id,
                created_at=r.registered_at,
                **{name: getattr(r.client, name) for name in CONTACT},
            )
            for r in rows.iterator(chunk_size=1000)
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_schedules"),
        ("sons", "0005_client_relationship_data"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.DeleteModel(name="ClientRegistration"),
    ]
