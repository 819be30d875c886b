"""Online signing: the only writers of links and codes, and the doors to the lifecycle services.

Links are sent by `send_va_link` / `send_order_link` (issuing a VA sends the first one; the vendor
portal re-sends). The person at the keyboard proves who they are with a mailed one-time code
(`request_code`, `verify_code`) or with Pro Santé Connect (`signing.psc`, which writes nothing),
then signs or refuses through `sign_va_online`, `refuse_va_online` or `sign_order_online`: they
call the lifecycle's services in the transaction that marks the link used, so the decision and
the record of how it was made commit together or not at all. After the commit, the signer is
mailed their copy of the recorded document (`tasks.send_signed_copy`), which their link also
offers for SIGNING_COPY_MAX_AGE.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalogue.deadlines import format_paris
from core.errors import RuleViolation
from core.journal import Actor, actor_label
from core.services import after_commit
from core.transitions import lock_in_order
from sons.models import (
    PurchaseOrder,
    SignatureMethod,
    VerificationAptitude,
)
from sons.models.acceptance import IdentityMethod
from sons.services import acceptance as acceptance_services
from sons.services import orders as order_services
from sons.services.acceptance import Signer

from . import acts, tasks, tokens
from .acts import order_address, va_address
from .conf import setting
from .models import LinkKind, LinkOutcome, OneTimeCode, SigningLink
from .selectors import LinkProblem, check_link, is_locked, masked_address

logger = logging.getLogger(__name__)

FIELDS = ("method", "subject", "email", "rpps", "name")

# How a BDC records the way its online signature was made.
ORDER_SIGNATURE_METHODS = {
    IdentityMethod.PRO_SANTE_CONNECT: SignatureMethod.PRO_SANTE_CONNECT,
    IdentityMethod.EMAIL_CODE: SignatureMethod.ONLINE_CODE,
}


@dataclass(frozen=True)
class Identity:
    """How the person at the keyboard proved who they are; kept in their session."""

    method: str  # an IdentityMethod value
    subject: str  # the mailbox that received the code, or the Pro Santé Connect subject
    email: str = ""
    rpps: str = ""
    name: str = ""

    def as_session(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FIELDS}

    @classmethod
    def from_session(cls, data: dict) -> Identity:
        return cls(
            **{k: str(data.get(k, "")) for k in ("method", "subject", "email", "rpps", "name")}
        )


@dataclass(frozen=True)
class Origin:
    """Where a signature came from: recorded with it."""

    ip_address: str | None = None
    user_agent: str = ""


# --- Sending links -----------------------------------------------------------------------------


def send_va_link(
    *, va: VerificationAptitude, actor: Actor, at: dt.datetime | None = None, mail: bool = True
) -> SigningLink:
    """A new personal link to sign this VA version, mailed to the client after commit (or,
    with `mail=False`, for a message that carries it itself, such as a reminder).

    An earlier link to the same document stops working: only the newest mail counts.
    """
    at = at or timezone.now()
    with transaction.atomic():
        # The lock order: the order, then its VA, then the links (core.transitions).
        order_id = VerificationAptitude.objects.values_list("order_id", flat=True).get(pk=va.pk)
        lock_in_order({"sons.PurchaseOrder": [order_id], "sons.VerificationAptitude": [va.pk]})
        va = VerificationAptitude.objects.select_related("order__client").get(pk=va.pk)
        acts.SEND_VA_LINK.require(va, at=at)
        address = va_address(va)
        return _new_link(
            kind=LinkKind.VA, order=va.order, va=va, address=address, actor=actor, at=at, mail=mail
        )


def send_order_link(
    *, order: PurchaseOrder, actor: Actor, at: dt.datetime | None = None
) -> SigningLink:
    """A new personal link for the client to sign this draft BDC online, mailed after commit."""
    at = at or timezone.now()
    with transaction.atomic():
        order = (
            PurchaseOrder.objects.select_for_update(no_key=True, of=("self",))
            .select_related("client")
            .get(pk=order.pk)
        )
        acts.SEND_ORDER_LINK.require(order, at=at)
        address = order_address(order)
        return _new_link(
            kind=LinkKind.BDC, order=order, va=None, address=address, actor=actor, at=at
        )


def _new_link(*, kind, order, va, address, actor, at, mail=True) -> SigningLink:
    SigningLink.objects.filter(
        order=order, kind=kind, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=at)
    link = SigningLink.objects.create(
        kind=kind,
        order=order,
        va=va,
        sent_to=address,
        created_at=at,
        created_by=actor_label(actor)[:150],
        expires_at=at + dt.timedelta(seconds=setting("SIGNING_LINK_MAX_AGE")),
    )
    if mail:
        after_commit(tasks.send_link_email, link.pk)
    logger.info(
        "signing_link_created link_id=%s kind=%s order_id=%s va_id=%s",
        link.pk,
        kind,
        order.pk,
        va.pk if va else None,
    )
    return link


def record_link_sent(*, link_id: int, at: dt.datetime) -> None:
    """Notes when the link's mail left (not a state change)."""
    SigningLink.objects.filter(pk=link_id, sent_at__isnull=True).update(sent_at=at)


