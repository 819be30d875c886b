"""The API's own writers: clients registered by a vendor, the fields of a draft order a vendor
may correct, webhook subscriptions. State changes of the lifecycle are never made here: the
views call sons.services / payments.services / catalogue.services for them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.models import Dispositif, SolutionVersion, Vendor
from catalogue.services import ensure_vendor_may_distribute
from core.errors import RuleViolation
from core.journal import Actor, Change, record_transition, record_transitions
from sons.models import (
    LIVE_ORDER_STATUSES,
    Client,
    ClientRelationship,
    OrderStatus,
    PurchaseOrder,
)
from sons.services import clients as client_services
from sons.services.orders import order_already_open, require_installation_scenario

from .concurrency import matches, require_match
from .errors import django_validation_errors
from .models import EventCursor, WebhookSubscription
from .webhooks import new_secret

logger = logging.getLogger(__name__)


def update_clients(
    *,
    vendor: Vendor,
    changes: dict[int, tuple[int, str, dict[str, Any]]],
    errors: list[dict],
    actor: Actor,
) -> dict[int, int]:
    """Changes many of the vendor's records of its clients at once, each under its ETag
    (`if_match`), through sons.services.clients; what is refused goes to `errors` as {index,
    field, code, message}. Returns, by index, the client id changed."""
    locked = {
        r.client_id: r
        for r in ClientRelationship.objects.select_related("client", "vendor")
        .select_for_update(no_key=True, of=("self",))
        .filter(vendor=vendor, client_id__in=[pk for pk, _tag, _data in changes.values()])
    }
    accepted, result = [], {}
    for index, (pk, if_match, data) in changes.items():
        record = locked[pk]
        if not matches(if_match, record):
            errors.append(_stale(index, _("Le client a changé depuis votre lecture.")))
            continue
        try:
            client_services.checked_contact(record, data)
        except ValidationError as exc:
            errors.extend({"index": index, **e} for e in django_validation_errors(exc))
            continue
        accepted.append((record, data))
        result[index] = pk
    if not errors:
        client_services.change_contacts(changes=accepted, actor=actor)
    return result


def _stale(index: int, message) -> dict:
    return {
        "index": index,
        "field": "if_match",
        "code": "precondition_failed",
        "message": str(message),
    }


def update_client(
    *, record: ClientRelationship, changes: dict[str, Any], if_match: str | None, actor: Actor
) -> ClientRelationship:
    """Changes the vendor's record of a client under If-Match (journaled)."""
    with transaction.atomic():
        locked = (
            ClientRelationship.objects.select_related("client", "vendor")
            .select_for_update(no_key=True, of=("self",))
            .get(pk=record.pk)
        )
        require_match(if_match, locked)
        client_services.checked_contact(locked, changes)
        client_services.change_contacts(changes=[(locked, changes)], actor=actor)
    return locked


@dataclass(frozen=True)
class NewOrder:
    """One draft order to create in bulk, its references already checked as the vendor's."""

    key: int
    client: Client
    dispositif: Dispositif
    solution_version: SolutionVersion
    installation_scenario: str
    vendor_reference: str = ""


def create_orders(
    *, vendor: Vendor, rows: list[NewOrder], actor: Actor, at: dt.datetime, errors: list[dict]
) -> dict[int, int]:
    """Draft orders in bulk, under the rules of sons.services.orders.create_order applied set-wise
    (a distributor's mandate, a scenario, one live order per vendor, client and dispositif),
    journaled in bulk. Refusals go to `errors` and nothing is written. Returns key -> order id."""
    refused: dict[int, RuleViolation] = {}
    for solution in {row.solution_version.solution for row in rows}:
        try:
            ensure_vendor_may_distribute(vendor=vendor, solution=solution, at=at)
        except RuleViolation as exc:
            refused.update({r.key: exc for r in rows if r.solution_version.solution == solution})
    live = set(
        PurchaseOrder.objects.filter(
            vendor=vendor,
            status__in=LIVE_ORDER_STATUSES,
            client_id__in={r.client.pk for r in rows},
            dispositif_id__in={r.dispositif.pk for r in rows},
        ).values_list("client_id", "dispositif_id")
    )
    for row in rows:
        if row.key in refused:
            continue
        try:
            require_installation_scenario(row.installation_scenario)
        except RuleViolation as exc:
            refused[row.key] = exc
        else:
            if (row.client.pk, row.dispositif.pk) in live:
                refused[row.key] = order_already_open(
                    vendor=vendor, client=row.client, dispositif=row.dispositif
                )
        live.add((row.client.pk, row.dispositif.pk))
    errors.extend(
        {"index": key, "field": exc.field, "code": exc.code, "message": exc.message}
        for key, exc in sorted(refused.items())
    )
    if refused or not rows:
        return {}
    with transaction.atomic():
        orders = PurchaseOrder.objects.bulk_create(
            [
                PurchaseOrder(
                    vendor=vendor,
                    client=row.client,
                    dispositif=row.dispositif,
                    solution_version=row.solution_version,
                    installation_scenario=row.installation_scenario.strip(),
                    vendor_reference=row.vendor_reference,
                )
                for row in rows
            ],
            batch_size=1000,
        )
        record_transitions(
            [
                Change(
                    order,
                    "create",
                    "",
                    order.status,
                    "",
                    {"at": at.isoformat(), "client_id": order.client_id, "vendor_id": vendor.pk},
                )
                for order in orders
            ],
            actor=actor,
        )
    logger.info("orders_created_in_bulk vendor_id=%s count=%s", vendor.pk, len(orders))
    return {row.key: order.pk for row, order in zip(rows, orders, strict=True)}


