"""One financing per client per dispositif: two vendors on one client, 10 French working days."""

import datetime as dt

import pytest

from core.errors import RuleViolation
from core.models import JournalEntry
from sons.models import ClientConflict, ConflictStatus, Decision, OrderStatus, PurchaseOrder
from sons.services.conflicts import decide_conflict, respond_to_conflict
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
    assert all("22/11/2022 (fin de journée, heure de Paris)." in m.body for m in mailoutbox)


# --- SONS.md, « The life of one Prestation Ségur », step 3: each vendor's own 10 working days,
# and never two financings for one client: when more than one vendor kept its order, none is
# financed until an administrator (acting for the ASP) decides which one. ----------------------

WINDOWS_END = at_paris(2022, 11, 23, 0, 0)  # the rivals' 10 working days (Armistice skipped)


def _with_contact(*orders):
    for order in orders:
        vendor = order.vendor
        vendor.contact_email = f"conflits-{vendor.pk}@editeur.invalid"
        vendor.save()


@pytest.fixture
def both_kept(rivals, admin_user):
    """Step 3: both vendors keep their order, then their 10 working days end."""
    from payments.sweep import sweep

    for order in rivals:
        respond_to_conflict(
            order=order,
            decision=Decision.KEEP,
            note="Le client a signé chez nous.",
            actor=admin_user,
            at=at_paris(2022, 11, 8, 9, 0),
        )
    assert sweep(WINDOWS_END - dt.timedelta(seconds=1))["await_decision"] == 0
    counts = sweep(WINDOWS_END)
    assert (counts["await_decision"], counts["expire_conflict"]) == (1, 0)
    return rivals


def test_step3_both_kept_neither_avance_can_be_made_ready_or_filed(both_kept, admin_user):
    from payments.models import ClaimKind, ClaimStatus
    from payments.services import claims, filings
    from sons.selectors import in_unresolved_conflict

    conflict = ClientConflict.objects.get()
    assert conflict.status == ConflictStatus.AWAITING_DECISION
    entry = JournalEntry.objects.for_object(conflict).get(transition="await_decision")
    assert sorted(entry.snapshot["kept_orders"]) == sorted(o.pk for o in both_kept)
    at = at_paris(2022, 11, 24, 10, 0)  # avances still open until 30/11/2022 14:00
    for order in both_kept:
        order.refresh_from_db()
        assert order.status == OrderStatus.SIGNED  # neither is ended by the sweep
        claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user, at=at)
        with pytest.raises(RuleViolation) as exc:
            claims.make_ready(claim=claim, actor=admin_user, at=at)
        assert exc.value.code == "conflict_unresolved"
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.DRAFT
        with pytest.raises(RuleViolation) as exc:
            filings.build_filings(
                vendor=order.vendor,
                dispositif=order.dispositif,
                kind=ClaimKind.AVANCE,
                actor=admin_user,
                at=at,
            )
        assert exc.value.code == "nothing_to_file"
    assert set(in_unresolved_conflict(PurchaseOrder.objects.all())) == set(both_kept)


