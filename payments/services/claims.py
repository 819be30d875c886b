"""Payment claims: opened on an order, checked against every rule, made ready for a filing."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind
from catalogue.models import Prestation
from catalogue.selectors import deadline_for, price
from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.money import round_cents
from core.services import now_or
from core.transitions import apply_transition, lock_in_order
from sons.models import PurchaseOrder
from sons.selectors import acceptance_instant

from .. import acts
from ..acts import cancellable_claim_states, latest_advance
from ..models import FILED_CLAIM_STATUSES, LIVE_CLAIM_STATUSES, ClaimKind, ClaimStatus, PaymentClaim
from ..rules import split_advance

INVOICED_KINDS = (ClaimKind.SOLDE, ClaimKind.SECONDAIRE)


def _amounts(order: PurchaseOrder, kind: str) -> tuple[int, int]:
    rate = order.dispositif.advance_rate
    if kind == ClaimKind.AVANCE:
        return (
            split_advance(order.amount_ht_cents, rate)[0],
            split_advance(order.amount_ttc_cents, rate)[0],
        )
    if kind == ClaimKind.SOLDE:
        advance = latest_advance(order)
        if advance is None:
            return order.amount_ht_cents, order.amount_ttc_cents
        return (
            order.amount_ht_cents - advance.amount_ht_cents,
            order.amount_ttc_cents - advance.amount_ttc_cents,
        )
    if kind == ClaimKind.SECONDAIRE:
        _tariff, amount = price(
            dispositif=order.dispositif,
            characteristics=order.contact.characteristics,
            prestation=Prestation.SECONDARY,
        )
        return amount.ht_cents, amount.ttc_cents
    raise RuleViolation(
        "claim_kind_invalid", _("Nature de demande inconnue : %(kind)s."), field="kind", kind=kind
    )


def open_claim(
    *, order: PurchaseOrder, kind: str, actor: Actor, at: dt.datetime | None = None
) -> PaymentClaim:
    """A draft claim with its amounts computed from the order's frozen amount."""
    at = now_or(at)
    if kind == ClaimKind.COMPENSATION:
        raise RuleViolation(
            "claim_kind_invalid",
            _("Une compensation naît du retrait d'un client du périmètre du solde."),
            field="kind",
        )
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        acts.OPEN_CLAIM[kind].require(order, at=at)
        ht, ttc = _amounts(order, kind)
        claim = PaymentClaim.objects.create(
            order=order, kind=kind, amount_ht_cents=ht, amount_ttc_cents=ttc, created_at=at
        )
        record_transition(
            obj=claim,
            transition="create",
            source="",
            target=claim.status,
            actor=actor,
            snapshot={"at": at.isoformat(), "amount_ht_cents": ht, "amount_ttc_cents": ttc},
        )
    return claim


def prepare_claim(
    *, order: PurchaseOrder, kind: str, actor: Actor, at: dt.datetime | None = None
) -> PaymentClaim:
    """Opens a claim only when the order meets its kind's rules now (payments.acts
    PREPARE_CLAIM, what the portal offers as « Préparer la demande … »); an avance, which needs
    no document, is made ready at once. All or nothing: a refusal leaves no draft behind."""
    at = now_or(at)
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        acts.PREPARE_CLAIM[kind].require(locked, at=at)
        claim = open_claim(order=locked, kind=kind, actor=actor, at=at)
        if kind == ClaimKind.AVANCE:
            claim = make_ready(claim=claim, actor=actor, at=at)
    return claim


