"""A row version on the orders and the vendors' client records, raised by every write (the
model's save, and a trigger for every other UPDATE): the API's ETags derive from it
(core/versioning.py). Existing rows start at 1; the column keeps a database default of 1 so
that raw INSERTs need not name it."""

from django.db import migrations, models

from core.versioning import row_version_trigger

FIELD = models.PositiveBigIntegerField(
    db_default=1,
    default=1,
    editable=False,
    help_text="Augmente à chaque écriture de la ligne, par qui que ce soit.",
    verbose_name="version de la ligne",
)


class Migration(migrations.Migration):
    dependencies = [
        ("sons", "0010_order_prestation_variant"),
    ]

    operations = [
        migrations.AddField(model_name="clientrelationship", name="row_version", field=FIELD),
        migrations.AddField(model_name="purchaseorder", name="row_version", field=FIELD.clone()),
        row_version_trigger("sons", "ClientRelationship"),
        row_version_trigger("sons", "PurchaseOrder"),
    ]