def test_step3_the_administrators_decision_finances_one_and_ends_the_other(
    both_kept, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    from payments.models import ClaimKind, ClaimStatus
    from payments.services import claims

    chosen, other = both_kept
    _with_contact(chosen, other)
    conflict = ClientConflict.objects.get()
    reason = "BDC de l'éditeur A signé le premier ; le client confirme son choix par écrit."
    at = at_paris(2022, 11, 25, 10, 0)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide_conflict(
            conflict=conflict, chosen_order=chosen, reason=reason, actor=admin_user, at=at
        )
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.DECIDED
    assert (conflict.chosen_order_id, conflict.decision_reason, conflict.closed_at) == (
        chosen.pk,
        reason,
        at,
    )
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.status == OrderStatus.SIGNED
    assert other.status == OrderStatus.CANCELLED
    assert other.sworn_statement == ""  # the administration decided: the vendor swore nothing

    decided = JournalEntry.objects.for_object(conflict).get(transition="decide")
    assert (decided.reason, decided.snapshot["chosen_order_id"]) == (reason, chosen.pk)
    assert decided.snapshot["set_aside"] == [other.pk]
    ended = JournalEntry.objects.for_object(other).get(transition="set_aside")
    assert (ended.source_state, ended.target_state, ended.reason) == ("signed", "cancelled", reason)

    assert sorted(r for m in mailoutbox for r in m.to) == sorted(
        [chosen.vendor.contact_email, other.vendor.contact_email]
    )
    by_vendor = {m.to[0]: m.body for m in mailoutbox}
    assert "est retenu" in by_vendor[chosen.vendor.contact_email]
    assert "est écarté" in by_vendor[other.vendor.contact_email]
    assert all(reason in body for body in by_vendor.values())

    # The chosen order proceeds; the other one can claim nothing.
    claim = claims.open_claim(order=chosen, kind=ClaimKind.AVANCE, actor=admin_user, at=at)
    assert claims.make_ready(claim=claim, actor=admin_user, at=at).status == ClaimStatus.READY
    with pytest.raises(RuleViolation):
        claims.make_ready(
            claim=claims.open_claim(order=other, kind=ClaimKind.AVANCE, actor=admin_user, at=at),
            actor=admin_user,
            at=at,
        )


def test_step3_a_refused_decision_writes_nothing(
    rivals, both_kept, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    chosen, other = both_kept
    conflict = ClientConflict.objects.get()
    stranger = signed_order(
        referencing=referenced(dispositif=chosen.dispositif, actor=admin_user),
        actor=admin_user,
        at=at_paris(2022, 11, 24, 9, 0),
    )
    entries = JournalEntry.objects.count()
    at = at_paris(2022, 11, 25, 10, 0)
    for order, reason, code in (
        (chosen, "   ", "decision_reason_required"),
        (stranger, "Le client a choisi ce fournisseur.", "conflict_choice_not_kept"),
        (None, "Le client a choisi ce fournisseur.", "chosen_order_required"),
    ):
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuleViolation) as exc,
        ):
            decide_conflict(
                conflict=conflict, chosen_order=order, reason=reason, actor=admin_user, at=at
            )
        assert exc.value.code == code
        assert callbacks == []
        conflict.refresh_from_db()
        assert (conflict.status, conflict.chosen_order_id, conflict.decision_reason) == (
            ConflictStatus.AWAITING_DECISION,
            None,
            "",
        )
        assert JournalEntry.objects.count() == entries
        assert set(
            PurchaseOrder.objects.filter(pk__in=[chosen.pk, other.pk]).values_list(
                "status", flat=True
            )
        ) == {OrderStatus.SIGNED}
    assert mailoutbox == []


def test_step3_no_decision_while_a_window_runs(rivals, admin_user):
    conflict = ClientConflict.objects.get()
    with pytest.raises(RuleViolation) as exc:
        decide_conflict(
            conflict=conflict,
            chosen_order=rivals[0],
            reason="Trop tôt.",
            actor=admin_user,
            at=at_paris(2022, 11, 10, 9, 0),
        )
    assert exc.value.code == "transition_not_allowed"
    conflict.refresh_from_db()
    assert (conflict.status, conflict.chosen_order_id) == (ConflictStatus.OPEN, None)


def test_step3_one_kept_the_other_silent_keeps_todays_outcome(rivals, admin_user):
    """One vendor kept, the other did not answer in its own 10 working days: the silent one
    loses the client, the conflict expires, nothing to decide."""
    from payments.sweep import sweep

    keeper, silent = rivals
    respond_to_conflict(
        order=keeper, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 11, 8, 9, 0)
    )
    counts = sweep(WINDOWS_END)
    assert (counts["expire_conflict"], counts["await_decision"]) == (1, 0)
    silent.refresh_from_db()
    keeper.refresh_from_db()
    assert (keeper.status, silent.status) == (OrderStatus.SIGNED, OrderStatus.CANCELLED)
    assert ClientConflict.objects.get().status == ConflictStatus.EXPIRED


# Toussaint (Tuesday 1 November 2022) and the Armistice (Friday 11 November) are public holidays.
B_SIGNS = at_paris(2022, 10, 24, 10, 0)  # Monday
# From Tue 25/10: 25-28 (4), 31 (5), 1/11 off, 2-4 (8), 7 (9), 8 (10): closes Wed 9/11 00:00.
AB_WINDOW_END = at_paris(2022, 11, 9, 0, 0)
C_SIGNS = at_paris(2022, 11, 7, 10, 0)  # the ninth working day of A's and B's window
# From Tue 8/11: 8-10 (3), 11/11 off, 14-18 (8), 21 (9), 22 (10): closes Wed 23/11 00:00.
C_WINDOW_END = at_paris(2022, 11, 23, 0, 0)