def record_code_sent(*, code_id: int, at: dt.datetime) -> None:
    OneTimeCode.objects.filter(pk=code_id, sent_at__isnull=True).update(sent_at=at)


def record_copy_sent(*, link_id: int, at: dt.datetime) -> None:
    """Notes when the signer's copy left by mail (not a state change)."""
    SigningLink.objects.filter(pk=link_id, copy_sent_at__isnull=True).update(copy_sent_at=at)


# --- Proving who you are: the mailed one-time code --------------------------------------------


def request_code(*, link: SigningLink, at: dt.datetime | None = None) -> OneTimeCode:
    """A new six-digit code mailed to the client's address on file; older ones stop counting."""
    at = at or timezone.now()
    with transaction.atomic():
        link = _locked_usable(link, at)
        if link.codes_sent >= setting("SIGNING_CODE_MAX_SENDS"):
            raise RuleViolation(
                "too_many_codes",
                _(
                    "Trop de codes ont été envoyés pour ce lien. Demandez à %(vendor)s de vous "
                    "renvoyer un lien de signature."
                ),
                field="code",
                vendor=link.order.vendor.name,
            )
        last = link.codes.order_by("-created_at", "-id").first()
        wait = setting("SIGNING_CODE_RESEND_SECONDS")
        if last is not None and at < last.created_at + dt.timedelta(seconds=wait):
            raise RuleViolation(
                "code_sent_recently",
                _(
                    "Un code vient d'être envoyé à %(address)s. Consultez cette boîte (et les "
                    "courriers indésirables) ; vous pourrez en demander un autre dans une minute."
                ),
                field="code",
                address=masked_address(last.sent_to),
            )
        # The code goes where the link went: the address of the document as issued.
        address = link.sent_to
        code = OneTimeCode.objects.create(
            link=link,
            secret=tokens.new_code_secret(),
            sent_to=address,
            created_at=at,
            expires_at=at + dt.timedelta(seconds=setting("SIGNING_CODE_MAX_AGE")),
        )
        SigningLink.objects.filter(pk=link.pk).update(codes_sent=F("codes_sent") + 1)
        after_commit(tasks.send_code_email, code.pk)
    logger.info("signing_code_requested link_id=%s code_id=%s", link.pk, code.pk)
    return code


def verify_code(*, link: SigningLink, code: str, at: dt.datetime | None = None) -> Identity:
    """The identity proven by the newest code, or a refusal; too many wrong codes lock the link.

    Wrong attempts are counted even though the call is refused: the count commits first.
    """
    at = at or timezone.now()
    refusal: RuleViolation | None = None
    with transaction.atomic():
        link = _locked_usable(link, at)
        current = link.codes.filter(used_at__isnull=True).order_by("-created_at", "-id").first()
        if current is None or at >= current.expires_at:
            refusal = RuleViolation(
                "code_expired",
                _("Ce code n'est plus valable : demandez-en un nouveau."),
                field="code",
            )
        elif tokens.same_code(current.secret, code):
            OneTimeCode.objects.filter(pk=current.pk).update(used_at=at)
            SigningLink.objects.filter(pk=link.pk).update(failed_attempts=0)
            logger.info("signing_code_verified link_id=%s", link.pk)
            return Identity(
                method=IdentityMethod.EMAIL_CODE, subject=current.sent_to, email=current.sent_to
            )
        else:
            refusal = _wrong_code(link, at)
    raise refusal


