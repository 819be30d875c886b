"""On PostgreSQL the journal refuses UPDATE and DELETE in the database itself (core migration
0004), so no raw SQL can rewrite the record quietly; the services still append."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core.models import JournalEntry
from tests.factories import referencing_in_state

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the trigger is PostgreSQL's (SQLite: ORM only)"
    ),
]

TABLE = JournalEntry._meta.db_table


@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET actor_label = 'mallory' WHERE sequence = 2",
        f"DELETE FROM {TABLE} WHERE sequence = 2",
        f"DELETE FROM {TABLE}",
        f"UPDATE {TABLE} SET reason = reason",  # even a change that changes nothing
    ],
)
def test_raw_sql_cannot_change_or_delete_an_entry(admin_user, sql):
    referencing_in_state("under_review", actor=admin_user)
    before = list(JournalEntry.objects.order_by("sequence").values_list("sequence", "actor_label"))
    with (
        pytest.raises(DatabaseError, match="Le journal des transitions est en ajout seul"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    after = list(JournalEntry.objects.order_by("sequence").values_list("sequence", "actor_label"))
    assert after == before


def test_the_services_still_append(admin_user):
    referencing_in_state("submitted", actor=admin_user)
    count = JournalEntry.objects.count()
    referencing_in_state("under_review", actor=admin_user)
    assert JournalEntry.objects.count() > count
    from core.journal import verify_chain

    assert verify_chain()[1] is None
