"""Purchase orders (BDC): creation, signature (firm or conditional), and their endings."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind, window_end
from catalogue.models import Dispositif, SolutionVersion, Vendor
from catalogue.selectors import deadline_for, price, referencing_in_force
from catalogue.services import ensure_vendor_may_distribute
from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.transitions import apply_transition, apply_transition_many, lock_in_order
from sons import tasks
from sons.models import LIVE_ORDER_STATUSES, Client, OrderStatus, PurchaseOrder
from sons.models.order import OrderSignature

from .clients import record_of
from .common import after_commit, iso, now_or
from .conflicts import open_or_join_conflict


def require_installation_scenario(scenario: str) -> None:
    """The BDC names the installation scenario of the referenced profile: never empty."""
    if not str(scenario).strip():
        raise RuleViolation(
            "installation_scenario_required",
            _("Le scénario d'installation du profil référencé est obligatoire."),
            field="installation_scenario",
        )


def order_already_open(*, vendor: Vendor, client: Client, dispositif: Dispositif) -> RuleViolation:
    """The refusal of a second live BDC of one vendor for one client under one dispositif."""
    return RuleViolation(
        "order_already_open",
        _("%(vendor)s a déjà un BDC en cours pour %(client)s sur le dispositif %(code)s."),
        field="client",
        vendor=vendor.name,
        client=client.legal_name,
        code=dispositif.code,
    )


def create_order(
    *,
    vendor: Vendor,
    client: Client,
    dispositif: Dispositif,
    solution_version: SolutionVersion,
    installation_scenario: str,
    actor: Actor,
    vendor_reference: str = "",
    at: dt.datetime | None = None,
) -> PurchaseOrder:
    """A draft BDC of a vendor for one client under one dispositif."""
    at = now_or(at)
    ensure_vendor_may_distribute(vendor=vendor, solution=solution_version.solution, at=at)
    require_installation_scenario(installation_scenario)
    with transaction.atomic():
        if PurchaseOrder.objects.filter(
            vendor=vendor, client=client, dispositif=dispositif, status__in=LIVE_ORDER_STATUSES
        ).exists():
            raise order_already_open(vendor=vendor, client=client, dispositif=dispositif)
        record_of(vendor=vendor, client=client, actor=actor)
        order = PurchaseOrder.objects.create(
            vendor=vendor,
            client=client,
            dispositif=dispositif,
            solution_version=solution_version,
            installation_scenario=installation_scenario.strip(),
            vendor_reference=vendor_reference,
        )
        record_transition(
            obj=order,
            transition="create",
            source="",
            target=order.status,
            actor=actor,
            snapshot={"at": at.isoformat(), "client_id": client.pk, "vendor_id": vendor.pk},
        )
    return order


def _priced(order: PurchaseOrder) -> dict[str, Any]:
    """The amount frozen on the order at signature, from the tariff and the client's figures."""
    tariff, amount = price(
        dispositif=order.dispositif, characteristics=order.contact.characteristics
    )
    return {
        "ht_cents": amount.ht_cents,
        "ttc_cents": amount.ttc_cents,
        "vat_rate": str(tariff.vat_rate),
        "tariff_id": tariff.pk,
        "snapshot": {
            "characteristics": dict(order.contact.characteristics),
            "tariff_id": tariff.pk,
            "tariff_kind": tariff.kind,
            "tariff_is_demo": tariff.is_demo,
            "ht_cents": amount.ht_cents,
            "ttc_cents": amount.ttc_cents,
        },
    }


def lock_client_orders(order: PurchaseOrder) -> PurchaseOrder:
    """Locks every order of the client in the dispositif, by primary key, and returns `order`
    fresh: signing one may open or join a conflict with the others, which must then not be
    locked out of order (core.transitions)."""
    client_id, dispositif_id = PurchaseOrder.objects.values_list("client_id", "dispositif_id").get(
        pk=order.pk
    )
    rows = lock_in_order(
        {
            "sons.PurchaseOrder": PurchaseOrder.objects.filter(
                client_id=client_id, dispositif_id=dispositif_id
            ).values("pk")
        }
    )
    return rows["sons.PurchaseOrder"][order.pk]


