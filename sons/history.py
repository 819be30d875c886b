"""One history of an order (BDC): every journal entry of its whole life, in French, read by the
portal's order page, the API's `orders/{id}/journal/` and the admin's BDC page alike.

Where it lives, and why. An order's life is written on several objects: the order itself, its
deployments, VA, MOM declaration, completion notice, pilot site and conflicts (all in sons), and
its payment claims and recoveries (in payments, an app above sons). Sons may not import payments,
and a reader put in an upper app (portal or api) could not be used by sons' own admin. So sons
keeps a small registry of « the journaled objects of an order », fills it with its own models
below, and each upper app adds its objects from its AppConfig.ready() (payments: claims and
recoveries, see payments/history.py). Signing adds nothing: its links and codes are not
journaled (the VA they sign is). An app that is not installed simply adds nothing.

A conflict is shared by the orders in it, and by several vendors: its own state changes (opened,
settled, expired) belong to each of its orders' history; an answer (`respond_*`, whose snapshot
names the order that answered) only to that order's. Shown to a vendor, the people of another
vendor are not named (« autre partie ») and the other orders in the conflict are not listed.

Labels (transitions, states, dates in Paris time) come from core.journal_display, the one
presenter of journal entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from catalogue.models import Vendor, VendorMember
from core.journal_display import HistoryEntry, present
from core.models import JournalEntry

from .models import (
    ClientConflict,
    CompletionNotice,
    Deployment,
    MomDeclaration,
    PilotSite,
    PurchaseOrder,
    VerificationAptitude,
)


@dataclass(frozen=True)
class OrderPart:
    """A kind of journaled object that belongs to an order."""

    model: type[models.Model]
    rows: Callable[[PurchaseOrder], QuerySet]  # the objects of this kind that belong to the order
    name: Callable[[Any], str]  # the object's name as people say it: « VA v2 »
    entries: Callable[[PurchaseOrder], Q] | None = None  # which of their entries concern it
    shared: bool = False  # shared with other vendors: their people are not named to a vendor


_PARTS: dict[str, OrderPart] = {}


def register_order_part(
    model: type[models.Model],
    *,
    rows: Callable[[PurchaseOrder], QuerySet],
    name: Callable[[Any], str],
    entries: Callable[[PurchaseOrder], Q] | None = None,
    shared: bool = False,
) -> None:
    """Adds a kind of object to every order's history (once per model; called at start-up)."""
    _PARTS[model._meta.label] = OrderPart(model, rows, name, entries, shared)


def order_parts() -> list[OrderPart]:
    return list(_PARTS.values())


def _content_type(model: type[models.Model]) -> ContentType:
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


def order_journal_entries(order: PurchaseOrder) -> QuerySet[JournalEntry]:
    """The journal entries of the order's whole life, in the order they were written (one
    query: each kind's objects are a subquery)."""
    conditions = []
    for part in _PARTS.values():
        keys = part.rows(order).annotate(journal_key=Cast("pk", CharField())).values("journal_key")
        condition = Q(content_type=_content_type(part.model), object_id__in=keys)
        if part.entries is not None:
            condition &= part.entries(order)
        conditions.append(condition)
    return (
        JournalEntry.objects.filter(reduce(or_, conditions))
        .select_related("content_type")
        .order_by("sequence")
    )


def order_history(order: PurchaseOrder, *, vendor: Vendor | None = None) -> list[HistoryEntry]:
    """The order's history as people read it. `vendor`: the vendor who reads it (the order's
    own, through the portal or the API): another vendor's people are then not named and the
    other orders of a conflict not listed; None (the administration) shows everything."""
    entries = list(order_journal_entries(order))
    parts = {_content_type(part.model).pk: part for part in _PARTS.values()}
    wanted: dict[int, set[str]] = defaultdict(set)
    for entry in entries:
        wanted[entry.content_type_id].add(entry.object_id)
    names: dict[tuple[int, str], str] = {}
    for content_type_id, ids in wanted.items():
        part = parts[content_type_id]
        for pk, obj in part.model._default_manager.in_bulk(list(ids)).items():
            names[content_type_id, str(pk)] = str(part.name(obj))
    ours: set[int] = set()
    if vendor is not None:
        ours = set(VendorMember.objects.filter(vendor=vendor).values_list("user_id", flat=True))
    rows = []
    for entry in entries:
        actor = snapshot = None
        if vendor is not None and parts[entry.content_type_id].shared:
            if entry.actor_id is not None and entry.actor_id not in ours:
                actor = _("autre partie")
            snapshot = _trimmed(entry.snapshot or {}, order)
        rows.append(
            present(
                entry,
                object_name=names.get((entry.content_type_id, entry.object_id)),
                actor=actor,
                snapshot=snapshot,
            )
        )
    return rows


# The keys of a shared object's snapshot that list orders (a conflict's: opened, joined, its
# windows ended, decided), and the one that names the order financed.
_ORDER_LISTS = ("orders", "set_aside", "members", "kept_orders")


def _trimmed(snapshot: dict, order: PurchaseOrder) -> dict:
    """A shared object's snapshot without the other vendors' orders."""
    trimmed = {
        **snapshot,
        **{
            key: [pk for pk in snapshot[key] if pk == order.pk]
            for key in _ORDER_LISTS
            if isinstance(snapshot.get(key), list)
        },
    }
    if trimmed.get("chosen_order_id") not in (None, order.pk):
        del trimmed["chosen_order_id"]
    return trimmed


# -- sons' own objects --------------------------------------------------------------------------


def _conflict_entries(order: PurchaseOrder) -> Q:
    """The conflict's own state changes, and the answers of this order only."""
    status = ClientConflict._meta.get_field("status")
    whole = {"open", "join", *(t.name for t in status.get_all_transitions(ClientConflict))}
    return Q(transition__in=sorted(whole)) | Q(snapshot__order_id=order.pk)


register_order_part(
    PurchaseOrder,
    rows=lambda order: PurchaseOrder.objects.filter(pk=order.pk),
    name=lambda order: order.reference,
)
register_order_part(
    Deployment,
    rows=lambda order: Deployment.objects.filter(order=order),
    name=lambda d: _("Déploiement (date ferme %(date)s)") % {"date": f"{d.firm_date:%d/%m/%Y}"},
)
register_order_part(
    VerificationAptitude,
    rows=lambda order: VerificationAptitude.objects.filter(order=order),
    name=lambda va: _("VA v%(version)s") % {"version": va.version},
)
register_order_part(
    MomDeclaration,
    rows=lambda order: MomDeclaration.objects.filter(order=order),
    name=lambda mom: _("Déclaration de MOM"),
)
register_order_part(
    CompletionNotice,
    rows=lambda order: CompletionNotice.objects.filter(order=order),
    name=lambda notice: _("Notification d'achèvement"),
)
register_order_part(
    PilotSite,
    rows=lambda order: PilotSite.objects.filter(order=order),
    name=lambda site: _("Site pilote"),
)
register_order_part(
    ClientConflict,
    rows=lambda order: ClientConflict.objects.filter(positions__order=order),
    name=lambda conflict: _("Conflit de financement"),
    entries=_conflict_entries,
    shared=True,
)
