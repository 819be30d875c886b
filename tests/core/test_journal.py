"""The transition journal: chained, append-only, and tampering is found."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from core.journal import verify_chain
from core.models import JournalEntry, JournalIsAppendOnly
from tests.factories import SolutionVersionFactory, draft_referencing, referencing_in_state
from tests.journal import tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_entries(admin_user):
    referencing_in_state("under_review", actor=admin_user)
    return list(JournalEntry.objects.order_by("sequence"))


def test_each_entry_links_to_the_previous_one(three_entries):
    first, second, third = three_entries
    assert first.previous_hash == "0" * 64
    assert second.previous_hash == first.entry_hash
    assert third.previous_hash == second.entry_hash
    assert [e.sequence for e in three_entries] == [1, 2, 3]
    assert [(e.source_state, e.target_state) for e in three_entries] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "under_review"),
    ]


def test_a_whole_chain_verifies(three_entries, capsys):
    assert verify_chain() == (3, None)
    call_command("verify_journal")
    assert "3 entrées vérifiées" in capsys.readouterr().out


def test_a_tampered_reason_is_found(three_entries):
    table = JournalEntry._meta.db_table
    tamper(f"UPDATE {table} SET actor_label = %s WHERE sequence = %s", ["mallory", 2])
    checked, broken = verify_chain()
    assert checked == 1
    assert broken.sequence == 2
    with pytest.raises(CommandError, match="n° 2"):
        call_command("verify_journal")


def test_a_tampered_snapshot_is_found(three_entries):
    table = JournalEntry._meta.db_table
    tamper(f"UPDATE {table} SET target_state = %s WHERE sequence = %s", ["referenced", 3])
    assert verify_chain()[1].sequence == 3


def test_a_removed_entry_is_found(three_entries):
    table = JournalEntry._meta.db_table
    tamper(f"DELETE FROM {table} WHERE sequence = %s", [2])
    _, broken = verify_chain()
    assert broken.sequence == 3
    assert "manquante" in broken.reason


def test_a_removed_last_entry_is_found(three_entries):
    table = JournalEntry._meta.db_table
    tamper(f"DELETE FROM {table} WHERE sequence = %s", [3])
    checked, broken = verify_chain()
    assert checked == 2
    assert broken is not None


def test_a_rehashed_forgery_is_still_found_by_the_next_link(three_entries):
    """Changing an entry and recomputing its own hash breaks the next entry's link."""
    from core.journal import _hashed_fields, compute_hash

    entry = JournalEntry.objects.get(sequence=2)
    entry.actor_label = "mallory"
    forged = compute_hash(_hashed_fields(entry), entry.previous_hash)
    table = JournalEntry._meta.db_table
    tamper(
        f"UPDATE {table} SET actor_label = %s, entry_hash = %s WHERE sequence = %s",
        ["mallory", forged, 2],
    )
    assert verify_chain()[1].sequence == 3


def test_entries_cannot_be_changed_or_deleted_through_the_orm(three_entries):
    entry = three_entries[0]
    entry.reason = "autre"
    with pytest.raises(JournalIsAppendOnly):
        entry.save()
    with pytest.raises(JournalIsAppendOnly):
        entry.delete()
    with pytest.raises(JournalIsAppendOnly):
        JournalEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(JournalIsAppendOnly):
        JournalEntry.objects.all().delete()
    assert JournalEntry.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_entry_is_not_written_outside_a_transaction(admin_user):
    from core.journal import record_transition

    version = SolutionVersionFactory()
    with pytest.raises(RuntimeError):
        record_transition(obj=version, transition="x", source="a", target="b", actor=admin_user)


def test_a_rolled_back_change_leaves_no_entry(admin_user):
    with pytest.raises(RuntimeError), transaction.atomic():
        draft_referencing(actor=admin_user)
        raise RuntimeError("boom")
    assert JournalEntry.objects.count() == 0
    assert verify_chain() == (0, None)


def test_admin_journal_is_read_only(client, admin_user, three_entries):
    client.force_login(admin_user)
    entry = three_entries[0]
    assert client.get("/admin/core/journalentry/").status_code == 200
    page = client.get(f"/admin/core/journalentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert b'name="reason"' not in page.content
    assert client.post(f"/admin/core/journalentry/{entry.pk}/delete/").status_code == 403
    assert client.get("/admin/core/journalentry/add/").status_code == 403
    assert JournalEntry.objects.count() == 3
