"""The rows of an order's life that carry its dispositif.

A deployment, a VA, a payment claim, a recovery and a line of an « achèvement » filing belong to
one order, and through it to one dispositif. They carry that dispositif themselves
(`dispositif_id`), so that what is counted or judged per dispositif (the administrators'
dashboard: every deployment, VA, claim and recovery of a dispositif by state and by week; the
evidence of completion of its orders at risk) reads their own index instead of joining each of
them to the orders (300,000 at national scale).

It is the order's, never chosen: `save()` takes it from the order when the row is first saved;
a writer that inserts rows without `save()` (a set-based insert, `core.transitions.insert_rows`)
gives it from the order's row it read. An order's dispositif is set at its creation and never
changes (no form, service or API writes it afterwards), so the copy cannot drift;
`tests/sons/test_order_parts.py` checks every kind of row against its order after a whole life.
"""

from __future__ import annotations

from django.db import migrations, models
from django.utils.translation import gettext_lazy as _

from core.copied_columns import add_copied_column, copied_foreign_key, take_copy


def order_dispositif_field() -> models.ForeignKey:
    return copied_foreign_key(
        "catalogue.Dispositif",
        verbose_name=_("dispositif"),
        help_text=_("Celui du BDC, recopié à la création de la ligne."),
    )


class OrderPart(models.Model):
    """A row of an order's life; subclasses declare `order` (a foreign key to the order)."""

    # Read with the row's state by each model's (dispositif, status) index.
    dispositif = order_dispositif_field()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        take_copy(self, "dispositif", source="order")
        return super().save(*args, **kwargs)


def copy_order_dispositif(*, model_name: str, table: str) -> list:
    """The migration operations that give an order part's table its order's dispositif, copied
    for the rows already there."""
    return add_copied_column(
        model_name=model_name,
        name="dispositif",
        field=order_dispositif_field(),
        table=table,
        source=f"SELECT o.dispositif_id FROM sons_purchaseorder o WHERE o.id = {table}.order_id",
    )


def carry_order_dispositif(*, model_name: str, table: str, index: str, include: list[str]) -> list:
    """`copy_order_dispositif`, and the table's (dispositif, status) index covering `include`."""
    return [
        *copy_order_dispositif(model_name=model_name, table=table),
        migrations.AddIndex(
            model_name=model_name,
            index=models.Index(fields=["dispositif", "status"], include=include, name=index),
        ),
    ]