def test_step3_a_third_vendor_joining_on_day_nine_has_ten_working_days_of_its_own(
    admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    from payments.sweep import sweep

    dispositif = lgc_dispositif()
    client = ClientFactory()
    a = signed_order(
        referencing=referenced(
            dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory()
        ),
        actor=admin_user,
        client=client,
        at=at_paris(2022, 10, 3, 9, 0),
    )
    b = signed_order(
        referencing=referenced(
            dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory()
        ),
        actor=admin_user,
        client=client,
        at=B_SIGNS,
    )
    conflict = ClientConflict.objects.get()
    assert conflict.respond_by == AB_WINDOW_END
    respond_to_conflict(
        order=a, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 10, 25, 9, 0)
    )
    _with_contact(a, b)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        c = signed_order(
            referencing=referenced(
                dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory()
            ),
            actor=admin_user,
            client=client,
            at=C_SIGNS,
        )
    assert ClientConflict.objects.get() == conflict  # joined, not a second conflict
    windows = dict(conflict.positions.values_list("order_id", "respond_by"))
    assert windows == {a.pk: AB_WINDOW_END, b.pk: AB_WINDOW_END, c.pk: C_WINDOW_END}
    conflict.refresh_from_db()
    assert conflict.respond_by == C_WINDOW_END  # the conflict's window: the latest of them
    joined = JournalEntry.objects.for_object(conflict).get(transition="join")
    assert joined.snapshot["orders"] == [c.pk]
    by_vendor = {
        m.to[0]: m.body
        for m in mailoutbox
        if m.to[0] in (a.vendor.contact_email, b.vendor.contact_email)
    }
    assert all(
        "08/11/2022 (fin de journée, heure de Paris)" in body for body in by_vendor.values()
    )  # theirs stay

    # B's own window ends on 9/11: B loses the client; the conflict stays open for C.
    assert sweep(AB_WINDOW_END)["expire_conflict"] == 0
    b.refresh_from_db()
    assert b.status == OrderStatus.CANCELLED
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.OPEN
    with pytest.raises(RuleViolation) as exc:
        respond_to_conflict(order=a, decision=Decision.KEEP, actor=admin_user, at=AB_WINDOW_END)
    assert exc.value.code == "conflict_response_late"
    # C answers on the last minute of its own tenth working day.
    respond_to_conflict(
        order=c,
        decision=Decision.KEEP,
        actor=admin_user,
        at=C_WINDOW_END - dt.timedelta(minutes=1),
    )
    assert sweep(C_WINDOW_END - dt.timedelta(seconds=1))["await_decision"] == 0
    assert sweep(C_WINDOW_END)["await_decision"] == 1
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.AWAITING_DECISION
    assert [o.pk for o in conflict.kept_orders()] == [a.pk, c.pk]


def test_step3_a_vendor_joining_a_conflict_awaiting_decision_reopens_it(both_kept, admin_user):
    conflict = ClientConflict.objects.get()
    late = signed_order(
        referencing=referenced(
            dispositif=conflict.dispositif, actor=admin_user, version=SolutionVersionFactory()
        ),
        actor=admin_user,
        client=conflict.client,
        at=at_paris(2022, 11, 24, 10, 0),
    )
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.OPEN
    assert conflict.positions.get(order=late).respond_by == at_paris(2022, 12, 9, 0, 0)
    assert conflict.respond_by == at_paris(2022, 12, 9, 0, 0)
    assert ClientConflict.objects.count() == 1