def _wrong_code(link: SigningLink, at: dt.datetime) -> RuleViolation:
    attempts = link.failed_attempts + 1
    allowed = setting("SIGNING_CODE_MAX_ATTEMPTS")
    logger.warning("signing_code_wrong link_id=%s attempts=%s", link.pk, attempts)
    if attempts < allowed:
        SigningLink.objects.filter(pk=link.pk).update(failed_attempts=attempts)
        left = allowed - attempts
        return RuleViolation(
            "code_wrong",
            ngettext(
                "Code incorrect. Il vous reste %(left)s essai avant un blocage temporaire.",
                "Code incorrect. Il vous reste %(left)s essais avant un blocage temporaire.",
                left,
            ),
            field="code",
            left=left,
        )
    until = at + dt.timedelta(seconds=setting("SIGNING_LOCKOUT_SECONDS"))
    SigningLink.objects.filter(pk=link.pk).update(failed_attempts=0, locked_until=until)
    link.codes.filter(used_at__isnull=True).update(expires_at=at)
    return _locked(link, until)


def _locked(link: SigningLink, until: dt.datetime) -> RuleViolation:
    return RuleViolation(
        "link_locked",
        _(
            "Trop de codes erronés : par sécurité, ce lien est bloqué jusqu'au %(until)s (heure "
            "de Paris). Vous pourrez alors demander un nouveau code. Si vous n'êtes pas à "
            "l'origine de ces essais, prévenez %(vendor)s."
        ),
        field="code",
        until=format_paris(until),
        vendor=link.order.vendor.name,
    )


def _locked_usable(link: SigningLink, at: dt.datetime, *, document: bool = False) -> SigningLink:
    """The link, locked and fresh, or the reason it may not be used now. With `document`, for a
    decision, its order and VA are locked first (the lock order of core.transitions)."""
    if document:
        order_id, va_id = SigningLink.objects.values_list("order_id", "va_id").get(pk=link.pk)
        lock_in_order(
            {
                "sons.PurchaseOrder": [order_id],
                "sons.VerificationAptitude": [va_id] if va_id else [],
                "signing.SigningLink": [link.pk],
            }
        )
    link = (
        SigningLink.objects.select_for_update(no_key=True, of=("self",))
        .select_related("order__client", "order__vendor", "va")
        .get(pk=link.pk)
    )
    check = check_link(link, at=at)
    if check.problem is not None:
        raise RuleViolation(check.problem.value, check.problem.label, field="link")
    if is_locked(link, at=at):
        raise _locked(link, link.locked_until)
    return link


def identity_problem(link: SigningLink, identity: Identity) -> RuleViolation | None:
    """A Pro Santé Connect identity must be the professional the document names, if it names one."""
    rpps = link.order.client.rpps
    if identity.method == IdentityMethod.PRO_SANTE_CONNECT and rpps and identity.rpps != rpps:
        return RuleViolation(
            "identity_mismatch",
            _(
                "Vous êtes connecté avec Pro Santé Connect sous le RPPS %(yours)s ; ce document "
                "est à signer par le titulaire du RPPS %(expected)s."
            ),
            field="identity",
            yours=identity.rpps or "—",
            expected=rpps,
        )
    return None


# --- Deciding ----------------------------------------------------------------------------------


def sign_va_online(
    *,
    link: SigningLink,
    identity: Identity,
    signer_name: str,
    signer_role: str,
    confirmed: list[str],
    document_sha256: str,
    non_blocking_reserves: str = "",
    origin: Origin,
    at: dt.datetime | None = None,
) -> VerificationAptitude:
    """The client signs the VA the link names, with the identity they proved."""
    return _decide_va(
        link=link,
        identity=identity,
        signer_name=signer_name,
        signer_role=signer_role,
        origin=origin,
        document_sha256=document_sha256,
        outcome=LinkOutcome.SIGNED,
        decide=lambda va, signer, at: acceptance_services.sign_va(
            va=va,
            signer=signer,
            confirmed=confirmed,
            document_sha256=document_sha256,
            non_blocking_reserves=non_blocking_reserves,
            at=at,
        ),
        at=at,
    )