def sign_order(
    *,
    order: PurchaseOrder,
    signatory_name: str,
    signatory_role: str,
    method: str,
    actor: Actor,
    at: dt.datetime | None = None,
    online: dict[str, Any] | None = None,
) -> PurchaseOrder:
    """The client signs: firm when the version is referenced, else conditional where allowed.

    `online` is what an online signature journals with it (identity check, document hash).
    """
    at = now_or(at)
    dispositif = order.dispositif
    deadline = deadline_for(dispositif=dispositif, kind=DeadlineKind.ORDERS, at=at)
    referencing = referencing_in_force(
        solution_version=order.solution_version, dispositif=dispositif, at=at
    )
    amount = _priced(order)
    snapshot = {
        "at": at.isoformat(),
        "deadline": deadline.as_snapshot() if deadline else None,
        "amount": amount["snapshot"],
        "referencing_id": referencing.pk if referencing else None,
    }
    if online is not None:
        snapshot["online"] = online
    signature = OrderSignature(
        at=at,
        orders_deadline_at=deadline.at if deadline else None,
        signatory_name=signatory_name,
        signatory_role=signatory_role,
        method=method,
        amount=amount,
    )
    with transaction.atomic():
        lock_client_orders(order)
        if referencing is not None:
            order = apply_transition(
                order,
                "sign",
                actor=actor,
                snapshot=snapshot,
                signature=signature,
                referencing=referencing,
            )
        elif dispositif.allows_conditional_orders:
            until = window_end(
                at, dispositif.conditional_window_amount, dispositif.conditional_window_unit
            )
            snapshot["conditional_until"] = until.isoformat()
            order = apply_transition(
                order,
                "sign_conditionally",
                actor=actor,
                snapshot=snapshot,
                window_end=until,
                signature=signature,
            )
        else:
            raise RuleViolation(
                "solution_not_referenced",
                _(
                    "%(version)s n'est pas référencée pour le dispositif %(code)s, qui n'admet pas "
                    "de commande sous condition de référencement."
                ),
                field="solution_version",
                version=str(order.solution_version),
                code=dispositif.code,
            )
        open_or_join_conflict(order=order, actor=actor, at=at)
        after_commit(tasks.render_order_pdf, order.pk)
    return order


def order_to_sign_pdf(order: PurchaseOrder) -> bytes:
    """The BDC a client is asked to sign online: the order as priced now, no signature yet.

    Rendering is deterministic, so the same order and tariff give the same bytes and hash.
    """
    from sons import documents

    amount = _priced(order)
    shown = copy.copy(order)
    shown.amount_ht_cents = amount["ht_cents"]
    shown.amount_ttc_cents = amount["ttc_cents"]
    shown.vat_rate = Decimal(amount["vat_rate"])
    shown.pricing_snapshot = amount["snapshot"]
    return documents.render_order_pdf(shown)


def sign_order_online(
    *,
    order: PurchaseOrder,
    signatory_name: str,
    signatory_role: str,
    method: str,
    document_sha256: str,
    evidence: dict[str, Any],
    actor: Actor,
    at: dt.datetime | None = None,
) -> PurchaseOrder:
    """The client signs a draft BDC online: only the exact document they were shown."""
    from sons import documents

    with transaction.atomic():
        order = lock_client_orders(order)
        if order.status == OrderStatus.DRAFT:
            shown = documents.sha256_hex(order_to_sign_pdf(order))
            if shown != document_sha256:
                raise RuleViolation(
                    "order_document_changed",
                    _(
                        "Le bon de commande a changé depuis que vous l'avez ouvert : relisez-le "
                        "avant de le signer."
                    ),
                    field="document_sha256",
                )
        return sign_order(
            order=order,
            signatory_name=signatory_name,
            signatory_role=signatory_role,
            method=method,
            actor=actor,
            at=at,
            online={**evidence, "document_sha256": document_sha256},
        )


