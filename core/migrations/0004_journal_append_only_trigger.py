"""The journal refuses UPDATE and DELETE in PostgreSQL itself, whoever sends them.

The model and its queryset already refuse to change or delete an entry through the ORM; a
statement-level trigger now refuses it to raw SQL too (a script, a console, a bug bypassing the
ORM), so that the record cannot be rewritten quietly: changing it takes disabling the trigger,
which only the table's owner can do and which the chained hashes still reveal
(`manage.py verify_journal`).

TRUNCATE is left out on purpose: Django's `flush` (and so the test suite's transactional tests,
and `manage.py flush`) empties every table with TRUNCATE, which a BEFORE TRUNCATE trigger would
refuse. Deny the application's database role the TRUNCATE privilege instead where it is not the
table's owner.

SQLite and other databases: nothing (the ORM's refusal stands alone there).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION core_journalentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Le journal des transitions est en ajout seul : % refusé sur %.',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Une entrée du journal ne se modifie ni ne s''efface.';
END;
$$;
DROP TRIGGER IF EXISTS core_journalentry_append_only ON core_journalentry;
CREATE TRIGGER core_journalentry_append_only
    BEFORE UPDATE OR DELETE ON core_journalentry
    FOR EACH STATEMENT EXECUTE FUNCTION core_journalentry_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS core_journalentry_append_only ON core_journalentry;
DROP FUNCTION IF EXISTS core_journalentry_append_only();
"""


def _run(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # No parameters: the « % » of RAISE are PL/pgSQL's, not placeholders.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def forward(apps, schema_editor):
    _run(schema_editor, FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_routine_run"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
