"""Filings of notices of completion (kind « achevement »): the notices a vendor gave on its
orders under one dispositif, not yet in a filing, gathered into numbered files for the ASP.

Built by `payments.services.filings.build_filings(kind="achevement")`, rendered by the same task
and writer (`payments.asp.writer`, schema `achevement-v1.0`), transmitted by the same
`transmit_filing`. The vendor gives its notice (`notified_at`, judged by
`sons.acts.NOTIFY_COMPLETION` against the end of réalisation in force); what tells the ASP is
the deposit of the filing that carries it (SONS.md, life of a Prestation, step 4: the instant
that counts is the deposit at the ASP). The engine holds no deposit instant apart from the one
at which the vendor records the filing as transmitted (`AspFiling.transmitted_at`): that instant
is the evidence of completion (`completion_deposited`, registered in `sons.selectors` at
start-up), judged against the end of réalisation in force. The ASP answers on each line in its
feedback file (accepted or refused, the file applied whole or refused whole): a refused notice
tells nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from catalogue.models import Dispositif, Vendor
from core.errors import RuleViolation
from core.journal import Actor, Change, record_transition, record_transitions
from core.services import after_commit, now_or
from core.transitions import lock_in_order
from sons.models import CompletionNotice

from .. import tasks
from ..models import (
    COMPLETION_FILING_KIND,
    AspFiling,
    CompletionDecision,
    FiledCompletion,
    FilingStatus,
)
from .numbering import numbered_filings

DEFAULT_MAX_LINES = 5000


def unfiled_notices(*, vendor: Vendor, dispositif: Dispositif):
    """The vendor's notices of completion under the dispositif that no filing carries, or whose
    every line the ASP refused (the next filing carries them again)."""
    live = FiledCompletion.objects.filter(notice=OuterRef("pk")).exclude(
        agency_decision=CompletionDecision.REFUSED
    )
    return CompletionNotice.objects.filter(
        order__vendor=vendor, order__dispositif=dispositif
    ).exclude(Exists(live))


def build_completion_filings(
    *,
    vendor: Vendor,
    dispositif: Dispositif,
    actor: Actor,
    at: dt.datetime | None = None,
    max_lines: int | None = None,
) -> list[AspFiling]:
    """Every notice of the vendor under the dispositif not yet filed, in filings of at most
    `max_lines` lines (ordered by notice); the files are written after commit."""
    at = now_or(at)
    max_lines = max_lines or getattr(settings, "ASP_MAX_LINES", DEFAULT_MAX_LINES)
    kind = COMPLETION_FILING_KIND
    filings: list[AspFiling] = []
    with transaction.atomic():
        # The lock order (core.transitions): the orders first (a notice is given under its
        # order's lock, so none is added meanwhile), then the filings, then the journal's head.
        unfiled = unfiled_notices(vendor=vendor, dispositif=dispositif)
        lock_in_order({"sons.PurchaseOrder": unfiled.values("order_id")})
        order_of = dict(unfiled.order_by("pk").values_list("pk", "order_id"))
        notices = list(order_of)
        refused_before = set(
            FiledCompletion.objects.filter(
                notice_id__in=notices, agency_decision=CompletionDecision.REFUSED
            ).values_list("notice_id", flat=True)
        )
        if not notices:
            raise RuleViolation(
                "nothing_to_file",
                _("Aucune notification d'achèvement à déposer pour %(vendor)s sur %(code)s."),
                field="kind",
                vendor=vendor.name,
                code=dispositif.code,
            )
        for filing, chunk in numbered_filings(
            vendor=vendor, dispositif=dispositif, kind=kind, ids=notices, max_lines=max_lines, at=at
        ):
            lines = FiledCompletion.objects.bulk_create(
                [
                    FiledCompletion(
                        filing=filing,
                        notice_id=pk,
                        order_id=order_of[pk],
                        # The order's (an OrderPart's copy): `unfiled_notices` reads only the
                        # notices of orders under `dispositif`, locked above.
                        dispositif=dispositif,
                        line_number=n,
                    )
                    for n, pk in enumerate(chunk, start=1)
                ]
            )
            record_transition(
                obj=filing,
                transition="generate",
                source="",
                target=filing.status,
                actor=actor,
                snapshot={"name": filing.name, "lines": len(chunk), "at": at.isoformat()},
            )
            carried = CompletionNotice.objects.select_related("order").in_bulk(chunk)
            record_transitions(
                [
                    Change(
                        obj=carried[line.notice_id],
                        transition="file_completion",
                        source=(
                            "completion_refusee"
                            if line.notice_id in refused_before
                            else "completion_notified"
                        ),
                        target="completion_filed",
                        snapshot={"filing": filing.name, "line": line.line_number},
                    )
                    for line in lines
                ],
                actor=actor,
            )
            after_commit(tasks.render_filing, filing.pk)
            filings.append(filing)
    return filings


# -- the deposit tells the ASP; its answer may refuse it ---------------------------------------


def completion_deposited() -> QuerySet[FiledCompletion]:
    """The notice of the outer order (`OuterRef("pk")`) in a filing deposited at the ASP
    (transmitted, or acknowledged by its feedback), not refused by the ASP; `filing__
    transmitted_at` says when: the evidence of completion that `sons.selectors` judges."""
    return FiledCompletion.objects.filter(
        order=OuterRef("pk"),
        filing__status__in=[FilingStatus.TRANSMITTED, FilingStatus.ACKNOWLEDGED],
    ).exclude(agency_decision=CompletionDecision.REFUSED)


# The feedback file's decisions an « achèvement » line admits: accepted or refused.
COMPLETION_DECISIONS = {
    "validee": CompletionDecision.ACCEPTED,
    "rejetee": CompletionDecision.REFUSED,
}


def judge_feedback(
    items: list[tuple[str, object]], filings: dict[str, AspFiling]
) -> tuple[list[tuple[FiledCompletion, object]], list[str]]:
    """The feedback file's decisions on lines of « achèvement » filings: the plan to apply and
    every problem (`import_feedback` applies the whole file, claims and notices, or nothing).
    `items` are (where, item) pairs, `where` naming the decision in the problems."""
    lines = {
        (line.filing.name, line.line_number): line
        for line in FiledCompletion.objects.filter(
            filing__in=[f for f in filings.values() if f.kind == COMPLETION_FILING_KIND]
        ).select_related("filing", "notice__order")
    }
    plan, problems = [], []
    for where, item in items:
        line = lines.get((item.filing, item.line_number))
        if line is None:
            problems.append(f"{where} : ligne inconnue dans ce dépôt")
            continue
        decision = COMPLETION_DECISIONS.get(str(item.decision))
        if decision is None:
            problems.append(
                f"{where} : une notification d'achèvement est acceptée (« validee ») ou refusée "
                "(« rejetee »)"
            )
            continue
        if line.filing.status not in (FilingStatus.TRANSMITTED, FilingStatus.ACKNOWLEDGED):
            problems.append(f"{where} : dépôt non transmis à l'ASP")
            continue
        if line.agency_decision == decision:  # already applied by an earlier file
            continue
        if line.agency_decision:
            problems.append(
                f"{where} : l'ASP a déjà répondu « {line.get_agency_decision_display()} »"
            )
            continue
        plan.append((line, item))
    return plan, problems


def apply_feedback(plan, *, actor: Actor, at: dt.datetime, file_name: str) -> int:
    """Records the ASP's answer on each notice of the plan, journaled on the notice."""
    changes = []
    for line, item in plan:
        decision = COMPLETION_DECISIONS[str(item.decision)]
        FiledCompletion.objects.filter(pk=line.pk).update(
            agency_decision=decision, agency_reason=item.reason, agency_decided_at=at
        )
        changes.append(
            Change(
                obj=line.notice,
                transition=f"completion_{decision}",
                source="completion_filed",
                target=f"completion_{decision}",
                reason=item.reason,
                snapshot={"feedback": file_name, "filing": item.filing, "line": item.line_number},
            )
        )
    if changes:
        record_transitions(changes, actor=actor)
    return len(plan)