def attach_invoice(
    *,
    claim: PaymentClaim,
    number: str,
    date: dt.date,
    amount_ttc_cents: int,
    pdf: bytes,
    actor: Actor,
    at: dt.datetime | None = None,
) -> PaymentClaim:
    """The one global invoice of the prestation, attached to a solde or secondary claim: every
    door (portal form, API, management command) calls it; an invoice is not dated after today
    (Europe/Paris)."""
    from catalogue.deadlines import PARIS

    at = now_or(at)
    if date > at.astimezone(PARIS).date():
        raise RuleViolation(
            "invoice_date_future",
            _("La date de facture (%(date)s) est dans le futur."),
            field="invoice_date",
            date=date.strftime("%d/%m/%Y"),
        )
    if claim.kind not in INVOICED_KINDS:
        raise RuleViolation(
            "invoice_not_applicable",
            _("Seules les demandes de solde et de prestation secondaire portent une facture."),
            field="invoice_number",
        )
    if not number.strip():
        raise RuleViolation(
            "invoice_number_required",
            _("Le numéro de facture est obligatoire."),
            field="invoice_number",
        )
    if not pdf.startswith(b"%PDF"):
        raise RuleViolation(
            "invoice_pdf_invalid", _("La facture doit être un fichier PDF."), field="invoice_pdf"
        )
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        locked = PaymentClaim.objects.select_for_update(no_key=True).get(pk=claim.pk)
        if locked.status != ClaimStatus.DRAFT:
            raise RuleViolation(
                "claim_not_draft",
                _("La facture se joint à une demande en brouillon."),
                field="status",
            )
        locked.invoice_number = number.strip()
        locked.invoice_date = date
        locked.invoice_amount_ttc_cents = amount_ttc_cents
        locked.invoice_sha256 = digest
        locked.invoice_pdf.save(
            f"{locked.order.reference}-facture-{digest[:12]}.pdf", ContentFile(pdf), save=False
        )
        locked.save()
        record_transition(
            obj=locked,
            transition="attach_invoice",
            source=locked.status,
            target=locked.status,
            actor=actor,
            snapshot={
                "number": locked.invoice_number,
                "date": date.isoformat(),
                "amount_ttc_cents": amount_ttc_cents,
                "sha256": digest,
            },
        )
    return locked


def claim_problems(claim: PaymentClaim, at: dt.datetime) -> tuple[list[dict], dict[str, Any]]:
    """Every rule that stops this claim from being filed at `at` (payments.acts, the guard of
    `make_ready`), and what was checked, as the journal records it."""
    return [r.as_dict() for r in acts.claim_refusals(claim, at)], claim_checks(claim, at)


def claim_checks(claim: PaymentClaim, at: dt.datetime) -> dict[str, Any]:
    """What the rules of a claim read at `at` (its deadline, its acceptance), as the journal
    records it beside the move."""
    order = claim.order
    checks: dict[str, Any] = {"at": at.isoformat()}
    if claim.kind == ClaimKind.AVANCE:
        deadline = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.ADVANCES, at=at)
        checks["deadline"] = deadline.as_snapshot() if deadline else None
    elif claim.kind in INVOICED_KINDS:
        accepted = acceptance_instant(order)
        checks["acceptance"] = (
            {"kind": accepted[0], "at": accepted[1].isoformat()} if accepted else None
        )
        soldes = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.SOLDES, at=at)
        checks["deadline"] = soldes.as_snapshot() if soldes else None
    return checks


def make_ready(*, claim: PaymentClaim, actor: Actor, at: dt.datetime | None = None) -> PaymentClaim:
    """Checks every rule at `at`; the claim becomes ready for a filing, or nothing changes."""
    at = now_or(at)
    with transaction.atomic():
        # The lock order (core.transitions): the order, then the claim; the rules are judged
        # on what the locks hold, not on a copy read before them.
        order_id = PaymentClaim.objects.values_list("order_id", flat=True).get(pk=claim.pk)
        locked = lock_in_order(
            {"sons.PurchaseOrder": [order_id], "payments.PaymentClaim": [claim.pk]}
        )["payments.PaymentClaim"][claim.pk]
        checks = claim_checks(locked, at)
        # The transition's guard (payments.acts.claim_rules_met) judges the rules on the
        # locked rows and refuses with every reason.
        return apply_transition(
            claim, "make_ready", actor=actor, snapshot=checks, at=at, checks=checks
        )


