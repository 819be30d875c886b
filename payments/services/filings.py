"""Filings: ready claims gathered into numbered files for the agency, then its feedback."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from catalogue.models import Dispositif, Vendor
from core import metrics
from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.services import after_commit, now_or
from core.transitions import apply_transition, apply_transition_many, lock_in_order
from sons.models import OrderStatus
from sons.services import orders as order_services

from .. import tasks
from ..asp.feedback import AspFeedback, Decision
from ..asp.filing import SCHEMA_VERSION
from ..models import (
    FILABLE_CLAIM_KINDS,
    AspFiling,
    ClaimKind,
    ClaimStatus,
    FeedbackImport,
    FilingStatus,
    PaymentClaim,
)
from ..rules import paid_amount_admissible
from ..selectors import kinds_in_filing

DEFAULT_MAX_LINES = 5000


def build_filings(
    *,
    vendor: Vendor,
    dispositif: Dispositif,
    kind: str,
    actor: Actor,
    at: dt.datetime | None = None,
    max_lines: int | None = None,
) -> list[AspFiling]:
    """Every ready claim of the vendor for the dispositif and kind, in filings of at most
    `max_lines` lines; the claims become submitted, the files are written after commit."""
    at = now_or(at)
    max_lines = max_lines or getattr(settings, "ASP_MAX_LINES", DEFAULT_MAX_LINES)
    if kind not in FILABLE_CLAIM_KINDS:
        raise RuleViolation(
            "filing_kind_invalid",
            _("Un dépôt est une demande d'avance, de solde ou de prestation secondaire."),
            field="kind",
        )
    filings = []
    with transaction.atomic():
        ids = list(
            PaymentClaim.objects.select_for_update(no_key=True, of=("self",))
            .filter(
                order__vendor=vendor,
                order__dispositif=dispositif,
                kind__in=kinds_in_filing(kind),
                status=ClaimStatus.READY,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            raise RuleViolation(
                "nothing_to_file",
                _("Aucune demande prête pour %(vendor)s sur %(code)s (%(kind)s)."),
                field="kind",
                vendor=vendor.name,
                code=dispositif.code,
                kind=kind,
            )
        last = AspFiling.objects.filter(vendor=vendor, dispositif=dispositif, kind=kind).aggregate(
            n=Max("sequence")
        )["n"]
        for offset in range(0, len(ids), max_lines):
            chunk = ids[offset : offset + max_lines]
            sequence = (last or 0) + 1 + offset // max_lines
            filing = AspFiling.objects.create(
                vendor=vendor,
                dispositif=dispositif,
                kind=kind,
                sequence=sequence,
                name=AspFiling.file_stem(
                    kind=kind, dispositif=dispositif, vendor=vendor, sequence=sequence
                ),
                schema_version=SCHEMA_VERSION,
                created_at=at,
            )
            lines = {pk: n for n, pk in enumerate(chunk, start=1)}
            apply_transition_many(
                PaymentClaim,
                chunk,
                "submit",
                actor=actor,
                snapshot=lambda c, f=filing, lines=lines: {"filing": f.name, "line": lines[c.pk]},
                arguments=lambda c, f=filing, lines=lines: {
                    "at": at,
                    "filing_id": f.pk,
                    "line_number": lines[c.pk],
                },
            )
            record_transition(
                obj=filing,
                transition="generate",
                source="",
                target=filing.status,
                actor=actor,
                snapshot={"name": filing.name, "lines": len(chunk), "at": at.isoformat()},
            )
            after_commit(tasks.render_filing, filing.pk)
            filings.append(filing)
    metrics.FILINGS_BUILT.labels(kind=kind).inc(len(filings))
    return filings


def transmit_filing(*, filing: AspFiling, actor: Actor, at: dt.datetime | None = None):
    at = now_or(at)
    if not filing.json_sha256:
        raise RuleViolation(
            "filing_not_rendered",
            _("Les fichiers du dépôt ne sont pas encore prêts."),
            field="json_file",
        )
    return apply_transition(filing, "transmit", actor=actor, snapshot={"at": at.isoformat()}, at=at)


class FeedbackRefused(RuleViolation):
    """A feedback file that cannot be applied whole; `problems` lists every line at fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "feedback_refused",
            _("Fichier de retour refusé, rien n'a été modifié : %(problems)s"),
            field="items",
            problems=" ; ".join(problems),
        )


def _move(name: str) -> tuple[str, frozenset[str], str]:
    """(transition, states it leaves, state it reaches), read from the claim's state machine."""
    found = [
        t
        for t in PaymentClaim._meta.get_field("status").get_all_transitions(PaymentClaim)
        if t.name == name
    ]
    targets = {t.target for t in found}
    if not found or len(targets) != 1:
        raise LookupError(f"PaymentClaim.{name}: transition absente ou ambiguë")
    return name, frozenset(t.source for t in found), targets.pop()


# decision -> (transition, statuses from which it may apply, status it leads to)
MOVES = {
    Decision.VALIDATED: _move("validate"),
    Decision.TO_CORRECT: _move("ask_correction"),
    Decision.PAID: _move("pay"),
    Decision.REJECTED: _move("reject"),
}


