"""Bulk requests of orders, clients or notices of completion, all or nothing: a door onto the
same commands as every other door (sons.services.orders.save_orders,
sons.services.clients.save_clients, sons.services.completion.notify_completions), run now or by
a task (BulkJob). The command checks every item before writing any; its refusal lists every item
at fault with its index, field and rule code, and this module only says it the API's way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from catalogue.models import Vendor
from core.commands import ItemsRefused
from core.journal import Actor
from sons.services import clients as client_services
from sons.services import completion as completion_services
from sons.services import orders as order_services

from .concurrency import matches
from .errors import ApiProblem
from .models import BulkJob

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # "invalid": something does not exist or is malformed (400); "refused": a rule (409)
    failure: str | None = None


RESULT_KEYS = ("index", "id", "created")


def _run(command, **kwargs) -> Outcome:
    """A command's answer as a bulk's: its results, or every item refused and why."""
    try:
        results = command(**kwargs)
    except ItemsRefused as refused:
        return Outcome(
            errors=[e.as_dict() for e in refused.errors],
            failure="invalid" if refused.invalid else "refused",
        )
    except IntegrityError:
        return Outcome(
            errors=[
                {
                    "index": 0,
                    "field": None,
                    "code": "concurrent_change",
                    "message": _(
                        "Une autre requête a modifié les mêmes données au même moment : réessayez."
                    ),
                }
            ],
            failure="refused",
        )
    return Outcome(results=[{k: r[k] for k in RESULT_KEYS} for r in results])


def missing_fields(raw_items: list, kind: str) -> list[dict]:
    """What items to create lack, said alongside the other errors of a malformed bulk."""
    required = {
        BulkJob.Kind.ORDERS: ("client", *order_services.ORDER_REQUIRED),
        BulkJob.Kind.COMPLETIONS: ("order",),
    }.get(kind, client_services.CLIENT_REQUIRED)
    return [
        {
            "index": index,
            "field": name,
            "code": "required",
            "message": _("Ce champ est obligatoire."),
        }
        for index, item in enumerate(raw_items)
        if isinstance(item, dict) and "id" not in item
        for name in required
        if name not in item
    ]


def orders_bulk(
    *, vendor: Vendor, actor: Actor, items: list[dict], at: dt.datetime | None = None
) -> Outcome:
    """The orders command (sons.services.orders.save_orders) on the request's items."""
    return _run(
        order_services.save_orders,
        vendor=vendor,
        items=items,
        actor=actor,
        at=at,
        precondition=matches,
    )


def clients_bulk(*, vendor: Vendor, items: list[dict], actor: Actor) -> Outcome:
    """The clients command (sons.services.clients.save_clients) on the request's items."""
    return _run(
        client_services.save_clients,
        vendor=vendor,
        items=items,
        actor=actor,
        precondition=matches,
    )


def completions_bulk(
    *, vendor: Vendor, actor: Actor, items: list[dict], at: dt.datetime | None = None
) -> Outcome:
    """The notices of completion command (sons.services.completion.notify_completions)."""
    return _run(
        completion_services.notify_completions, vendor=vendor, items=items, actor=actor, at=at
    )


def run_bulk(*, kind: str, vendor: Vendor, actor: Actor, items: list[dict]) -> Outcome:
    """The command of a bulk of `kind` on its items."""
    if kind == BulkJob.Kind.ORDERS:
        return orders_bulk(vendor=vendor, actor=actor, items=items)
    if kind == BulkJob.Kind.COMPLETIONS:
        return completions_bulk(vendor=vendor, actor=actor, items=items)
    return clients_bulk(vendor=vendor, items=items, actor=actor)


SINGLE_STATUS = {"precondition_required": 428, "precondition_failed": 412}


def single_problem(refused: ItemsRefused) -> ApiProblem:
    """A command's refusal of the one item of a single request, as the API answers it: 400
    with every field at fault when the item is malformed or names nothing known, 412/428 for
    its ETag, else 409 with the rule's code."""
    errors = [{k: e.as_dict()[k] for k in ("field", "code", "message")} for e in refused.errors]
    first = refused.errors[0]
    if first.code in SINGLE_STATUS:
        field_name = "If-Match"
        return ApiProblem(SINGLE_STATUS[first.code], first.code, first.message, field=field_name)
    if refused.invalid:
        return ApiProblem(
            400,
            "invalid_input",
            _("La requête contient %(count)s erreur(s) : %(first)s")
            % {"count": len(errors), "first": first.message},
            field=first.field,
            extra={"errors": errors},
        )
    return ApiProblem(409, first.code, first.message, field=first.field, extra={"errors": errors})


def run_command(command, **kwargs) -> list[dict[str, Any]]:
    """A command on the one item of a single request; its refusal as the API answers it."""
    try:
        return command(**kwargs)
    except ItemsRefused as refused:
        raise single_problem(refused) from None


# -- jobs ---------------------------------------------------------------------------------


def start_job(*, vendor: Vendor, user, kind: str, items: list[dict]) -> BulkJob:
    """Records a bulk to run as a task (queued after commit)."""
    from .tasks import run_bulk_job

    with transaction.atomic():
        job = BulkJob.objects.create(
            vendor=vendor,
            user=user,
            kind=kind,
            item_count=len(items),
            payload=json.loads(json.dumps(items, cls=DjangoJSONEncoder)),
        )
        transaction.on_commit(lambda: run_bulk_job.delay(job.pk))
    logger.info("bulk_job_queued job_id=%s kind=%s items=%s", job.pk, kind, len(items))
    return job


def _revived(items: list[dict]) -> list[dict]:
    """The items of an orders job as the serializer gave them (instants stored as text)."""
    for item in items:
        signature = item.get("signature")
        if signature and isinstance(signature.get("signed_at"), str):
            signature["signed_at"] = parse_datetime(signature["signed_at"])
    return items


def run_job(job_id: int) -> BulkJob:
    """Runs a queued bulk job once (a second delivery of the task finds it started)."""
    from .webhooks import emit

    with transaction.atomic():
        job = BulkJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.state != BulkJob.State.PENDING:
            return job
        job.state = BulkJob.State.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["state", "started_at"])
    items = _revived(job.payload) if job.kind == BulkJob.Kind.ORDERS else job.payload
    outcome = run_bulk(kind=job.kind, vendor=job.vendor, actor=job.user, items=items)
    job.state = BulkJob.State.FAILED if outcome.errors else BulkJob.State.SUCCEEDED
    job.result = outcome.results
    job.errors = outcome.errors
    job.finished_at = timezone.now()
    job.payload = []  # the items are applied or refused: no need to keep them
    job.save(update_fields=["state", "result", "errors", "finished_at", "payload"])
    logger.info(
        "bulk_job_finished job_id=%s state=%s items=%s errors=%s",
        job.pk,
        job.state,
        job.item_count,
        len(job.errors),
    )
    transaction.on_commit(
        lambda: emit(
            vendor=job.vendor,
            event="bulk_job.finished",
            payload={"job": str(job.public_id), "kind": job.kind, "state": job.state},
        )
    )
    return job