def refuse_va_online(
    *,
    link: SigningLink,
    identity: Identity,
    signer_name: str,
    signer_role: str,
    blocking_reserves: str,
    document_sha256: str,
    origin: Origin,
    at: dt.datetime | None = None,
) -> VerificationAptitude:
    """The client refuses the VA with blocking reserves; the vendor fixes and issues a new one."""
    return _decide_va(
        link=link,
        identity=identity,
        signer_name=signer_name,
        signer_role=signer_role,
        origin=origin,
        document_sha256=document_sha256,
        outcome=LinkOutcome.REFUSED,
        decide=lambda va, signer, at: acceptance_services.refuse_va(
            va=va,
            signer=signer,
            blocking_reserves=blocking_reserves,
            document_sha256=document_sha256,
            at=at,
        ),
        at=at,
    )


def _decide_va(
    *, link, identity, signer_name, signer_role, origin, document_sha256, outcome, decide, at
):
    at = at or timezone.now()
    with transaction.atomic():
        link = _locked_usable(link, at, document=True)
        if link.kind != LinkKind.VA:
            raise RuleViolation("wrong_document", _("Ce lien ne porte pas sur une VA."))
        signer = _signer(link, identity, signer_name, signer_role, origin)
        va = decide(link.va, signer, at)
        _mark_used(link, outcome, identity, origin, document_sha256, at)
    return va


def sign_order_online(
    *,
    link: SigningLink,
    identity: Identity,
    signer_name: str,
    signer_role: str,
    accepted: bool,
    document_sha256: str,
    origin: Origin,
    at: dt.datetime | None = None,
) -> PurchaseOrder:
    """The client signs the draft BDC the link names: the document they saw, as priced now."""
    at = at or timezone.now()
    with transaction.atomic():
        link = _locked_usable(link, at, document=True)
        if link.kind != LinkKind.BDC:
            raise RuleViolation("wrong_document", _("Ce lien ne porte pas sur un BDC."))
        signer = _signer(link, identity, signer_name, signer_role, origin)
        if not accepted:
            raise RuleViolation(
                "order_not_accepted",
                _("Cochez la case qui confirme votre commande pour signer le bon de commande."),
                field="accepted",
            )
        order = order_services.sign_order_online(
            order=link.order,
            signatory_name=signer.name,
            signatory_role=signer.role,
            method=ORDER_SIGNATURE_METHODS[identity.method],
            document_sha256=document_sha256,
            evidence=_evidence(signer),
            actor=f"client:{signer.name}",
            at=at,
        )
        _mark_used(link, LinkOutcome.SIGNED, identity, origin, document_sha256, at)
    return order


def _signer(link, identity: Identity, name: str, role: str, origin: Origin) -> Signer:
    problem = identity_problem(link, identity)
    if problem is not None:
        raise problem
    if identity.method not in IdentityMethod.values or not identity.subject:
        raise RuleViolation(
            "identity_required",
            _("Confirmez d'abord votre identité pour signer."),
            field="identity",
        )
    # A name vouched for by Pro Santé Connect wins over a typed one.
    name = (identity.name or name).strip()
    if not name or not role.strip():
        raise RuleViolation(
            "signer_required",
            _("Indiquez votre nom et votre qualité : ils figurent sur le document signé."),
            field="signer",
        )
    return Signer(
        name=name,
        role=role.strip(),
        identity_method=identity.method,
        identity_subject=identity.subject,
        rpps=identity.rpps,
        ip_address=origin.ip_address,
        user_agent=origin.user_agent[:512],
    )


def _evidence(signer: Signer) -> dict:
    return {
        "identity_method": signer.identity_method,
        "identity_subject": signer.identity_subject,
        "rpps": signer.rpps,
        "ip_address": signer.ip_address,
        "user_agent": signer.user_agent,
    }


def _mark_used(link, outcome, identity: Identity, origin: Origin, document_sha256, at) -> None:
    SigningLink.objects.filter(pk=link.pk).update(
        used_at=at,
        outcome=outcome,
        identity_method=identity.method,
        identity_subject=identity.subject[:255],
        signer_rpps=identity.rpps,
        ip_address=origin.ip_address,
        user_agent=origin.user_agent[:512],
        document_sha256=document_sha256,
    )
    # The signer's copy, once the lifecycle's own after-commit work has recorded the document.
    after_commit(tasks.send_signed_copy, link.pk)
    logger.info("signing_link_used link_id=%s outcome=%s", link.pk, outcome)


__all__ = [
    "Identity",
    "LinkProblem",
    "Origin",
    "identity_problem",
    "refuse_va_online",
    "request_code",
    "send_order_link",
    "send_va_link",
    "sign_order_online",
    "sign_va_online",
    "verify_code",
]
