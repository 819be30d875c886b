"""Bulk creation or update of orders or clients, all or nothing.

First every item is checked against what exists (its client, dispositif and version among the
vendor's own, the model's own rules for a client) without writing; then, in one transaction, the
rules that need the database are applied set-wise and the rows written in bulk, journaled in
bulk (api.services.create_orders...). Any refusal anywhere rolls the whole transaction back and
the answer lists every item at fault with its index, field and rule.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.models import Dispositif, SolutionVersion, Vendor
from catalogue.selectors import vendor_may_distribute
from core.journal import Actor
from sons.models import Client, ClientRelationship
from sons.services import clients as client_services

from . import selectors, services
from .errors import django_validation_errors
from .models import BulkJob

logger = logging.getLogger(__name__)

ORDER_IMMUTABLE = ("client", "dispositif", "solution_version")
ORDER_REQUIRED = ("client", "dispositif", "solution_version", "installation_scenario")
CLIENT_IMMUTABLE = ("kind", "legal_name", "rpps", "finess", "siret", "siren")
CLIENT_REQUIRED = ("kind", "legal_name")


@dataclass
class Outcome:
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # "invalid": something does not exist or is malformed (400); "refused": a rule (409)
    failure: str | None = None


def _error(index: int, field_name: str | None, code: str, message: str) -> dict[str, Any]:
    return {"index": index, "field": field_name, "code": code, "message": str(message)}


class _Refused(Exception):
    """Leaves the transaction so that nothing of a refused bulk is kept."""


def _shape_errors(items, required, immutable) -> list[dict]:
    errors = []
    for index, item in enumerate(items):
        if "id" in item:
            if not item.get("if_match"):
                errors.append(
                    _error(
                        index,
                        "if_match",
                        "precondition_required",
                        _("Une modification porte l'ETag lu sur l'objet (if_match)."),
                    )
                )
            for name in immutable:
                if name in item:
                    errors.append(
                        _error(
                            index,
                            name,
                            "field_not_updatable",
                            _("Ce champ ne se modifie pas sur un objet existant."),
                        )
                    )
        else:
            if "if_match" in item:
                errors.append(
                    _error(
                        index,
                        "if_match",
                        "unexpected_if_match",
                        _("if_match accompagne une modification (avec id), pas une création."),
                    )
                )
            for name in required:
                if name not in item:
                    errors.append(_error(index, name, "required", _("Ce champ est obligatoire.")))
    return errors


def missing_fields(raw_items: list, kind: str) -> list[dict]:
    """What items to create lack, said alongside the other errors of a malformed bulk."""
    required = ORDER_REQUIRED if kind == BulkJob.Kind.ORDERS else CLIENT_REQUIRED
    return [
        _error(index, name, "required", _("Ce champ est obligatoire."))
        for index, item in enumerate(raw_items)
        if isinstance(item, dict) and "id" not in item
        for name in required
        if name not in item
    ]


def orders_bulk(
    *, vendor: Vendor, actor: Actor, items: list[dict], at: dt.datetime | None = None
) -> Outcome:
    at = at or timezone.now()
    outcome = Outcome(errors=_shape_errors(items, ORDER_REQUIRED, ORDER_IMMUTABLE))
    client_ids = {i["client"] for i in items if "client" in i}
    clients = {c.pk: c for c in selectors.clients_of(vendor).filter(pk__in=client_ids)}
    codes = {i["dispositif"] for i in items if "dispositif" in i}
    dispositifs = {d.code: d for d in Dispositif.objects.filter(code__in=codes)}
    version_ids = {i["solution_version"] for i in items if "solution_version" in i}
    versions = {
        v.pk: v
        for v in SolutionVersion.objects.filter(pk__in=version_ids).select_related("solution")
    }
    distributable = {
        s.pk: vendor_may_distribute(vendor=vendor, solution=s, at=at)
        for s in {v.solution for v in versions.values()}
    }
    order_ids = {i["id"] for i in items if "id" in i}
    existing = set(
        selectors.orders_of(vendor).filter(pk__in=order_ids).values_list("pk", flat=True)
    )
    for index, item in enumerate(items):
        if "client" in item and item["client"] not in clients:
            outcome.errors.append(
                _error(index, "client", "does_not_exist", _("Client inconnu parmi les vôtres."))
            )
        if "dispositif" in item and item["dispositif"] not in dispositifs:
            outcome.errors.append(
                _error(index, "dispositif", "does_not_exist", _("Dispositif inconnu."))
            )
        version = versions.get(item.get("solution_version"))
        if "solution_version" in item and (
            version is None or not distributable[version.solution_id]
        ):
            outcome.errors.append(
                _error(
                    index,
                    "solution_version",
                    "does_not_exist",
                    _("Version de solution inconnue parmi celles que vous distribuez."),
                )
            )
        if "id" in item and item["id"] not in existing:
            outcome.errors.append(
                _error(index, "id", "does_not_exist", _("BDC inconnu parmi les vôtres."))
            )
    if outcome.errors:
        outcome.failure = "invalid"
        return outcome
    creations = [(index, item) for index, item in enumerate(items) if "id" not in item]
    updates = [(index, item) for index, item in enumerate(items) if "id" in item]
    try:
        with transaction.atomic():
            created = services.create_orders(
                vendor=vendor,
                rows=[
                    services.NewOrder(
                        key=index,
                        client=clients[item["client"]],
                        dispositif=dispositifs[item["dispositif"]],
                        solution_version=versions[item["solution_version"]],
                        installation_scenario=item["installation_scenario"],
                        vendor_reference=item.get("vendor_reference", ""),
                    )
                    for index, item in creations
                ],
                actor=actor,
                at=at,
                errors=outcome.errors,
            )
            updated = services.update_orders(
                changes={
                    index: (item["id"], item["if_match"], _order_changes(item))
                    for index, item in updates
                },
                actor=actor,
                errors=outcome.errors,
            )
            if outcome.errors:
                raise _Refused
    except _Refused:
        return _refused(outcome)
    except IntegrityError:
        return _raced(outcome)
    outcome.results = _results(created, updated)
    return outcome


def _refused(outcome: Outcome) -> Outcome:
    outcome.failure = "refused"
    outcome.results = []
    outcome.errors.sort(key=lambda e: e["index"])
    return outcome


def _raced(outcome: Outcome) -> Outcome:
    outcome.failure = "refused"
    outcome.results = []
    outcome.errors = [
        _error(
            0,
            None,
            "concurrent_change",
            _("Une autre requête a modifié les mêmes données au même moment : réessayez."),
        )
    ]
    return outcome


def _results(created: dict, updated: dict) -> list[dict]:
    """{index, id, created} for every item, in the order of the request."""
    rows = [
        {"index": i, "id": value[0] if isinstance(value, tuple) else value, "created": new}
        for values, default in ((created, True), (updated, False))
        for i, value in values.items()
        for new in [value[1] if isinstance(value, tuple) else default]
    ]
    return sorted(rows, key=lambda r: r["index"])


def _order_changes(item: dict) -> dict:
    return {k: item[k] for k in ("vendor_reference", "installation_scenario") if k in item}


def clients_bulk(*, vendor: Vendor, items: list[dict], actor: Actor) -> Outcome:
    outcome = Outcome(errors=_shape_errors(items, CLIENT_REQUIRED, CLIENT_IMMUTABLE))
    ids = {i["id"] for i in items if "id" in i}
    current = {
        r.client_id: r for r in selectors.client_records_of(vendor).filter(client_id__in=ids)
    }
    new_clients: dict[int, tuple[Client, ClientRelationship]] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        data = {k: v for k, v in item.items() if k not in ("id", "if_match")}
        if "id" in item and item["id"] not in current:
            outcome.errors.append(
                _error(index, "id", "does_not_exist", _("Client inconnu parmi les vôtres."))
            )
            continue
        if "id" not in item and outcome_fields(outcome, index) & set(CLIENT_REQUIRED):
            continue
        try:
            if "id" in item:
                client_services.checked_contact(current[item["id"]], data)
                continue
            client, record = client_services.prepared_client(data)
        except ValidationError as exc:
            outcome.errors.extend(
                _error(index, e["field"], e["code"], e["message"])
                for e in django_validation_errors(exc)
            )
            continue
        new_clients[index] = (client, record)
        for name in ("rpps", "finess", "siret"):
            value = getattr(client, name)
            if value and (name, value) in seen:
                outcome.errors.append(
                    _error(
                        index,
                        name,
                        "duplicate_in_request",
                        _("Même identifiant que l'élément %(other)s de la requête.")
                        % {"other": seen[(name, value)]},
                    )
                )
            elif value:
                seen[(name, value)] = index
    if outcome.errors:
        outcome.failure = "invalid"
        outcome.errors.sort(key=lambda e: e["index"])
        return outcome
    try:
        with transaction.atomic():
            updated = services.update_clients(
                vendor=vendor,
                actor=actor,
                changes={
                    index: (
                        item["id"],
                        item["if_match"],
                        {k: v for k, v in item.items() if k not in ("id", "if_match")},
                    )
                    for index, item in enumerate(items)
                    if "id" in item
                },
                errors=outcome.errors,
            )
            if outcome.errors:
                raise _Refused
            created = client_services.register_clients(
                vendor=vendor, clients=new_clients, actor=actor
            )
    except _Refused:
        return _refused(outcome)
    except IntegrityError:
        return _raced(outcome)
    outcome.results = _results(created, updated)
    return outcome


def outcome_fields(outcome: Outcome, index: int) -> set[str]:
    """The fields of item `index` already found at fault."""
    return {e["field"] for e in outcome.errors if e["index"] == index}


# -- jobs ---------------------------------------------------------------------------------


def start_job(*, vendor: Vendor, user, kind: str, items: list[dict]) -> BulkJob:
    """Records a bulk to run as a task (queued after commit)."""
    from .tasks import run_bulk_job

    with transaction.atomic():
        job = BulkJob.objects.create(
            vendor=vendor, user=user, kind=kind, item_count=len(items), payload=items
        )
        transaction.on_commit(lambda: run_bulk_job.delay(job.pk))
    logger.info("bulk_job_queued job_id=%s kind=%s items=%s", job.pk, kind, len(items))
    return job


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
    if job.kind == BulkJob.Kind.ORDERS:
        outcome = orders_bulk(vendor=job.vendor, actor=job.user, items=job.payload)
    else:
        outcome = clients_bulk(vendor=job.vendor, actor=job.user, items=job.payload)
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