def update_orders(
    *, changes: dict[int, tuple[int, str, dict[str, Any]]], actor: Actor, errors: list[dict]
) -> dict[int, int]:
    """Corrections of many orders at once, each under its ETag, journaled in bulk; refusals go
    to `errors`. Returns index -> order id."""
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
        if not matches(if_match, order):
            errors.append(
                _stale(index, _("Le BDC a changé depuis votre lecture (ETag différent)."))
            )
            continue
        try:
            check_order_changes(order, data)
        except RuleViolation as exc:
            errors.append(
                {"index": index, "field": exc.field, "code": exc.code, "message": exc.message}
            )
            continue
        for name, value in data.items():
            setattr(order, name, value.strip() if isinstance(value, str) else value)
        fields.update(data)
        journal.append(Change(order, "update", order.status, order.status, "", {"changes": data}))
        result[index] = pk
    if errors:
        return {}
    if journal and fields:
        PurchaseOrder.objects.bulk_update([c.obj for c in journal], sorted(fields), batch_size=1000)
        record_transitions(journal, actor=actor)
    return result


def update_order(
    *, order: PurchaseOrder, changes: dict[str, Any], if_match: str | None, actor: Actor
) -> PurchaseOrder:
    """Corrects the vendor's reference (any time) or the installation scenario (draft only),
    under If-Match; journaled like an invoice attached to a claim (same state before/after)."""
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        require_match(if_match, locked)
        check_order_changes(locked, changes)
        for field, value in changes.items():
            setattr(locked, field, value.strip() if isinstance(value, str) else value)
        if changes:
            locked.save(update_fields=list(changes))
        record_transition(
            obj=locked,
            transition="update",
            source=locked.status,
            target=locked.status,
            actor=actor,
            snapshot={"changes": changes},
        )
    return locked


def check_order_changes(order: PurchaseOrder, changes: dict[str, Any]) -> None:
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


# -- webhooks ---------------------------------------------------------------------------------


def subscribe(
    *, vendor: Vendor, url: str, events: list[str], description: str = ""
) -> WebhookSubscription:
    """A new subscription with its signing secret; events from now on are delivered to it."""
    from .events import _head

    with transaction.atomic():
        EventCursor.objects.get_or_create(id=1, defaults={"last_sequence": _head()})
        subscription = WebhookSubscription.objects.create(
            vendor=vendor,
            url=url,
            events=sorted(set(events)),
            description=description,
            secret=new_secret(),
        )
    logger.info("webhook_subscribed vendor_id=%s subscription_id=%s", vendor.pk, subscription.pk)
    return subscription


def update_subscription(
    *, subscription: WebhookSubscription, changes: dict[str, Any], if_match: str | None
) -> WebhookSubscription:
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update(no_key=True).get(pk=subscription.pk)
        require_match(if_match, locked)
        if "events" in changes:
            changes["events"] = sorted(set(changes["events"]))
        reactivated = changes.get("is_active") is True and not locked.is_active
        for field, value in changes.items():
            setattr(locked, field, value)
        if reactivated:
            locked.disabled_at = None
            locked.disabled_reason = ""
        elif changes.get("is_active") is False and locked.disabled_at is None:
            locked.disabled_at = timezone.now()
            locked.disabled_reason = str(_("Désactivé par le fournisseur."))
        locked.save()
    return locked


def unsubscribe(*, subscription: WebhookSubscription) -> None:
    with transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk).delete()
