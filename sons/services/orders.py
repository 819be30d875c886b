"""Purchase orders (BDC): creation, signature (firm or conditional), and their endings."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind, format_paris, window_end
from catalogue.models import Dispositif, SolutionVersion, Vendor
from catalogue.selectors import deadline_for, price, referencing_in_force
from catalogue.services import ensure_vendor_may_distribute
from core.commands import ItemErrors, Rollback, check_shape
from core.errors import RuleViolation
from core.journal import Actor, Change, record_transitions
from core.services import after_commit, iso, now_or
from core.transitions import apply_transition, apply_transition_many, lock_in_order
from sons import tasks
from sons.models import LIVE_ORDER_STATUSES, Client, OrderStatus, PurchaseOrder
from sons.models.order import OrderSignature, SignatureMethod

from .clients import record_of
from .conflicts import open_or_join_conflict

logger = logging.getLogger(__name__)


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
    """A draft BDC of a vendor for one client under one dispositif: the command
    (`save_orders`) on one item. Raises ItemsRefused, a RuleViolation, when refused."""
    (result,) = save_orders(
        vendor=vendor,
        items=[
            {
                "client": client,
                "dispositif": dispositif,
                "solution_version": solution_version,
                "installation_scenario": installation_scenario,
                "vendor_reference": vendor_reference,
            }
        ],
        actor=actor,
        at=at,
    )
    return PurchaseOrder.objects.get(pk=result["id"])


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
        # Firm when the version is referenced, else conditional: each transition's guards
        # (sons.models.order) say whether it may happen at the signature's instant.
        if referencing is not None:
            order = apply_transition(
                order,
                "sign",
                actor=actor,
                snapshot=snapshot,
                judged_at=at,
                signature=signature,
                referencing=referencing,
            )
        else:
            until = (
                window_end(
                    at, dispositif.conditional_window_amount, dispositif.conditional_window_unit
                )
                if dispositif.allows_conditional_orders
                else None
            )
            snapshot["conditional_until"] = iso(until)
            order = apply_transition(
                order,
                "sign_conditionally",
                actor=actor,
                snapshot=snapshot,
                judged_at=at,
                window_end=until,
                signature=signature,
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
    if referencing is None:  # the transition's guard refuses it, with its message
        return apply_transition(
            order, "confirm_referencing", actor=actor, judged_at=at, referencing=None
        )
    return apply_transition(
        order,
        "confirm_referencing",
        actor=actor,
        judged_at=at,
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
    order = apply_transition(
        order,
        "cancel",
        actor=actor,
        reason=sworn_statement,
        snapshot={"at": at.isoformat(), "client_renunciation": client_renunciation},
        at=at,
        sworn_statement=sworn_statement,
        client_renunciation=client_renunciation,
    )
    after_commit(tasks.announce_orders_ended, [order.pk])  # an avance paid is recovered
    return order


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


# -- the commands: create or correct orders, record signatures (all or nothing) ----------------

ORDER_REQUIRED = ("dispositif", "solution_version", "installation_scenario")
ORDER_IMMUTABLE = (
    "client",
    "client_data",
    "dispositif",
    "solution_version",
    "signature",
    "prestation_variant",
)
ORDER_CORRECTABLE = ("vendor_reference", "installation_scenario")


def live_order_pairs(
    *, vendor: Vendor, client_ids: set[int], dispositif_ids: set[int]
) -> set[tuple[int, int]]:
    """The (client, dispositif) pairs where the vendor has a live BDC: the one-live-BDC rule,
    set-wise (`order_already_open` says the refusal)."""
    if not client_ids or not dispositif_ids:
        return set()
    return set(
        PurchaseOrder.objects.filter(
            vendor=vendor,
            status__in=LIVE_ORDER_STATUSES,
            client_id__in=client_ids,
            dispositif_id__in=dispositif_ids,
        ).values_list("client_id", "dispositif_id")
    )


def check_order_changes(order: PurchaseOrder, changes: dict[str, Any]) -> None:
    """What a correction may change: the vendor's reference any time, the installation scenario
    while the order is a draft (it is printed on the signed BDC)."""
    if "installation_scenario" in changes:
        if order.status != OrderStatus.DRAFT:
            raise RuleViolation(
                "order_not_draft",
                _(
                    "Le scénario d'installation figure sur le BDC signé : il ne change plus "
                    "(état : %(state)s)."
                ),
                field="installation_scenario",
                state=order.get_status_display(),
            )
        require_installation_scenario(changes["installation_scenario"])


def check_signature(
    index: Any,
    signature: dict[str, Any],
    errors: ItemErrors,
    *,
    at: dt.datetime,
    created_at: dt.datetime | None = None,
    prefix: str = "",
) -> None:
    """What a signature recorded by the vendor (a paper BDC, a scan) must hold before it is
    tried on the order: an instant that is not in the future, nor before the order was
    created (to the minute a person types), and a known method. The orders deadline and the
    named signatory are the transition's own rules (sons.models.order)."""

    def name(field: str) -> str:
        return f"{prefix}.{field}" if prefix else field

    signed_at = signature.get("signed_at")
    if signed_at is None:
        errors.add(
            index, name("signed_at"), "required", _("Ce champ est obligatoire."), invalid=True
        )
    elif signed_at > at:
        errors.add(
            index,
            name("signed_at"),
            "signed_at_future",
            _("La date de signature est dans le futur."),
        )
    elif created_at is not None and signed_at < created_at.replace(second=0, microsecond=0):
        errors.add(
            index,
            name("signed_at"),
            "signed_at_before_creation",
            _("La date de signature précède la création du BDC, le %(created)s (heure de Paris).")
            % {"created": format_paris(created_at)},
        )
    if signature.get("method") not in SignatureMethod.values:
        errors.add(
            index,
            name("method"),
            "signature_method_invalid",
            _("Mode de signature attendu : %(choices)s.")
            % {"choices": ", ".join(SignatureMethod.values)},
            invalid=True,
        )


