"""Filings: ready claims gathered into numbered files for the agency, then its feedback. A claim
late at the deposit instant never goes into one (`build_filings`, `transmit_filing`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalogue.models import Dispositif, Vendor
from core import metrics
from core.clock import format_paris
from core.errors import RuleViolation
from core.journal import Actor, Change, record_transition, record_transitions
from core.services import after_commit, now_or
from core.transitions import apply_transition, apply_transition_many, lock_in_order
from sons.models import OrderStatus, PurchaseOrder
from sons.selectors import in_unresolved_conflict
from sons.services import orders as order_services

from .. import tasks
from ..asp.feedback import AspFeedback, Decision
from ..models import (
    COMPLETION_FILING_KIND,
    FILABLE_CLAIM_KINDS,
    AspFiling,
    ClaimKind,
    ClaimStatus,
    FeedbackImport,
    FilingStatus,
    PaymentClaim,
)
from ..rules import paid_amount_admissible
from ..selectors import filing_deadlines_judged, kinds_in_filing, past_filing_deadline
from ..sweep import reason_per_row
from . import completion_filings
from .completion_filings import build_completion_filings
from .numbering import numbered_filings

DEFAULT_MAX_LINES = 5000


@dataclass(frozen=True)
class LeftOut:
    """A claim kept out of a filing because its filing deadline in force at the deposit
    instant had passed, and why."""

    claim_id: int
    order_reference: str
    kind: str
    reason: str


class BuiltFilings(list):
    """The filings built (a list of `AspFiling`), with the ready claims left out of them for
    lateness in `left_out`."""

    def __init__(self, filings=(), left_out=()):
        super().__init__(filings)
        self.left_out: list[LeftOut] = list(left_out)


def _leave_out_late(
    late: dict[int, str], *, actor: Actor, at: dt.datetime, moment: str
) -> list[LeftOut]:
    """Records on each late claim (locked by the caller) why it stays out of every filing
    (SONS.md, life of a Prestation, step 4), journaled; the vendor is mailed after commit. A
    claim the sweep already marked keeps the instant it was marked."""
    if not late:
        return []
    claims = list(
        PaymentClaim.objects.filter(pk__in=list(late))
        .only("pk", "status", "kind", "order", "amends", "deadline_missed_notified_at")
        .order_by("pk")
    )
    PaymentClaim.objects.filter(pk__in=list(late), deadline_missed_at__isnull=True).update(
        deadline_missed_at=at
    )
    PaymentClaim.objects.filter(pk__in=list(late)).update(
        deadline_missed_reason=reason_per_row(late)
    )
    # Journaled once per claim: a claim already left out, and told, is left out again silently.
    record_transitions(
        [
            Change(
                c,
                "flag_deadline_missed",
                c.status,
                c.status,
                late[c.pk],
                {"at": at.isoformat(), "moment": moment},
            )
            for c in claims
            if c.deadline_missed_notified_at is None
        ],
        actor=actor,
    )
    return [
        LeftOut(c.pk, PurchaseOrder.reference_of(c.order_id), c.kind, late[c.pk]) for c in claims
    ]


def build_filings(
    *,
    vendor: Vendor,
    dispositif: Dispositif,
    kind: str,
    actor: Actor,
    at: dt.datetime | None = None,
    max_lines: int | None = None,
) -> BuiltFilings:
    """Every ready claim of the vendor for the dispositif and kind, in filings of at most
    `max_lines` lines; the claims become submitted, the files are written after commit.

    Each ready claim is judged at `at` against its filing deadline in force at that instant
    (`payments.selectors.past_filing_deadline`, one query for the set): a late one is left
    out, its reason recorded on it and journaled, and the vendor is mailed the list after
    commit; it is never put in a filing (the `submit` guard says the same on each row). When
    every ready claim is late, no filing is built and the left-out claims are still recorded:
    the result is empty, its `left_out` says why. A claim whose client is in an unresolved
    conflict is not filed: it stays ready until the conflict is settled or decided."""
    at = now_or(at)
    max_lines = max_lines or getattr(settings, "ASP_MAX_LINES", DEFAULT_MAX_LINES)
    if kind == COMPLETION_FILING_KIND:  # notices of completion: a kind of their own
        return BuiltFilings(
            build_completion_filings(
                vendor=vendor, dispositif=dispositif, actor=actor, at=at, max_lines=max_lines
            )
        )
    if kind not in FILABLE_CLAIM_KINDS:
        raise RuleViolation(
            "filing_kind_invalid",
            _(
                "Un dépôt est une demande d'avance, de solde ou de prestation secondaire, ou "
                "une notification d'achèvement."
            ),
            field="kind",
        )
    filings = []
    with transaction.atomic():
        ready = list(
            PaymentClaim.objects.select_for_update(no_key=True, of=("self",))
            .filter(
                order__vendor=vendor,
                order__dispositif=dispositif,
                kind__in=kinds_in_filing(kind),
                status=ClaimStatus.READY,
            )
            # Never two financings for one client (SONS.md step 3): a claim made ready before
            # a conflict opened waits, ready, until the conflict is settled or decided.
            .exclude(order__in=in_unresolved_conflict(PurchaseOrder.objects.all()))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ready:
            raise RuleViolation(
                "nothing_to_file",
                _("Aucune demande prête pour %(vendor)s sur %(code)s (%(kind)s)."),
                field="kind",
                vendor=vendor.name,
                code=dispositif.code,
                kind=kind,
            )
        # Judged once for the set under the locks; the submit guard reads the same answers.
        with filing_deadlines_judged(PaymentClaim.objects.filter(pk__in=ready), at) as late:
            left_out = _leave_out_late(late, actor=actor, at=at, moment="constitution du dépôt")
            ids = [pk for pk in ready if pk not in late]
            for filing, chunk in numbered_filings(
                vendor=vendor, dispositif=dispositif, kind=kind, ids=ids, max_lines=max_lines, at=at
            ):
                lines = {pk: n for n, pk in enumerate(chunk, start=1)}
                apply_transition_many(
                    PaymentClaim,
                    chunk,
                    "submit",
                    actor=actor,
                    snapshot=lambda c, f=filing, lines=lines: {
                        "filing": f.name,
                        "line": lines[c.pk],
                    },
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
        if left_out:
            after_commit(tasks.notify_claims_left_out, [c.claim_id for c in left_out])
    metrics.FILINGS_BUILT.labels(kind=kind).inc(len(filings))
    return BuiltFilings(filings, left_out)


def transmit_filing(*, filing: AspFiling, actor: Actor, at: dt.datetime | None = None) -> AspFiling:
    """Marks the filing transmitted to the ASP at `at`: the deposit, the instant that counts
    (SONS.md, life of a Prestation, step 4). Returns the filing, transmitted or set aside.

    Its lines are judged again at `at` against their filing deadline in force at that instant
    (`payments.selectors.past_filing_deadline`, one query). When one is late, the whole
    transmission is refused and the filing is set aside for good (« écarté : hors délai, non
    transmis »); it is not rewritten without its late lines. Why: the vendor downloads the JSON
    and the zip, deposits them at the ASP, then marks the filing transmitted; what it deposits
    is the bytes built, whose SHA-256 we hold. Dropping lines at this point would give the
    filing's name and hash to a file the ASP never received, and the agency's feedback (by
    filing name and line number) would point at other lines. So the set-aside filing keeps its
    files as built and never counts as deposited; its late lines leave it with their reason
    recorded on each claim and journaled; its lines still in time (none today: every line of
    a filing answers to the same deadline) return to « prête » for a new filing, with its own
    name and hash; the vendor is mailed the list after commit. This is recorded, not rolled
    back: the doors read the returned state (`FilingStatus.SET_ASIDE`, `set_aside_reason`)
    and show it as a refusal."""
    at = now_or(at)
    if not filing.json_sha256:
        raise RuleViolation(
            "filing_not_rendered",
            _("Les fichiers du dépôt ne sont pas encore prêts."),
            field="json_file",
        )
    with transaction.atomic():
        # The lock order (core.transitions): the claims, then their filing.
        lines = PaymentClaim.objects.filter(filing=filing, status=ClaimStatus.SUBMITTED)
        lock_in_order(
            {"payments.PaymentClaim": lines.values("pk"), "payments.AspFiling": [filing.pk]}
        )
        current = AspFiling.objects.get(pk=filing.pk)
        late = {}
        if current.status == FilingStatus.GENERATED:
            late = dict(past_filing_deadline(lines, at).values_list("pk", "filing_late_reason"))
        if not late:
            return apply_transition(
                filing, "transmit", actor=actor, snapshot={"at": at.isoformat()}, at=at
            )
        line_of = dict(lines.order_by("pk").values_list("pk", "line_number"))
        ids = list(line_of)
        grounds = _(
            "%(count)s ligne(s) hors délai à l'instant de la transmission (%(at)s) : "
            "%(reason)s. Dépôt non transmis à l'ASP ; les lignes dans les délais sont de "
            "nouveau prêtes pour un nouveau dépôt."
        ) % {
            "count": len(late),
            "at": format_paris(at),
            "reason": " ; ".join(sorted(set(late.values()))),
        }
        set_aside = apply_transition(
            filing,
            "set_aside",
            actor=actor,
            reason=grounds,
            snapshot={"at": at.isoformat(), "late_lines": len(late), "lines": len(ids)},
            at=at,
            grounds=grounds,
        )
        apply_transition_many(
            PaymentClaim,
            ids,
            "withdraw_from_filing",
            actor=actor,
            reason=lambda c: late.get(c.pk, ""),
            snapshot=lambda c: {"filing": filing.name, "line": line_of[c.pk], "at": at.isoformat()},
        )
        left_out = _leave_out_late(late, actor=actor, at=at, moment="transmission du dépôt")
        after_commit(tasks.notify_claims_left_out, [c.claim_id for c in left_out])
    return set_aside


def require_transmitted(filing: AspFiling) -> AspFiling:
    """For a door that shows refusals as errors (API, admin, command): the filing as
    `transmit_filing` returned it, or its set-aside as a refusal. What the service recorded
    stays recorded."""
    if filing.status == FilingStatus.SET_ASIDE:
        raise RuleViolation(
            "filing_deadline_passed",
            _("Dépôt %(name)s non transmis et écarté : %(reason)s"),
            field="status",
            name=filing.name,
            reason=filing.set_aside_reason,
        )
    return filing


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


# Claims moved per call of `apply_transition_many` by a feedback file (memory, not rules).
FEEDBACK_SLICE = 2000


class FeedbackLine(NamedTuple):
    """What the feedback's rules read of one claim line (`import_feedback`)."""

    pk: int
    status: str
    kind: str
    amount_ttc_cents: int
    order_id: int
    order_status: str


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
        plan: list[tuple[int, object]] = []
        completion_items: list[tuple[str, object]] = []
        seen: set[tuple[str, int]] = set()
        # The lock order (core.transitions): the orders (a paid avance changes what the order
        # received, a paid solde completes it), the claims, the filings acknowledged, all
        # before the journal's head. Keys and the columns the rules read, as tuples: no model
        # per row (lock_in_order would build 10,000 orders and 10,000 claims for a big file).
        lines = PaymentClaim.objects.filter(filing__in=list(filings.values()))
        list(
            PurchaseOrder.objects.select_for_update(no_key=True)
            .filter(pk__in=lines.values("order_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        filing_names = {f.pk: f.name for f in filings.values()}
        claims = {
            (filing_names[filing_id], line_number): FeedbackLine(
                pk, status, kind, amount_ttc_cents, order_id, order_status
            )
            for (
                pk,
                filing_id,
                line_number,
                status,
                kind,
                amount_ttc_cents,
                order_id,
                order_status,
            ) in lines.select_for_update(no_key=True, of=("self",))
            .order_by("pk")
            .values_list(
                "pk",
                "filing_id",
                "line_number",
                "status",
                "kind",
                "amount_ttc_cents",
                "order_id",
                "order__status",
            )
            .iterator(chunk_size=5000)
        }
        lock_in_order({"payments.AspFiling": list(filing_names)})
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
            if filings[item.filing].kind == COMPLETION_FILING_KIND:  # a notice, not a claim
                completion_items.append((where, item))
                continue
            claim = claims.get(key)
            if claim is None:
                problems.append(f"{where} : ligne inconnue dans ce dépôt")
                continue
            _name, sources, target = MOVES[item.decision]
            if claim.status == target:  # already applied by an earlier file
                continue
            if claim.status not in sources:
                problems.append(
                    f"{where} : impossible de passer de « {ClaimStatus(claim.status).label} » "
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
                and claim.order_status != OrderStatus.SIGNED
            ):
                problems.append(
                    f"{where} : le BDC {PurchaseOrder.reference_of(claim.order_id)} n'est plus "
                    f"signé ({OrderStatus(claim.order_status).label}), son solde ne peut être payé"
                )
                continue
            plan.append((claim.pk, item))
        completion_plan, completion_problems = completion_filings.judge_feedback(
            completion_items, filings
        )
        problems += completion_problems
        if problems:
            raise FeedbackRefused(problems)
        moved = _apply(plan, actor=actor, at=at, file_name=file_name)
        moved += completion_filings.apply_feedback(
            completion_plan, actor=actor, at=at, file_name=file_name
        )
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
    for claim_id, item in plan:
        by_transition.setdefault(MOVES[item.decision][0], {})[claim_id] = item
    for name, items in by_transition.items():
        ids = list(items)
        # By slices, in the caller's transaction (all or nothing still): the claims of one slice
        # are the only models held at a time. Every row is already locked (`import_feedback`).
        for start in range(0, len(ids), FEEDBACK_SLICE):
            rows = apply_transition_many(
                PaymentClaim,
                ids[start : start + FEEDBACK_SLICE],
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
            del rows
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