def amend_advance(
    *,
    claim: PaymentClaim,
    amount_ht_cents: int,
    amount_ttc_cents: int,
    actor: Actor,
    at: dt.datetime | None = None,
) -> PaymentClaim:
    """An avenant: a new line amending an avance already filed; the history is kept."""
    at = now_or(at)
    order = claim.order
    if claim.kind != ClaimKind.AVANCE or claim.status not in FILED_CLAIM_STATUSES:
        raise RuleViolation(
            "amendment_not_applicable",
            _("Un avenant modifie une avance déjà déposée à l'ASP."),
            field="amends",
        )
    ceiling_ht, ceiling_ttc = _amounts(order, ClaimKind.AVANCE)
    if not (0 < amount_ht_cents <= ceiling_ht and 0 < amount_ttc_cents <= ceiling_ttc):
        raise RuleViolation(
            "amendment_amount_invalid",
            _("Le montant de l'avenant doit être positif et au plus l'avance du BDC."),
            field="amount_ttc_cents",
        )
    with transaction.atomic():
        locked = PaymentClaim.objects.select_for_update(no_key=True).get(pk=claim.pk)
        if hasattr(locked, "amendment"):
            raise RuleViolation(
                "already_amended",
                _("Cette avance a déjà un avenant : amendez le dernier."),
                field="amends",
            )
        amendment = PaymentClaim.objects.create(
            order=order,
            kind=ClaimKind.AVANCE,
            amends=locked,
            amount_ht_cents=amount_ht_cents,
            amount_ttc_cents=amount_ttc_cents,
            created_at=at,
        )
        record_transition(
            obj=amendment,
            transition="amend",
            source="",
            target=amendment.status,
            actor=actor,
            snapshot={
                "amends_claim_id": locked.pk,
                "previous_ttc_cents": locked.amount_ttc_cents,
                "amount_ttc_cents": amount_ttc_cents,
            },
        )
    return amendment


def remove_from_solde_perimeter(
    *, order: PurchaseOrder, actor: Actor, reason: str, at: dt.datetime | None = None
) -> PaymentClaim:
    """A client leaves the solde périmètre: its solde is cancelled and its paid avance offset."""
    at = now_or(at)
    if not reason.strip():
        raise RuleViolation(
            "removal_reason_required", _("Le retrait d'un client doit être motivé."), field="reason"
        )
    with transaction.atomic():
        PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        advance = latest_advance(order)
        paid = (
            PaymentClaim.objects.filter(
                order=order, kind=ClaimKind.AVANCE, status=ClaimStatus.PAID
            ).aggregate(total=Sum("paid_amount_cents"))["total"]
            or 0
        )
        if advance is None or paid == 0:
            raise RuleViolation(
                "no_paid_advance",
                _("Aucune avance payée n'est à compenser pour ce BDC."),
                field="order",
            )
        if PaymentClaim.objects.filter(
            order=order, kind=ClaimKind.COMPENSATION, status__in=LIVE_CLAIM_STATUSES
        ).exists():
            raise RuleViolation(
                "already_compensated",
                _("L'avance de ce BDC est déjà compensée."),
                field="order",
            )
        for solde in PaymentClaim.objects.filter(
            order=order,
            kind=ClaimKind.SOLDE,
            status__in=cancellable_claim_states(),
        ):
            apply_transition(solde, "cancel", actor=actor, reason=reason)
        # The HT part of what was paid, in the avance's own HT/TTC proportion, rounded once.
        ratio_ht = round_cents(Decimal(advance.amount_ht_cents) * paid / advance.amount_ttc_cents)
        compensation = PaymentClaim.objects.create(
            order=order,
            kind=ClaimKind.COMPENSATION,
            amount_ht_cents=-ratio_ht,
            amount_ttc_cents=-paid,
            created_at=at,
        )
        record_transition(
            obj=compensation,
            transition="create",
            source="",
            target=compensation.status,
            actor=actor,
            reason=reason,
            snapshot={"advance_paid_cents": paid},
        )
    return compensation


def cancel_claim(*, claim: PaymentClaim, actor: Actor, reason: str) -> PaymentClaim:
    return apply_transition(claim, "cancel", actor=actor, reason=reason)
