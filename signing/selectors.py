"""Reading links: which one a token names, whether it may still be used, what its page shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import format_paris
from sons.models import OrderStatus, VaStatus, VerificationAptitude

from . import tokens
from .conf import setting
from .models import LinkKind, LinkOutcome, SigningLink


class LinkProblem(models.TextChoices):
    """Why a link no longer opens its document; each has its own page."""

    UNKNOWN = "link_unknown", _("Lien inconnu")
    EXPIRED = "link_expired", _("Lien expiré")
    REPLACED = "link_replaced", _("Lien remplacé par un plus récent")
    SIGNED = "document_signed", _("Document déjà signé")
    REFUSED = "document_refused", _("Document refusé")
    SUPERSEDED = "va_superseded", _("Nouvelle version de la VA")
    CLOSED = "document_closed", _("Document qui n'attend plus de signature")


@dataclass(frozen=True)
class LinkCheck:
    link: SigningLink | None
    problem: LinkProblem | None = None
    # When the problem happened (expiry, signature, refusal...), for the page.
    since: dt.datetime | None = None

    @property
    def usable(self) -> bool:
        return self.link is not None and self.problem is None


def links() -> models.QuerySet[SigningLink]:
    return SigningLink.objects.select_related(
        "order__vendor",
        "order__client",
        "order__dispositif",
        "order__solution_version__solution",
        "va",
    )


def link_for_token(token: str) -> SigningLink | None:
    public_id = tokens.public_id_from_token(token)
    if public_id is None:
        return None
    return links().filter(public_id=public_id).first()


def check_link(link: SigningLink | None, *, at: dt.datetime) -> LinkCheck:
    """Whether `link` still opens its document at `at`, and if not, why (the first reason)."""
    if link is None:
        return LinkCheck(None, LinkProblem.UNKNOWN)
    if link.used_at is not None:
        problem = LinkProblem.SIGNED if link.outcome == LinkOutcome.SIGNED else LinkProblem.REFUSED
        return LinkCheck(link, problem, link.used_at)
    document_problem = _document_problem(link)
    if document_problem is not None:
        return LinkCheck(link, *document_problem)
    if link.revoked_at is not None:
        return LinkCheck(link, LinkProblem.REPLACED, link.revoked_at)
    if at >= link.expires_at:
        return LinkCheck(link, LinkProblem.EXPIRED, link.expires_at)
    return LinkCheck(link)


def _document_problem(link: SigningLink):
    """The document decided or moved on by another path (another link, the admin...)."""
    if link.kind == LinkKind.VA:
        va = link.va
        newer = VerificationAptitude.objects.filter(order_id=link.order_id, version__gt=va.version)
        if newer.exists():
            return LinkProblem.SUPERSEDED, None
        if va.status == VaStatus.SIGNED:
            return LinkProblem.SIGNED, _decided_at(va)
        if va.status == VaStatus.REFUSED:
            return LinkProblem.REFUSED, _decided_at(va)
        if va.status != VaStatus.ISSUED or link.order.status != OrderStatus.SIGNED:
            return LinkProblem.CLOSED, None
        return None
    if link.order.status in (OrderStatus.SIGNED, OrderStatus.CONDITIONAL):
        return LinkProblem.SIGNED, link.order.signed_at
    if link.order.status != OrderStatus.DRAFT:
        return LinkProblem.CLOSED, None
    return None


def _decided_at(va: VerificationAptitude) -> dt.datetime | None:
    decision = getattr(va, "decision", None)
    return decision.decided_at if decision is not None else None


def copy_until(link: SigningLink) -> dt.datetime | None:
    """Until when the signer's own link offers the document they decided on (their copy); None
    for a link not used to decide."""
    if link.used_at is None:
        return None
    return link.used_at + dt.timedelta(seconds=setting("SIGNING_COPY_MAX_AGE"))


def copy_offered(link: SigningLink | None, *, at: dt.datetime) -> bool:
    """The link was used to sign or refuse, and its copy is still offered at `at`."""
    until = copy_until(link) if link is not None else None
    return until is not None and at < until


@dataclass(frozen=True)
class SignedCopy:
    """The document as recorded after the decision made through a link (sealed by the server)."""

    file: object  # a FieldFile, empty while the worker prepares it
    sha256: str
    filename: str

    @property
    def ready(self) -> bool:
        return bool(self.file and self.sha256)


def signed_copy(link: SigningLink) -> SignedCopy:
    if link.kind == LinkKind.VA:
        suffix = "refusee" if link.outcome == LinkOutcome.REFUSED else "signee"
        return SignedCopy(
            link.va.signed_pdf,
            link.va.signed_pdf_sha256,
            f"{link.order.reference}-VA-v{link.va.version}-{suffix}.pdf",
        )
    return SignedCopy(
        link.order.pdf, link.order.pdf_sha256, f"{link.order.reference}-BDC-signe.pdf"
    )


def is_locked(link: SigningLink, *, at: dt.datetime) -> bool:
    return link.locked_until is not None and at < link.locked_until


def masked_address(address: str) -> str:
    """« d•••@medecin.mssante.fr »: enough for the person to recognise their mailbox."""
    local, _at, domain = address.partition("@")
    if not domain:
        return address
    return f"{local[:1]}•••@{domain}"


def document_title(link: SigningLink) -> str:
    if link.kind == LinkKind.VA:
        return str(
            _("Vérification d'aptitude (VA) version %(version)s – %(reference)s")
            % {"version": link.va.version, "reference": link.order.reference}
        )
    return str(_("Bon de commande %(reference)s") % {"reference": link.order.reference})


def vendor_contact(link: SigningLink) -> dict[str, str]:
    vendor = link.order.vendor
    return {"name": vendor.name, "email": vendor.contact_email, "phone": vendor.contact_phone}


def paris(instant: dt.datetime | None) -> str:
    return format_paris(instant) if instant else ""


def latest_link(*, va: VerificationAptitude | None = None, order=None) -> SigningLink | None:
    """The newest link sent for a VA (or for a draft BDC): what the vendor follows up."""
    if va is not None:
        return links().filter(va=va).first()
    return links().filter(order=order, kind=LinkKind.BDC).first()


def awaiting_signature(link: SigningLink | None, *, at: dt.datetime) -> bool:
    """Sent, still usable, not yet used: the client has not signed yet."""
    return link is not None and check_link(link, at=at).usable