def test_step3_the_admin_door_and_the_command_decide(both_kept, admin_client, admin_user):
    from django.core.management import call_command
    from django.urls import reverse

    chosen, other = both_kept
    conflict = ClientConflict.objects.get()
    page = admin_client.get(reverse("admin:sons_clientconflict_change", args=[conflict.pk]))
    assert "Désigner la commande financée" in page.content.decode()
    url = reverse("admin:sons_clientconflict_transition", args=[conflict.pk, "decide"])
    refused = admin_client.post(url, {"chosen_order": other.reference, "reason": ""})
    assert refused.status_code == 200 and "La décision doit être motivée." in (
        refused.content.decode()
    )
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.AWAITING_DECISION
    done = admin_client.post(
        url, {"chosen_order": other.reference, "reason": "Le client a résilié le BDC de A."}
    )
    assert done.status_code == 302
    conflict.refresh_from_db()
    assert (conflict.status, conflict.chosen_order_id) == (ConflictStatus.DECIDED, other.pk)
    chosen.refresh_from_db()
    assert chosen.status == OrderStatus.CANCELLED

    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="transition_not_allowed"):
        call_command(
            "decide_conflict",
            str(conflict.pk),
            "--order",
            other.reference,
            "--reason",
            "Encore.",
            "--by",
            admin_user.username,
        )


def test_step3_the_command_decides(both_kept, admin_user, capsys):
    from django.core.management import call_command

    chosen, _other = both_kept
    conflict = ClientConflict.objects.get()
    call_command(
        "decide_conflict",
        str(conflict.pk),
        "--order",
        chosen.reference,
        "--reason",
        "Premier BDC signé.",
        "--by",
        admin_user.username,
    )
    conflict.refresh_from_db()
    assert (conflict.status, conflict.chosen_order_id) == (ConflictStatus.DECIDED, chosen.pk)
    assert JournalEntry.objects.for_object(conflict).get(transition="decide").actor_id == (
        admin_user.pk
    )
    assert "financé" in capsys.readouterr().out


def test_step3_an_avance_made_ready_before_the_conflict_waits_out_of_the_filings(admin_user):
    """SONS.md step 3: never two financings for one client. An avance made ready while the
    vendor held the client alone is not filed once another vendor claims that client: it stays
    ready until the conflict is settled or decided."""
    from payments.models import ClaimKind, ClaimStatus
    from payments.services import claims, filings

    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=admin_user)
    second = referenced(dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory())
    client = ClientFactory()
    order_a = signed_order(
        referencing=first, actor=admin_user, client=client, at=at_paris(2022, 10, 3, 9, 0)
    )
    ready_at = at_paris(2022, 10, 4, 9, 0)
    claim = claims.open_claim(order=order_a, kind=ClaimKind.AVANCE, actor=admin_user, at=ready_at)
    claims.make_ready(claim=claim, actor=admin_user, at=ready_at)
    signed_order(referencing=second, actor=admin_user, client=client, at=SECOND_SIGNATURE)
    assert ClientConflict.objects.get().status == ConflictStatus.OPEN

    with pytest.raises(RuleViolation) as exc:
        filings.build_filings(
            vendor=order_a.vendor,
            dispositif=dispositif,
            kind=ClaimKind.AVANCE,
            actor=admin_user,
            at=at_paris(2022, 11, 8, 9, 0),
        )
    assert exc.value.code == "nothing_to_file"
    claim.refresh_from_db()
    assert (claim.status, claim.filing_id) == (ClaimStatus.READY, None)


def test_step3_each_decision_mail_is_recorded_once_per_vendor(
    both_kept, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    """SONS.md step 3: every vendor concerned is told of the decision; each mail is recorded
    on its position and a second delivery of the task sends nothing again."""
    from sons.models import ConflictPosition
    from sons.tasks import notify_conflict_decision

    chosen, other = both_kept
    _with_contact(chosen, other)
    conflict = ClientConflict.objects.get()
    at = at_paris(2022, 11, 25, 10, 0)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide_conflict(
            conflict=conflict,
            chosen_order=chosen,
            reason="Choix du client.",
            actor=admin_user,
            at=at,
        )
    positions = ConflictPosition.objects.filter(conflict=conflict).order_by("order_id")
    assert all(p.decision_notice_sent_at is not None for p in positions)
    decisions = [m for m in mailoutbox if m.subject.startswith("[SONS] Décision")]
    assert len(decisions) == 2
    notify_conflict_decision(conflict.pk)  # delivered again
    assert len([m for m in mailoutbox if m.subject.startswith("[SONS] Décision")]) == 2
