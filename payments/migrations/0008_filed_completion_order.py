"""A line of an « achèvement » filing carries its notice's order, copied from the notices for
the lines already there: whether an order told the ASP of its completion in time is judged from
the lines and their filings (an index on the order), without joining every notice."""

from django.db import migrations, models

from core.copied_columns import add_copied_column
from payments.models.completion import filed_line_order_field


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_order_parts_dispositif"),
        ("sons", "0013_order_parts_dispositif"),
    ]

    operations = [
        *add_copied_column(
            model_name="filedcompletion",
            name="order",
            field=filed_line_order_field(),
            table="payments_filedcompletion",
            source="SELECT n.order_id FROM sons_completionnotice n "
            "WHERE n.id = payments_filedcompletion.notice_id",
        ),
        migrations.AddIndex(
            model_name="filedcompletion",
            index=models.Index(
                fields=["order"],
                include=["filing", "agency_decision"],
                name="filed_completion_by_order",
            ),
        ),
    ]
