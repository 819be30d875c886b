"""Tampering with the journal as only the table's owner could, for the tests that check it is
found: on PostgreSQL the append-only trigger (core migration 0004) is disabled for the statement,
inside one transaction."""

from django.db import connection, transaction

from core.models import JournalEntry

TRIGGER = "TRIGGER core_journalentry_append_only"


def tamper(sql: str, params: list) -> None:
    table = JournalEntry._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # (the foreign keys' checks still pending from the inserts must run first)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE {TRIGGER}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