def confirm_conditional_order(
    *, order: PurchaseOrder, actor: Actor, at: dt.datetime | None = None
) -> PurchaseOrder:
    """A conditional order becomes firm once its solution is referenced inside the window."""
    at = now_or(at)
    referencing = referencing_in_force(
        solution_version=order.solution_version, dispositif=order.dispositif, at=at
    )
    if referencing is None:
        raise RuleViolation(
            "solution_not_referenced",
            _("%(version)s n'est pas encore référencée pour le dispositif %(code)s."),
            field="referencing",
            version=str(order.solution_version),
            code=order.dispositif.code,
        )
    return apply_transition(
        order,
        "confirm_referencing",
        actor=actor,
        snapshot={
            "at": at.isoformat(),
            "referencing_id": referencing.pk,
            "referenced_at": referencing.decided_at.isoformat(),
            "conditional_until": iso(order.conditional_until),
        },
        referencing=referencing,
    )


def lapse_order(*, order: PurchaseOrder, actor: Actor, at: dt.datetime | None = None):
    at = now_or(at)
    return apply_transition(
        order,
        "lapse",
        actor=actor,
        reason=str(_("Solution non référencée dans le délai des commandes sous condition.")),
        snapshot={"at": at.isoformat(), "conditional_until": iso(order.conditional_until)},
        at=at,
    )


def cancel_order(
    *,
    order: PurchaseOrder,
    actor: Actor,
    sworn_statement: str,
    client_renunciation: str = "",
    at: dt.datetime | None = None,
) -> PurchaseOrder:
    at = now_or(at)
    return apply_transition(
        order,
        "cancel",
        actor=actor,
        reason=sworn_statement,
        snapshot={"at": at.isoformat(), "client_renunciation": client_renunciation},
        at=at,
        sworn_statement=sworn_statement,
        client_renunciation=client_renunciation,
    )


def declare_default(
    *, order: PurchaseOrder, actor: Actor, reason: str, at: dt.datetime | None = None
) -> PurchaseOrder:
    """The vendor cannot deliver: the client and the paying agency are told after commit."""
    at = now_or(at)
    with transaction.atomic():
        order = apply_transition(
            order,
            "declare_default",
            actor=actor,
            reason=reason,
            snapshot={"at": at.isoformat()},
            at=at,
            default_reason=reason,
        )
        after_commit(tasks.notify_default, order.pk)
    return order


def record_default_notifications(*, order_id: int, client_at=None, agency_at=None) -> None:
    """Notes when the client or the agency was told of a default (not a state change); the
    first instant noted stays."""
    for field, at in (("client_notified_at", client_at), ("agency_notified_at", agency_at)):
        if at is not None:
            PurchaseOrder.objects.filter(pk=order_id, **{f"{field}__isnull": True}).update(
                **{field: at}
            )


def complete_order(*, order: PurchaseOrder, actor: Actor, at: dt.datetime | None = None):
    """Called by payments when the solde is paid."""
    at = now_or(at)
    return apply_transition(order, "complete", actor=actor, snapshot={"at": at.isoformat()}, at=at)


def complete_orders(*, order_ids: list[int], actor: Actor, at: dt.datetime) -> None:
    """Many orders completed at once (a feedback file paying many soldes)."""
    if order_ids:
        apply_transition_many(
            PurchaseOrder,
            order_ids,
            "complete",
            actor=actor,
            snapshot=lambda o: {"at": at.isoformat()},
            arguments=lambda o: {"at": at},
            related=("client",),  # the journal names each order with its client
        )


def start_recovery(
    *, order: PurchaseOrder, actor: Actor, reason: str, at: dt.datetime | None = None
) -> PurchaseOrder:
    at = now_or(at)
    return apply_transition(
        order, "start_recovery", actor=actor, reason=reason, snapshot={"at": at.isoformat()}, at=at
    )


def record_order_pdf(*, order_id: int, name: str, content: bytes, sha256: str) -> bool:
    """Stores the rendered BDC with its hash (a document, not a state change), once: a task
    delivered twice (its worker killed after the store) keeps the first document, whose hash
    may already have been read; the file of the run that lost is removed. True if stored."""
    from django.core.files.base import ContentFile

    order = PurchaseOrder.objects.get(pk=order_id)
    if order.pdf_sha256:
        return False
    order.pdf.save(name, ContentFile(content), save=False)
    stored = PurchaseOrder.objects.filter(pk=order_id, pdf_sha256="").update(
        pdf=order.pdf.name, pdf_sha256=sha256
    )
    if not stored:
        order.pdf.storage.delete(order.pdf.name)
    return bool(stored)
