"""Payment claims: amounts, the avance cut-off, the solde's conditions, avenants, compensation."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalogue.deadlines import PARIS
from core.errors import RuleViolation, TransitionRefused
from core.models import JournalEntry
from payments.models import ClaimKind, ClaimStatus, PaymentClaim
from payments.services import claims
from tests.payments.factories import accept_by_va, invoice_pdf, open_dispositif, signed_now
from tests.sons.factories import lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

ADVANCES_END = dt.datetime(2022, 11, 30, 14, 0, tzinfo=PARIS)


def state(claim):
    claim.refresh_from_db()
    return claim.status, JournalEntry.objects.for_object(claim).count()


def force_status(claim, status):
    """Test shortcut for the agency's side, which has its own tests (feedback import)."""
    PaymentClaim.objects.filter(pk=claim.pk).update(
        status=status, paid_amount_cents=claim.amount_ttc_cents
    )
    claim.refresh_from_db()
    return claim


@pytest.fixture
def order(admin_user):
    return signed_now(admin_user)


def test_avance_is_the_advance_rate_of_the_frozen_amount(order, admin_user):
    claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    assert (claim.amount_ht_cents, claim.amount_ttc_cents) == (45000, 54000)
    claim = claims.make_ready(claim=claim, actor=admin_user)
    assert claim.status == ClaimStatus.READY
    assert claim.checks["deadline"]["kind"] == "advances"


def test_avance_filed_at_13_59_59_passes_and_at_14_00_00_is_refused(admin_user):
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    in_time = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    claims.make_ready(claim=in_time, actor=admin_user, at=ADVANCES_END - dt.timedelta(seconds=1))
    other = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    late = claims.open_claim(order=other, kind=ClaimKind.AVANCE, actor=admin_user)
    before = state(late)
    with pytest.raises(RuleViolation) as exc:
        claims.make_ready(claim=late, actor=admin_user, at=ADVANCES_END)
    assert exc.value.code == "advances_deadline_passed"
    assert "30/11/2022 à 14:00" in exc.value.message
    assert state(late) == before == (ClaimStatus.DRAFT, 1)


def test_a_second_live_claim_of_the_same_kind_is_refused(order, admin_user):
    first = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    assert exc.value.code == "claim_already_open"
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentClaim.objects.create(
            order=order,
            kind=ClaimKind.AVANCE,
            amount_ht_cents=1,
            amount_ttc_cents=1,
            created_at=timezone.now(),
        )
    claims.cancel_claim(claim=first, actor=admin_user, reason="Erreur de saisie")
    assert claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user).pk != first.pk


