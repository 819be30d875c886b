"""Acceptance: the VA the client signs (or refuses), and the MOM the vendor declares."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from core.errors import RuleViolation
from core.guards import require
from core.journal import Actor, record_transition
from core.services import after_commit, now_or
from core.transitions import apply_transition
from sons import acts, tasks
from sons.models import (
    MomDeclaration,
    PurchaseOrder,
    VaDecision,
    VerificationAptitude,
)

# Used when a dispositif's catalogue entry lists no statement of its own.
DEFAULT_VA_STATEMENTS = [
    "La version référencée de la solution est installée, paramétrée et en état de fonctionner.",
    "Les utilisateurs ont été formés à son utilisation.",
]


@dataclass(frozen=True)
class Signer:
    """Who signs or declares, and how their identity was established."""

    name: str
    role: str
    identity_method: str
    rpps: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    # Who the identity check vouched for: the mailbox that got the code, the PSC subject.
    identity_subject: str = ""


def create_va(
    *, order: PurchaseOrder, delivered_summary: str, actor: Actor, at: dt.datetime | None = None
) -> VerificationAptitude:
    """A new VA version for the order (the first, or the next after a refusal)."""
    at = now_or(at)
    if not delivered_summary.strip():
        raise RuleViolation(
            "delivered_summary_required",
            _("Décrivez la prestation réalisée : c'est ce que le client vérifie."),
            field="delivered_summary",
        )
    with transaction.atomic():
        order = _locked_order(order.pk)
        acts.CREATE_VA.require(order, at=at)
        last = VerificationAptitude.objects.filter(order=order).aggregate(v=Max("version"))["v"]
        va = VerificationAptitude.objects.create(
            order=order, version=(last or 0) + 1, delivered_summary=delivered_summary.strip()
        )
        record_transition(
            obj=va,
            transition="create",
            source="",
            target=va.status,
            actor=actor,
            snapshot={"at": at.isoformat(), "order_id": order.pk, "version": va.version},
        )
    return va


def issue_va(
    *, va: VerificationAptitude, actor: Actor, at: dt.datetime | None = None
) -> VerificationAptitude:
    """Freezes the statements and MSSanté address; after commit, renders the PDF and mails the
    client a personal link to sign it online."""
    at = now_or(at)
    with transaction.atomic():
        order = _locked_signed_order(va.order_id, at)
        statements = list(order.dispositif.acceptance_statements or DEFAULT_VA_STATEMENTS)
        va = apply_transition(
            va,
            "issue",
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "statements": statements,
                "mssante_address": order.contact.mssante_address,
                "contact_email": order.contact.email,
            },
            at=at,
            statements=statements,
            mssante_address=order.contact.mssante_address,
            contact_email=order.contact.email,
        )
        after_commit(tasks.render_va_pdf, va.pk)
        # The client is mailed a personal link to sign it online.
        after_commit(tasks.send_va_signing_link, va.pk)
    return va


def issue_new_va(
    *, order: PurchaseOrder, delivered_summary: str, actor: Actor, at: dt.datetime | None = None
) -> VerificationAptitude:
    """Prepares the next VA version and issues it at once (sons.acts.ISSUE_VA), all or
    nothing: a refusal leaves no prepared VA behind."""
    at = now_or(at)
    with transaction.atomic():
        acts.ISSUE_VA.require(_locked_order(order.pk), at=at)
        va = create_va(order=order, delivered_summary=delivered_summary, actor=actor, at=at)
        return issue_va(va=va, actor=actor, at=at)


def sign_va(
    *,
    va: VerificationAptitude,
    signer: Signer,
    confirmed: list[str],
    document_sha256: str,
    non_blocking_reserves: str = "",
    at: dt.datetime | None = None,
) -> VerificationAptitude:
    """The client signs the exact document shown (its hash), every statement ticked."""
    return _decide(
        va=va,
        outcome=VaDecision.Outcome.SIGNED,
        signer=signer,
        document_sha256=document_sha256,
        reserves=non_blocking_reserves,
        confirmed=confirmed,
        at=at,
    )


def refuse_va(
    *,
    va: VerificationAptitude,
    signer: Signer,
    blocking_reserves: str,
    document_sha256: str,
    at: dt.datetime | None = None,
) -> VerificationAptitude:
    """The client refuses with blocking reserves; the vendor fixes and issues a new version."""
    return _decide(
        va=va,
        outcome=VaDecision.Outcome.REFUSED,
        signer=signer,
        document_sha256=document_sha256,
        reserves=blocking_reserves,
        confirmed=[],
        at=at,
    )


def _decide(*, va, outcome, signer, document_sha256, reserves, confirmed, at):
    """One journaled decision on a VA version, recorded with who, when, where and on what."""
    at = now_or(at)
    _require_signer(signer)
    signed = outcome == VaDecision.Outcome.SIGNED
    transition_kwargs = {"confirmed": confirmed} if signed else {"blocking_reserves": reserves}
    with transaction.atomic():
        _locked_signed_order(va.order_id, at)
        va = apply_transition(
            va,
            "sign" if signed else "refuse",
            actor=f"client:{signer.name.strip()}",
            reason=reserves.strip(),
            snapshot={
                "at": at.isoformat(),
                "signer": asdict(signer),
                "document_sha256": document_sha256,
                "confirmed": confirmed,
            },
            document_sha256=document_sha256,
            **transition_kwargs,
        )
        VaDecision.objects.create(
            va=va,
            outcome=outcome,
            decided_at=at,
            statements_confirmed=confirmed,
            document_sha256=document_sha256,
            non_blocking_reserves=reserves.strip() if signed else "",
            blocking_reserves="" if signed else reserves.strip(),
            **_signer_fields(signer),
        )
        after_commit(tasks.render_signed_va_pdf, va.pk)
    return va


def declare_mom(
    *,
    order: PurchaseOrder,
    signer: Signer,
    statement: str,
    actor: Actor,
    at: dt.datetime | None = None,
) -> MomDeclaration:
    """The vendor declares the software running, where the dispositif accepts a MOM."""
    at = now_or(at)
    _require_signer(signer)
    if not statement.strip():
        raise RuleViolation(
            "mom_statement_required",
            _("La déclaration de mise en ordre de marche doit être rédigée."),
            field="statement",
        )
    with transaction.atomic():
        order = _locked_order(order.pk)
        acts.DECLARE_MOM.require(order, at=at)
        mom = MomDeclaration.objects.create(
            order=order,
            declared_at=at,
            mssante_address=order.contact.mssante_address,
            statement=statement.strip(),
            **_signer_fields(signer),
        )
        record_transition(
            obj=mom,
            transition="declare",
            source="",
            target="declared",
            actor=actor,
            snapshot={"at": at.isoformat(), "signer": asdict(signer), "order_id": order.pk},
        )
    return mom


def _locked_order(order_id: int) -> PurchaseOrder:
    """The order, locked and fresh (its acceptance is judged on what the lock holds)."""
    order = PurchaseOrder.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "client", "dispositif"
    )
    return order.get(pk=order_id)


def _locked_signed_order(order_id: int, at: dt.datetime) -> PurchaseOrder:
    """The order, locked and fresh: its acceptance only moves while it is signed."""
    order = _locked_order(order_id)
    require(order, at, acts.order_signed)
    return order


def _require_signer(signer: Signer) -> None:
    if not signer.name.strip() or not signer.role.strip():
        raise RuleViolation(
            "signer_required",
            _("Le nom et la qualité du signataire sont obligatoires."),
            field="signer",
        )


def _signer_fields(signer: Signer) -> dict:
    return {
        "signer_name": signer.name.strip(),
        "signer_role": signer.role.strip(),
        "signer_rpps": signer.rpps,
        "identity_method": signer.identity_method,
        "identity_subject": signer.identity_subject[:255],
        "ip_address": signer.ip_address,
        "user_agent": signer.user_agent[:512],
    }


def record_va_pdf(*, va_id: int, field: str, name: str, content: bytes, sha256: str) -> bool:
    """Stores a rendered VA document (issued or signed) with its hash; not a state change.
    Once, like `record_order_pdf`: a task delivered twice keeps the first document (the one the
    client read and signed). True if stored."""
    from django.core.files.base import ContentFile

    va = VerificationAptitude.objects.get(pk=va_id)
    if getattr(va, f"{field}_sha256"):
        return False
    document = getattr(va, field)
    document.save(name, ContentFile(content), save=False)
    stored = VerificationAptitude.objects.filter(pk=va_id, **{f"{field}_sha256": ""}).update(
        **{field: document.name, f"{field}_sha256": sha256}
    )
    if not stored:
        document.storage.delete(document.name)
    return bool(stored)
