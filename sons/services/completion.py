"""The completion notice (« notification d'achèvement de la prestation »): one command, on a set.

By the end of réalisation the vendor must have filed its demande de solde or notified the ASP of
the completion of its prestation (SONS.md, « End of réalisation, exactly »: seed 003, COSUI of
5 April 2023). `notify_completions` is that notice for a set of orders, all or nothing, each
refusal named by index, field and rule code; the portal's order page and bulk file, the API's
single and bulk endpoints call it. Its rules are the declared guards of
`sons.acts.NOTIFY_COMPLETION`, judged on the locked orders. The notices reach the ASP in a
filing of their own kind (`payments.services.filings.build_filings`, kind « achevement »).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalogue.deadlines import DeadlineKind
from catalogue.models import Vendor
from catalogue.selectors import deadline_for
from core.commands import ItemErrors, Rollback
from core.journal import Actor, Change, actor_label, record_transitions
from core.services import now_or
from core.transitions import lock_in_order
from sons import acts
from sons.models import CompletionNotice, PurchaseOrder
from sons.selectors import order_by_reference

DEFAULT_STATEMENT = gettext_lazy(
    "La prestation Ségur de ce BDC est achevée : le fournisseur en notifie l'ASP avant la fin "
    "de réalisation."
)
STATEMENT_MAX = 2000


def _order_id(value: Any) -> int | None:
    """An item's order: the order itself, its id, or its reference « BDC-00000012 »."""
    if isinstance(value, PurchaseOrder):
        return value.pk
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        order = order_by_reference(text)
        return order.pk if order is not None else None
    return None


def _who(actor: Actor) -> str:
    full_name = getattr(actor, "get_full_name", None)
    return (full_name() if full_name else "") or actor_label(actor)


def notify_completions(
    *,
    vendor: Vendor,
    items: list[dict[str, Any]],
    actor: Actor,
    at: dt.datetime | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Notifies the ASP of the completion of the prestation of each item's order (one item is
    one order of `vendor`: {"order": order, id or reference, "statement": optional text}), all
    or nothing. Raises ItemsRefused; returns [{index, id, created, order, notified_at}]
    (`id`: the notice's). `dry_run`: judged and written in a transaction rolled back."""
    at = now_or(at)
    errors = ItemErrors()
    wanted: dict[int, int] = {}
    seen: dict[int, int] = {}
    for index, item in enumerate(items):
        if item.get("order") in (None, ""):
            errors.add(index, "order", "required", _("Ce champ est obligatoire."), invalid=True)
            continue
        order_id = _order_id(item["order"])
        if order_id is None:
            errors.add(
                index, "order", "does_not_exist", _("BDC inconnu parmi les vôtres."), invalid=True
            )
            continue
        if order_id in seen:
            errors.add(
                index,
                "order",
                "duplicate_in_request",
                _("Même BDC que l'élément %(other)s de la requête.") % {"other": seen[order_id]},
                invalid=True,
            )
            continue
        seen[order_id] = index
        if len(str(item.get("statement") or "")) > STATEMENT_MAX:
            errors.add(
                index,
                "statement",
                "max_length",
                _("La déclaration tient en %(max)s caractères au plus.") % {"max": STATEMENT_MAX},
                invalid=True,
            )
            continue
        wanted[index] = order_id
    ours = set(
        PurchaseOrder.objects.filter(vendor=vendor, pk__in=wanted.values()).values_list(
            "pk", flat=True
        )
    )
    for index, order_id in wanted.items():
        if order_id not in ours:
            errors.add(
                index, "order", "does_not_exist", _("BDC inconnu parmi les vôtres."), invalid=True
            )
    errors.raise_if_any()

    try:
        with transaction.atomic():
            # The lock order (core.transitions): the orders, then the journal's head.
            orders = lock_in_order({"sons.PurchaseOrder": sorted(wanted.values())})[
                "sons.PurchaseOrder"
            ]
            for index, order_id in wanted.items():
                for refusal in acts.NOTIFY_COMPLETION.refusals(orders[order_id], at=at):
                    errors.add(index, refusal.field, refusal.code, refusal.message)
            errors.raise_if_any()
            who = _who(actor)
            notices = {
                index: CompletionNotice.objects.create(
                    order=orders[order_id],
                    notified_at=at,
                    notified_by=who,
                    statement=str(items[index].get("statement") or "").strip()
                    or str(DEFAULT_STATEMENT),
                )
                for index, order_id in wanted.items()
            }
            record_transitions(
                [
                    Change(
                        obj=notice,
                        transition="notify_completion",
                        source="",
                        target="completion_notified",
                        snapshot=_snapshot(notice, at),
                    )
                    for notice in notices.values()
                ],
                actor=actor,
            )
            results = [
                {
                    "index": index,
                    "id": notice.pk,
                    "created": True,
                    "order": notice.order_id,
                    "notified_at": notice.notified_at,
                }
                for index, notice in notices.items()
            ]
            if dry_run:
                raise Rollback(results)
    except Rollback as trial:
        return trial.result
    return results


def _snapshot(notice: CompletionNotice, at: dt.datetime) -> dict[str, Any]:
    """What justified the notice: the instant, the order, the end of réalisation applied."""
    order = notice.order
    realisation = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.REALISATION, at=at)
    return {
        "at": at.isoformat(),
        "order_id": order.pk,
        "deadline": realisation.as_snapshot() if realisation is not None else None,
    }


def notify_completion(
    *, order: PurchaseOrder, actor: Actor, statement: str = "", at: dt.datetime | None = None
) -> CompletionNotice:
    """The command on one order (a form, a single endpoint). Raises ItemsRefused."""
    (result,) = notify_completions(
        vendor=order.vendor, items=[{"order": order, "statement": statement}], actor=actor, at=at
    )
    return CompletionNotice.objects.get(pk=result["id"])