def test_avance_needs_a_signed_order(admin_user):
    from tests.sons.factories import draft_order

    dispositif = open_dispositif()
    ref = referenced(dispositif=dispositif, actor=admin_user)
    draft = draft_order(referencing=ref, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        claims.open_claim(order=draft, kind=ClaimKind.AVANCE, actor=admin_user)
    assert exc.value.code == "order_not_signed"


def test_avance_on_a_dispositif_without_known_rate_is_refused(admin_user):
    order = signed_now(admin_user, dispositif=open_dispositif(advance_rate=None))
    with pytest.raises(RuleViolation) as exc:
        claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    assert exc.value.code == "advance_rate_unknown"


def test_solde_lists_what_is_missing(order, admin_user):
    solde = claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    problems, _checks = claims.claim_problems(solde, timezone.now())
    assert {p["code"] for p in problems} == {"acceptance_missing", "invoice_missing"}
    with pytest.raises(RuleViolation):
        claims.make_ready(claim=solde, actor=admin_user)
    assert state(solde)[0] == ClaimStatus.DRAFT


def test_solde_after_a_paid_avance_is_the_rest_to_the_cent(
    order, admin_user, django_capture_on_commit_callbacks
):
    avance = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    force_status(avance, ClaimStatus.PAID)
    accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
    solde = claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    assert avance.amount_ttc_cents + solde.amount_ttc_cents == order.amount_ttc_cents
    assert avance.amount_ht_cents + solde.amount_ht_cents == order.amount_ht_cents
    solde = claims.attach_invoice(
        claim=solde,
        number="F-2026-001",
        date=dt.date(2026, 11, 1),
        amount_ttc_cents=order.amount_ttc_cents,
        pdf=invoice_pdf(),
        actor=admin_user,
    )
    solde = claims.make_ready(claim=solde, actor=admin_user)
    assert solde.status == ClaimStatus.READY
    assert solde.checks["acceptance"]["kind"] == "va"


def test_the_invoice_covers_the_whole_prestation(
    order, admin_user, django_capture_on_commit_callbacks
):
    accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
    solde = claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    solde = claims.attach_invoice(
        claim=solde,
        number="F-1",
        date=dt.date(2026, 11, 1),
        amount_ttc_cents=order.amount_ttc_cents - 1,
        pdf=invoice_pdf(),
        actor=admin_user,
    )
    problems, _ = claims.claim_problems(solde, timezone.now())
    assert [p["code"] for p in problems] == ["invoice_not_global"]
    with pytest.raises(RuleViolation) as exc:
        claims.attach_invoice(
            claim=solde,
            number="F-2",
            date=dt.date(2026, 11, 1),
            amount_ttc_cents=1,
            pdf=b"not a pdf",
            actor=admin_user,
        )
    assert exc.value.code == "invoice_pdf_invalid"


def test_a_solde_waits_for_the_latest_avenant_to_be_paid(
    order, admin_user, django_capture_on_commit_callbacks
):
    avance = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    with pytest.raises(RuleViolation) as exc:
        claims.amend_advance(claim=avance, amount_ht_cents=1, amount_ttc_cents=1, actor=admin_user)
    assert exc.value.code == "amendment_not_applicable"
    force_status(avance, ClaimStatus.PAID)
    with pytest.raises(RuleViolation) as exc:
        claims.amend_advance(
            claim=avance, amount_ht_cents=45001, amount_ttc_cents=54001, actor=admin_user
        )
    assert exc.value.code == "amendment_amount_invalid"
    avenant = claims.amend_advance(
        claim=avance, amount_ht_cents=40000, amount_ttc_cents=48000, actor=admin_user
    )
    assert avenant.amends == avance
    assert PaymentClaim.objects.filter(order=order, kind=ClaimKind.AVANCE).count() == 2

    accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
    solde = claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    assert solde.amount_ttc_cents == order.amount_ttc_cents - 48000  # the rest after the avenant
    solde = claims.attach_invoice(
        claim=solde,
        number="F-3",
        date=dt.date(2026, 11, 1),
        amount_ttc_cents=order.amount_ttc_cents,
        pdf=invoice_pdf(),
        actor=admin_user,
    )
    problems, _ = claims.claim_problems(solde, timezone.now())
    assert [p["code"] for p in problems] == ["advance_not_paid"]
    force_status(avenant, ClaimStatus.PAID)
    assert claims.claim_problems(solde, timezone.now())[0] == []


def test_preparing_a_solde_is_not_offered_before_its_avance_is_paid(
    order, admin_user, django_capture_on_commit_callbacks
):
    """« Préparer le solde » offered, then blocked by « avance non payée » (issue 18): the act says
    so before anything is written, and the service refuses with the same rule."""
    from payments.acts import PREPARE_CLAIM

    avance = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
    now = timezone.now()
    assert "advance_not_paid" in {
        r.code for r in PREPARE_CLAIM[ClaimKind.SOLDE].refusals(order, at=now)
    }
    before = PaymentClaim.objects.filter(order=order).count()
    with pytest.raises(RuleViolation) as exc:
        claims.prepare_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    assert exc.value.code == "advance_not_paid"
    assert PaymentClaim.objects.filter(order=order).count() == before
    force_status(avance, ClaimStatus.PAID)
    assert PREPARE_CLAIM[ClaimKind.SOLDE].refusals(order, at=timezone.now()) == []
    assert claims.prepare_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user).kind == (
        ClaimKind.SOLDE
    )


def test_removing_a_client_from_the_solde_offsets_its_avance(order, admin_user):
    with pytest.raises(RuleViolation) as exc:
        claims.remove_from_solde_perimeter(order=order, actor=admin_user, reason="Client parti")
    assert exc.value.code == "no_paid_advance"
    avance = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    force_status(avance, ClaimStatus.PAID)
    solde = claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=admin_user)
    compensation = claims.remove_from_solde_perimeter(
        order=order, actor=admin_user, reason="Le client a cessé son activité."
    )
    assert compensation.kind == ClaimKind.COMPENSATION
    assert compensation.amount_ttc_cents == -54000
    assert compensation.amount_ht_cents == -45000
    assert state(solde)[0] == ClaimStatus.CANCELLED
    with pytest.raises(RuleViolation) as exc:
        claims.remove_from_solde_perimeter(order=order, actor=admin_user, reason="Encore")
    assert exc.value.code == "already_compensated"


def test_secondary_prestation_has_its_own_tariff_and_usage_gate(
    admin_user, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from catalogue.models import Tariff, UsageGate
    from catalogue.rules import TariffKind

    dispositif = open_dispositif()
    Tariff.objects.create(
        dispositif=dispositif, prestation="secondary", kind=TariffKind.FLAT, flat_cents=50000
    )
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="secondary",
        indicator="mes_documents_sent_ratio",
        label="Plus de 60 % des documents envoyés à Mon espace santé",
        comparison="gt",
        threshold=Decimal("0.60"),
        observation_months=6,
    )
    order = signed_now(admin_user, dispositif=dispositif)
    accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
    secondary = claims.open_claim(order=order, kind=ClaimKind.SECONDAIRE, actor=admin_user)
    assert (secondary.amount_ht_cents, secondary.amount_ttc_cents) == (50000, 60000)
    problems, _ = claims.claim_problems(secondary, timezone.now())
    assert {p["code"] for p in problems} == {"usage_gate_unmet", "invoice_missing"}


def test_compensation_cannot_be_opened_by_hand(order, admin_user):
    with pytest.raises(RuleViolation):
        claims.open_claim(order=order, kind=ClaimKind.COMPENSATION, actor=admin_user)


def test_ready_claims_cannot_be_paid_without_the_agency(order, admin_user):
    claim = claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user),
        actor=admin_user,
    )
    from core.transitions import apply_transition

    with pytest.raises(TransitionRefused):
        apply_transition(
            claim, "pay", actor=admin_user, paid_on=dt.date(2026, 1, 1), paid_amount_cents=1
        )