def import_feedback(
    *, content: bytes, file_name: str, actor: Actor, at: dt.datetime | None = None
) -> FeedbackImport:
    """Applies an agency feedback file whole, or refuses it whole with every problem listed.

    Importing the same file again changes nothing (its hash is kept)."""
    at = now_or(at)
    digest = hashlib.sha256(content).hexdigest()
    known = FeedbackImport.objects.filter(sha256=digest).first()
    if known is not None:
        return known
    try:
        feedback = AspFeedback.model_validate_json(content)
    except ValueError as exc:
        raise FeedbackRefused([f"fichier illisible : {exc}"]) from None

    with transaction.atomic():
        filings = {
            f.name: f
            for f in AspFiling.objects.filter(name__in={item.filing for item in feedback.items})
        }
        problems: list[str] = []
        plan: list[tuple[PaymentClaim, object]] = []
        seen: set[tuple[str, int]] = set()
        # The lock order (core.transitions): the orders a paid solde completes, the claims,
        # the filings acknowledged, all before the journal's head.
        lines = PaymentClaim.objects.filter(filing__in=list(filings.values()))
        lock_in_order(
            {
                "sons.PurchaseOrder": lines.values("order_id"),
                "payments.PaymentClaim": lines.values("pk"),
                "payments.AspFiling": [f.pk for f in filings.values()],
            }
        )
        claims = {
            (c.filing.name, c.line_number): c
            for c in lines.select_related("filing__vendor", "filing__dispositif", "order")
        }
        for index, item in enumerate(feedback.items, start=1):
            where = f"décision {index} ({item.filing}, ligne {item.line_number})"
            if item.filing not in filings:
                problems.append(f"{where} : dépôt inconnu")
                continue
            key = (item.filing, item.line_number)
            if key in seen:
                problems.append(f"{where} : ligne citée deux fois")
                continue
            seen.add(key)
            claim = claims.get(key)
            if claim is None:
                problems.append(f"{where} : ligne inconnue dans ce dépôt")
                continue
            _name, sources, target = MOVES[item.decision]
            if claim.status == target:  # already applied by an earlier file
                continue
            if claim.status not in sources:
                problems.append(
                    f"{where} : impossible de passer de « {claim.get_status_display()} » "
                    f"à « {ClaimStatus(target).label} »"
                )
                continue
            if item.decision == Decision.PAID and not paid_amount_admissible(
                claimed_cents=claim.amount_ttc_cents, paid_cents=item.paid_amount_cents
            ):
                problems.append(f"{where} : montant payé supérieur au montant demandé")
                continue
            if (
                item.decision == Decision.PAID
                and claim.kind == ClaimKind.SOLDE
                and claim.order.status != OrderStatus.SIGNED
            ):
                problems.append(
                    f"{where} : le BDC {claim.order.reference} n'est plus signé "
                    f"({claim.order.get_status_display()}), son solde ne peut être payé"
                )
                continue
            plan.append((claim, item))
        if problems:
            raise FeedbackRefused(problems)
        moved = _apply(plan, actor=actor, at=at, file_name=file_name)
        for filing in filings.values():
            if filing.status != FilingStatus.ACKNOWLEDGED:
                apply_transition(
                    filing, "acknowledge", actor=actor, snapshot={"feedback": file_name}, at=at
                )
        return FeedbackImport.objects.create(
            sha256=digest,
            file_name=file_name,
            imported_at=at,
            item_count=len(feedback.items),
            moved_count=moved,
        )


def _apply(plan, *, actor: Actor, at: dt.datetime, file_name: str) -> int:
    """Moves the claims by the agency's decisions, one bulk transition per kind of decision;
    a paid solde completes its order."""
    by_transition: dict[str, dict[int, object]] = {}
    for claim, item in plan:
        by_transition.setdefault(MOVES[item.decision][0], {})[claim.pk] = item
    for name, items in by_transition.items():
        rows = apply_transition_many(
            PaymentClaim,
            list(items),
            name,
            actor=actor,
            reason=lambda c, items=items: items[c.pk].reason,
            snapshot=lambda c, items=items: _feedback_snapshot(items[c.pk], file_name),
            arguments=lambda c, items=items, name=name: _arguments(name, items[c.pk], at),
        )
        if name == "pay":
            order_services.complete_orders(
                order_ids=[c.order_id for c in rows if c.kind == ClaimKind.SOLDE],
                actor=actor,
                at=at,
            )
    return len(plan)


def _arguments(name: str, item, at: dt.datetime) -> dict:
    return {
        "validate": {"at": at},
        "ask_correction": {"agency_reason": item.reason},
        "reject": {"agency_reason": item.reason},
        "pay": {"paid_on": item.paid_on, "paid_amount_cents": item.paid_amount_cents},
    }[name]


def _feedback_snapshot(item, file_name: str) -> dict:
    return {
        "feedback": file_name,
        "filing": item.filing,
        "line": item.line_number,
        "paid_on": item.paid_on.isoformat() if item.paid_on else None,
        "paid_amount_cents": item.paid_amount_cents,
    }


def reopen_claim(*, claim: PaymentClaim, actor: Actor) -> PaymentClaim:
    """A claim the agency sent back « à modifier » returns to draft to be corrected."""
    return apply_transition(
        claim,
        "reopen",
        actor=actor,
        snapshot={"previous_filing": claim.filing.name if claim.filing_id else None},
    )
