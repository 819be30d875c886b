"""Each vendor's record of its clients, from what the shared client rows held: every vendor
with an order for a client gets a copy of the contact details and characteristics as they stand
(what it saw until now); a VA already issued keeps the client's e-mail of today as its address."""

from django.db import migrations

CONTACT = ("address", "postal_code", "city", "email", "mssante_address", "characteristics")


def forwards(apps, schema_editor):
    Client = apps.get_model("sons", "Client")
    ClientRelationship = apps.get_model("sons", "ClientRelationship")
    PurchaseOrder = apps.get_model("sons", "PurchaseOrder")
    VerificationAptitude = apps.get_model("sons", "VerificationAptitude")
    pairs = set(PurchaseOrder.objects.values_list("vendor_id", "client_id").distinct())
    clients = Client.objects.in_bulk({client_id for _vendor, client_id in pairs})
    ClientRelationship.objects.bulk_create(
        [
            ClientRelationship(
                vendor_id=vendor_id,
                client_id=client_id,
                **{name: getattr(clients[client_id], name) for name in CONTACT},
            )
            for vendor_id, client_id in sorted(pairs)
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    issued = VerificationAptitude.objects.exclude(issued_at=None).select_related("order__client")
    for va in issued.iterator(chunk_size=1000):
        VerificationAptitude.objects.filter(pk=va.pk).update(contact_email=va.order.client.email)


class Migration(migrations.Migration):
    dependencies = [("sons", "0004_client_relationship")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