def _sign_checked(
    index: Any, order: PurchaseOrder, signature: dict, actor: Actor, errors: ItemErrors, prefix=""
) -> PurchaseOrder | None:
    """The signature tried on the order (its transition's rules), a refusal going to `errors`."""
    try:
        return sign_order(
            order=order,
            signatory_name=signature.get("signatory_name", ""),
            signatory_role=signature.get("signatory_role", ""),
            method=signature["method"],
            actor=actor,
            at=signature["signed_at"],
        )
    except RuleViolation as exc:
        field = exc.field
        errors.rule(index, exc, field=f"{prefix}.{field}" if prefix and field else field or prefix)
        return None


def save_orders(
    *,
    vendor: Vendor,
    items: list[dict[str, Any]],
    actor: Actor,
    at: dt.datetime | None = None,
    precondition: Callable[[str | None, Any], bool] | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Creates or corrects the vendor's orders, all or nothing: the one command of every door
    (API single and bulk, the portal's files, `create_order`).

    An item without `id` creates a draft BDC: `client` (the id of one of the vendor's clients,
    or a Client given by the lifecycle's own callers) or `client_data` (a client registered in
    the same item, see `save_clients`), `dispositif` (code), `solution_version` (id),
    `installation_scenario`, `vendor_reference`; with `signature` ({signed_at, signatory_name,
    signatory_role, method}: a paper BDC the client already signed) it is then signed, created
    at the signature's instant. An item with `id` corrects `vendor_reference` or
    `installation_scenario`, under `if_match` when the door checks ETags (`precondition`).

    Every rule is checked on the whole set before anything is written: the vendor may
    distribute the solution, a scenario is named, one live BDC per vendor, client and
    dispositif (in the database and within the set), a signature not in the future; then, in
    one transaction, the signature transitions' own rules (orders deadline, referencing).
    Raises ItemsRefused naming every item at fault (index, field, rule code); returns
    [{index, id, created, status, new_client}]. `dry_run`: done, then rolled back."""
    from .clients import checked_new_client, identity_key, register_clients

    at = now_or(at)
    errors = ItemErrors()
    check_shape(
        items, errors, required=ORDER_REQUIRED, immutable=ORDER_IMMUTABLE, etag=bool(precondition)
    )
    for index, item in enumerate(items):
        if "id" not in item and "client" not in item and "client_data" not in item:
            errors.add(index, "client", "required", _("Ce champ est obligatoire."), invalid=True)
    codes = {
        str(i["dispositif"]).upper()
        for i in items
        if "dispositif" in i and not isinstance(i["dispositif"], Dispositif)
    }
    dispositifs = {
        d.code.upper(): d
        for d in (
            Dispositif.objects.annotate(upper_code=Upper("code")).filter(upper_code__in=codes)
            if codes
            else []
        )
    }
    version_ids = {
        i["solution_version"]
        for i in items
        if "solution_version" in i and not isinstance(i["solution_version"], SolutionVersion)
    }
    versions = SolutionVersion.objects.select_related("solution").in_bulk(version_ids)
    version_of = {
        index: item["solution_version"]
        if isinstance(item["solution_version"], SolutionVersion)
        else versions.get(item["solution_version"])
        for index, item in enumerate(items)
        if "solution_version" in item
    }
    dispositif_of = {
        index: item["dispositif"]
        if isinstance(item["dispositif"], Dispositif)
        else dispositifs.get(str(item["dispositif"]).upper())
        for index, item in enumerate(items)
        if "dispositif" in item
    }
    client_ids = {i["client"] for i in items if isinstance(i.get("client"), int)}
    vendor_clients = (
        {
            c.pk: c
            for c in Client.objects.filter(
                pk__in=client_ids, relationships__vendor=vendor
            ).distinct()
        }
        if client_ids
        else {}
    )
    order_ids = {i["id"] for i in items if "id" in i}
    existing = set(
        PurchaseOrder.objects.filter(vendor=vendor, pk__in=order_ids).values_list("pk", flat=True)
    )
    plans: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        if "id" in item:
            if item["id"] not in existing:
                errors.add(
                    index, "id", "does_not_exist", _("BDC inconnu parmi les vôtres."), invalid=True
                )
            continue
        plan: dict[str, Any] = {"item": item, "client": None, "prepared": None}
        client = item.get("client")
        if isinstance(client, Client):
            plan["client"] = client
        elif "client" in item:
            plan["client"] = vendor_clients.get(client)
            if plan["client"] is None:
                errors.add(
                    index,
                    "client",
                    "does_not_exist",
                    _("Client inconnu parmi les vôtres."),
                    invalid=True,
                )
        elif "client_data" in item:
            plan["prepared"] = checked_new_client(
                index, item["client_data"], errors, prefix="client"
            )
        if "dispositif" in item and dispositif_of[index] is None:
            errors.add(
                index,
                "dispositif",
                "does_not_exist",
                _("Dispositif inconnu : %(code)s.") % {"code": item["dispositif"]},
                invalid=True,
            )
        if "solution_version" in item and version_of[index] is None:
            errors.add(
                index,
                "solution_version",
                "does_not_exist",
                _("Version de solution inconnue."),
                invalid=True,
            )
        if "signature" in item:
            check_signature(index, item["signature"], errors, at=at, prefix="signature")
        plan["at"] = (item.get("signature") or {}).get("signed_at") or at
        plans[index] = plan
    _known_identities(plans)
    # The rules, on every item whose references are known.
    live = live_order_pairs(
        vendor=vendor,
        client_ids={p["client"].pk for p in plans.values() if p["client"] is not None},
        dispositif_ids={d.pk for d in dispositif_of.values() if d is not None},
    )
    seen: set = set()
    for index, plan in plans.items():
        item = plan["item"]
        version, dispositif = version_of.get(index), dispositif_of.get(index)
        if version is not None and plan["at"] <= at:
            try:
                ensure_vendor_may_distribute(
                    vendor=vendor, solution=version.solution, at=plan["at"]
                )
            except RuleViolation as exc:
                errors.rule(index, exc, field="solution_version")
        if "installation_scenario" in item:
            try:
                require_installation_scenario(item["installation_scenario"])
            except RuleViolation as exc:
                errors.rule(index, exc)
        client = plan["client"] or (plan["prepared"] or (None,))[0]
        key = None if client is None else identity_key(client)
        if key is None or dispositif is None:
            continue
        if (key, dispositif.pk) in seen or (
            client.pk is not None and (client.pk, dispositif.pk) in live
        ):
            errors.rule(
                index, order_already_open(vendor=vendor, client=client, dispositif=dispositif)
            )
        seen.add((key, dispositif.pk))
    _check_prestation_variants(plans, dispositif_of, errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            results = _write_orders(
                vendor=vendor,
                items=items,
                plans=plans,
                version_of=version_of,
                dispositif_of=dispositif_of,
                actor=actor,
                at=at,
                precondition=precondition,
                errors=errors,
                register=lambda clients: register_clients(
                    vendor=vendor, clients=clients, actor=actor, at=at
                ),
            )
            errors.raise_if_any()
            if dry_run:
                raise Rollback(results)
    except Rollback as trial:
        return trial.result
    return results


def financed_elsewhere(
    *, client_ids: set[int], dispositif_codes: set[str]
) -> dict[int, list[tuple[str, str]]]:
    """Per client, its live BDC (any vendor) under the given dispositifs, as (dispositif code,
    BDC reference): one query for the set. A prestation reserved to establishments financed by
    none of them (HOP vague 2's « vague 1 + vague 2 ») is refused to those clients."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not client_ids or not dispositif_codes:
        return found
    rows = (
        PurchaseOrder.objects.filter(
            client_id__in=client_ids,
            dispositif__code__in=dispositif_codes,
            status__in=LIVE_ORDER_STATUSES,
        )
        .order_by("pk")
        .values_list("client_id", "dispositif__code", "pk")
    )
    for client_id, code, pk in rows:
        found.setdefault(client_id, []).append((code, PurchaseOrder.reference_of(pk)))
    return found


def _check_prestation_variants(plans, dispositif_of, errors: ItemErrors) -> None:
    """The prestation named by an item is one of its dispositif's, and the client is eligible
    to it (esante.gouv.fr FAQ SONS: HOP « vague 1 + vague 2 » only for establishments financed
    by neither HOP-DPI nor HOP-PFI vague 1; SONS.md « Calendar and deadlines »)."""
    wanted = {}
    for index, plan in plans.items():
        code = plan["item"].get("prestation_variant") or ""
        dispositif = dispositif_of.get(index)
        if not code or dispositif is None:
            continue
        variants = {v.get("code"): v for v in dispositif.prestation_variants or []}
        if code not in variants:
            errors.add(
                index,
                "prestation_variant",
                "prestation_variant_unknown",
                _("Le dispositif %(dispositif)s n'offre pas la prestation « %(code)s » (%(known)s)")
                % {
                    "dispositif": dispositif.code,
                    "code": code,
                    "known": ", ".join(sorted(variants)) or _("une seule prestation"),
                },
                invalid=True,
            )
            continue
        if variants[code].get("not_financed_by") and plan["client"] is not None:
            wanted[index] = (plan["client"], variants[code])
    financed = financed_elsewhere(
        client_ids={client.pk for client, _variant in wanted.values()},
        dispositif_codes={c for _client, v in wanted.values() for c in v["not_financed_by"]},
    )
    for index, (client, variant) in wanted.items():
        held = [
            (code, reference)
            for code, reference in financed.get(client.pk, [])
            if code in variant["not_financed_by"]
        ]
        if held:
            errors.rule(
                index,
                RuleViolation(
                    "prestation_variant_not_eligible",
                    _(
                        "La « %(label)s » est réservée aux établissements financés ni par "
                        "%(excluded)s : %(client)s a déjà un BDC sur %(held)s."
                    ),
                    field="prestation_variant",
                    label=variant.get("label") or variant.get("code"),
                    excluded=" ni par ".join(variant["not_financed_by"]),
                    client=client.legal_name,
                    held=", ".join(f"{code} ({reference})" for code, reference in held),
                ),
            )


def _known_identities(plans: dict[int, dict[str, Any]]) -> None:
    """A client registered in an item but already on file (under one of its identifiers) is
    that client: the one-live-BDC rule looks at its orders."""
    from .clients import IDENTIFIERS

    prepared = [p for p in plans.values() if p["prepared"] is not None]
    for name in IDENTIFIERS:
        values = {getattr(p["prepared"][0], name) for p in prepared} - {""}
        if not values:
            continue
        known = {getattr(c, name): c for c in Client.objects.filter(**{f"{name}__in": values})}
        for plan in prepared:
            found = known.get(getattr(plan["prepared"][0], name))
            if found is not None and plan["client"] is None:
                plan["client"] = found
    for plan in prepared:
        plan["new_client"] = plan["client"] is None


def _write_orders(
    *, vendor, items, plans, version_of, dispositif_of, actor, at, precondition, errors, register
) -> list[dict[str, Any]]:
    from .clients import identity_key

    # Clients registered in the items: one registration per identity.
    # (The key is taken before registering: registration gives the new identities their id.)
    by_identity: dict[Any, tuple] = {}
    keys = {
        index: identity_key(plan["prepared"][0])
        for index, plan in plans.items()
        if plan["prepared"] is not None
    }
    for index, key in keys.items():
        by_identity.setdefault(key, plans[index]["prepared"])
    registered = register(by_identity) if by_identity else {}
    clients = Client.objects.in_bulk({pk for pk, _created in registered.values()})
    for index, plan in plans.items():
        if index in keys:
            plan["client"] = clients[registered[keys[index]][0]]
        elif isinstance(plan["item"].get("client"), Client):
            record_of(vendor=vendor, client=plan["client"], actor=actor)
    created: dict[int, PurchaseOrder] = {}
    if plans:
        orders = PurchaseOrder.objects.bulk_create(
            [
                PurchaseOrder(
                    vendor=vendor,
                    client=plan["client"],
                    dispositif=dispositif_of[index],
                    solution_version=version_of[index],
                    installation_scenario=plan["item"]["installation_scenario"].strip(),
                    vendor_reference=plan["item"].get("vendor_reference", "") or "",
                    prestation_variant=plan["item"].get("prestation_variant", "") or "",
                )
                for index, plan in plans.items()
            ],
            batch_size=1000,
        )
        created = dict(zip(plans, orders, strict=True))
        record_transitions(
            [
                Change(
                    order,
                    "create",
                    "",
                    order.status,
                    "",
                    {
                        "at": plans[index]["at"].isoformat(),
                        "client_id": order.client_id,
                        "vendor_id": vendor.pk,
                    },
                )
                for index, order in created.items()
            ],
            actor=actor,
        )
    corrected = _correct_orders(
        changes={
            index: (item["id"], item.get("if_match"), _changes_of(item))
            for index, item in enumerate(items)
            if "id" in item
        },
        actor=actor,
        precondition=precondition,
        errors=errors,
    )
    for index, order in created.items():
        signature = plans[index]["item"].get("signature")
        if signature is not None and not errors:
            created[index] = (
                _sign_checked(index, order, signature, actor, errors, prefix="signature") or order
            )
    results = [
        {
            "index": index,
            "id": order.pk,
            "created": True,
            "status": order.status,
            "new_client": plans[index].get("new_client", False),
        }
        for index, order in created.items()
    ] + [
        {"index": index, "id": order.pk, "created": False, "status": order.status}
        for index, order in corrected.items()
    ]
    logger.info(
        "orders_saved vendor_id=%s created=%s corrected=%s", vendor.pk, len(created), len(corrected)
    )
    return sorted(results, key=lambda r: r["index"])


def _changes_of(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ORDER_CORRECTABLE if k in item}


def _correct_orders(
    *, changes, actor, precondition, errors: ItemErrors
) -> dict[int, PurchaseOrder]:
    """Corrections of many orders, each read under lock (by primary key) and under its ETag
    when `precondition` is given, journaled in bulk; refusals go to `errors`."""
    if not changes:
        return {}
    locked = {
        o.pk: o
        for o in PurchaseOrder.objects.select_for_update(no_key=True, of=("self",))
        .select_related("client")
        .filter(pk__in=[pk for pk, _tag, _data in changes.values()])
        .order_by("pk")
    }
    journal, fields, result = [], set(), {}
    for index, (pk, if_match, data) in changes.items():
        order = locked[pk]
        if errors.stale(
            index,
            precondition,
            if_match,
            order,
            _("Le BDC a changé depuis votre lecture (ETag différent)."),
        ):
            continue
        try:
            check_order_changes(order, data)
        except RuleViolation as exc:
            errors.rule(index, exc)
            continue
        for name, value in data.items():
            setattr(order, name, value.strip() if isinstance(value, str) else value)
        fields.update(data)
        journal.append(Change(order, "update", order.status, order.status, "", {"changes": data}))
        result[index] = order
    if errors:
        return {}
    if journal and fields:
        PurchaseOrder.objects.bulk_update([c.obj for c in journal], sorted(fields), batch_size=1000)
        record_transitions(journal, actor=actor)
    return result


def record_signatures(
    *,
    items: list[dict[str, Any]],
    actor: Actor,
    at: dt.datetime | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Records the client's signatures of draft BDCs that the vendor holds (a paper BDC, a
    scan), all or nothing: each item is {order, signed_at, signatory_name, signatory_role,
    method}. The signature may not be in the future nor before the order's creation
    (`check_signature`); the signing transition applies its own rules (orders deadline,
    referencing, a named signatory). Raises ItemsRefused; returns [{index, id, status}]."""
    at = now_or(at)
    errors = ItemErrors()
    for index, item in enumerate(items):
        check_signature(index, item, errors, at=at, created_at=item["order"].created_at)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            signed = {
                index: _sign_checked(index, item["order"], item, actor, errors)
                for index, item in enumerate(items)
            }
            errors.raise_if_any()
            results = [
                {"index": index, "id": order.pk, "status": order.status}
                for index, order in signed.items()
            ]
            if dry_run:
                raise Rollback(results)
    except Rollback as trial:
        return trial.result
    return results
