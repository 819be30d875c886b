"""One financing per client per dispositif: two vendors on one client, 10 French working days."""

import pytest

from core.errors import RuleViolation
from core.models import JournalEntry
from sons.models import ClientConflict, ConflictStatus, Decision, OrderStatus
from sons.services.conflicts import respond_to_conflict
from tests.factories import SolutionVersionFactory
from tests.sons.factories import (
    ClientFactory,
    at_paris,
    lgc_dispositif,
    referenced,
    signed_order,
)

pytestmark = pytest.mark.django_db

# Monday 7 November 2022; Friday 11 November (Armistice) is a public holiday.
SECOND_SIGNATURE = at_paris(2022, 11, 7, 10, 0)


@pytest.fixture
def rivals(admin_user):
    """Two vendors, each with a referenced solution, signing for the same client."""
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=admin_user)
    second = referenced(dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory())
    client = ClientFactory()
    order_a = signed_order(
        referencing=first, actor=admin_user, client=client, at=at_paris(2022, 10, 3, 9, 0)
    )
    order_b = signed_order(referencing=second, actor=admin_user, client=client, at=SECOND_SIGNATURE)
    return order_a, order_b


def test_a_second_vendor_on_the_same_client_opens_a_conflict_for_both(rivals, mailoutbox):
    order_a, order_b = rivals
    conflict = ClientConflict.objects.get()
    assert conflict.status == ConflictStatus.OPEN
    assert {p.order_id for p in conflict.positions.all()} == {order_a.pk, order_b.pk}
    assert conflict.opened_at == SECOND_SIGNATURE
    assert order_b.status == OrderStatus.SIGNED  # the signature itself stands


def test_the_ten_working_days_skip_the_weekends_and_armistice_day(rivals):
    # From Tue 8: 8, 9, 10 (3), Fri 11 is a holiday, 14-18 (8), 21, 22 (10): closes Wed 23 at 00:00.
    conflict = ClientConflict.objects.get()
    assert conflict.respond_by == at_paris(2022, 11, 23, 0, 0)
    entry = JournalEntry.objects.for_object(conflict).get(transition="open")
    assert entry.snapshot["working_days"] == 10


def test_the_same_vendor_twice_is_not_a_conflict(admin_user):
    ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    signed_order(referencing=ref, actor=admin_user)
    signed_order(referencing=ref, actor=admin_user)  # another client
    assert not ClientConflict.objects.exists()


def test_withdrawal_cancels_the_order_and_settles_the_conflict(rivals, admin_user):
    order_a, order_b = rivals
    with pytest.raises(RuleViolation) as exc:
        respond_to_conflict(
            order=order_b, decision=Decision.WITHDRAW, actor=admin_user, at=SECOND_SIGNATURE
        )
    assert exc.value.code == "sworn_statement_required"
    respond_to_conflict(
        order=order_b,
        decision=Decision.WITHDRAW,
        actor=admin_user,
        note="Je retire ma commande : le client a choisi l'autre fournisseur.",
        at=at_paris(2022, 11, 22, 23, 59),
    )
    order_b.refresh_from_db()
    assert order_b.status == OrderStatus.CANCELLED
    conflict = ClientConflict.objects.get()
    assert conflict.status == ConflictStatus.SETTLED
    order_a.refresh_from_db()
    assert order_a.status == OrderStatus.SIGNED


def test_an_answer_after_the_tenth_working_day_is_refused(rivals, admin_user):
    _, order_b = rivals
    with pytest.raises(RuleViolation) as exc:
        respond_to_conflict(
            order=order_b, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 11, 23, 0, 0)
        )
    assert exc.value.code == "conflict_response_late"
    position = ClientConflict.objects.get().positions.get(order=order_b)
    assert position.decision == Decision.PENDING


def test_both_keeping_leaves_the_conflict_open(rivals, admin_user):
    for order in rivals:
        respond_to_conflict(
            order=order, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 11, 8, 9, 0)
        )
    conflict = ClientConflict.objects.get()
    assert conflict.status == ConflictStatus.OPEN
    assert set(conflict.positions.values_list("decision", flat=True)) == {Decision.KEEP}


def test_change_moves_the_order_to_the_right_client(rivals, admin_user):
    _, order_b = rivals
    right_client = ClientFactory()
    with pytest.raises(RuleViolation) as exc:
        respond_to_conflict(
            order=order_b, decision=Decision.CHANGE, actor=admin_user, at=SECOND_SIGNATURE
        )
    assert exc.value.code == "corrected_client_required"
    respond_to_conflict(
        order=order_b,
        decision=Decision.CHANGE,
        new_client=right_client,
        note="Erreur de RPPS à la saisie.",
        actor=admin_user,
        at=SECOND_SIGNATURE,
    )
    order_b.refresh_from_db()
    assert order_b.client == right_client
    assert order_b.status == OrderStatus.SIGNED
    assert ClientConflict.objects.get().status == ConflictStatus.SETTLED
    assert JournalEntry.objects.for_object(order_b).filter(transition="change_client").exists()


def test_an_order_outside_any_conflict_cannot_answer(admin_user):
    ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        respond_to_conflict(order=order, decision=Decision.KEEP, actor=admin_user)
    assert exc.value.code == "no_open_conflict"


def test_both_vendors_are_told_after_commit(
    admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=admin_user)
    second = referenced(dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory())
    for ref in (first, second):
        editor = ref.solution_version.solution.editor
        editor.contact_email = f"contact-{editor.pk}@editeur.invalid"
        editor.save()
    client = ClientFactory()
    signed_order(referencing=first, actor=admin_user, client=client)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        signed_order(referencing=second, actor=admin_user, client=client, at=SECOND_SIGNATURE)
    recipients = sorted(r for m in mailoutbox for r in m.to)
    assert len(recipients) == 2
    assert all("23/11/2022 à 00:00" in m.body for m in mailoutbox)
