"""A column that copies a related row's value, kept for reading by one index (the rows of an
order's life carry its dispositif, `sons.models.parts`; a filing line carries its notice's
order, `payments.models.FiledCompletion`): the one field that describes such a column, and what
a migration does to add it to a table that already has rows.

The copy is never chosen: the model's `save()` takes it from the related row, and a set-based
writer gives it from the row it read; the value it copies never changes afterwards.
"""

from __future__ import annotations

from django.db import migrations, models


def copied_foreign_key(
    to: str, *, verbose_name, help_text, null: bool = False
) -> models.ForeignKey:
    """The foreign key of a copied column: never edited, never the target of a reverse
    accessor, without an index of its own (the model's index that reads it starts with it)."""
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,
        null=null,
        verbose_name=verbose_name,
        help_text=help_text,
    )


def take_copy(obj: models.Model, name: str, *, source: str) -> None:
    """What a model's `save()` calls: the copied foreign key `name` of `obj`, when not given by
    the writer, taken from the row its relation `source` leads to (which carries the same
    column)."""
    column = f"{name}_id"
    if getattr(obj, column) is None:
        setattr(obj, column, getattr(getattr(obj, source), column))


def add_copied_column(
    *, model_name: str, name: str, field: models.ForeignKey, table: str, source: str
) -> list:
    """The operations that add `field` as `name` to a table with rows: added nullable, every
    row filled by the SQL sub-query `source` (which names the row as `table`), then made
    NOT NULL. Reversed, the column is removed."""
    nullable = field.clone()
    nullable.null = True
    column = f"{name}_id"
    return [
        migrations.AddField(model_name=model_name, name=name, field=nullable),
        migrations.RunSQL(
            f"UPDATE {table} SET {column} = ({source})", migrations.RunSQL.noop, elidable=False
        ),
        migrations.AlterField(model_name=model_name, name=name, field=field),
    ]
