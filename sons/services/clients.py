"""Clients: the shared identity, and each vendor's own record of the client.

A client's identifiers (RPPS, FINESS, SIRET) are public, so knowing one proves nothing. Whoever
registers a client first sets its identity (nature, identifiers, name); every vendor then keeps
its own relationship with it: the addresses its signing links and codes go to, the MSSanté
address its VA names, the figures its tariff reads. A vendor registering a client already on
file gets its own empty-or-typed record and sees nothing of another vendor's; nothing it types
changes what another vendor's client signs or is paid. Every door (portal form and file, API
single and bulk, admin) registers and changes clients through these functions.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from catalogue.models import Vendor
from core.commands import ItemErrors, Rollback, check_shape
from core.journal import Actor, Change, record_transitions
from core.services import now_or
from sons.models import Client, ClientRelationship
from sons.models.client import CONTACT_FIELDS

logger = logging.getLogger(__name__)

IDENTIFIERS = ("rpps", "finess", "siret")
IDENTITY_FIELDS = ("kind", "legal_name", "rpps", "finess", "siret", "siren")


def prepared_client(data: dict[str, Any]) -> tuple[Client, ClientRelationship]:
    """A new client's identity and the caller's record of it, checked by the models' rules
    (identifiers by nature, keys, characteristics), not saved; identifiers normalised. Raises
    ValidationError naming the fields at fault."""
    identity = {k: v for k, v in data.items() if k in IDENTITY_FIELDS and v is not None}
    contact = {k: v for k, v in data.items() if k in CONTACT_FIELDS and v is not None}
    client = Client(**identity)
    record = ClientRelationship(**contact)
    errors: dict[str, list] = {}
    for obj, exclude in ((client, None), (record, ["vendor", "client"])):
        try:
            obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.error_dict.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return client, record


def checked_contact(record: ClientRelationship, changes: dict[str, Any]) -> None:
    """Checks `changes` to `record` on a copy (nothing changed, nothing saved); identity fields
    are refused. Raises ValidationError naming the fields at fault."""
    refused = set(changes) - set(CONTACT_FIELDS)
    if refused:
        raise ValidationError(
            {
                name: ValidationError(
                    "La nature, les identifiants et le nom d'un client ne se modifient pas "
                    "ici : ils sont ceux de son identité publique.",
                    code="client_identity_read_only",
                )
                for name in sorted(refused)
            }
        )
    changed = copy.copy(record)
    for name, value in changes.items():
        setattr(changed, name, value)
    changed.full_clean(exclude=["vendor", "client"], validate_unique=False)


def register_clients(
    *,
    vendor: Vendor,
    clients: dict[Any, tuple[Client, ClientRelationship]],
    actor: Actor,
    at: dt.datetime | None = None,
) -> dict[Any, tuple[int, bool]]:
    """Makes checked clients the vendor's, all or nothing. A client already on file under one of
    its identifiers keeps its identity as it is; a new one is created. The vendor's record is
    created with what it typed, or, when the vendor already has one, completed where it is
    blank (never overwritten: a change goes through `change_contacts`). Returns, by key,
    (client id, whether the vendor's record was created)."""
    at = now_or(at)
    known: dict[tuple[str, str], int] = {}
    for name in IDENTIFIERS:
        values = {getattr(c, name) for c, _r in clients.values() if getattr(c, name)}
        if values:
            rows = Client.objects.filter(**{f"{name}__in": values}).values_list("pk", name)
            known.update({(name, value): pk for pk, value in rows})
    ids: dict[Any, int | None] = {
        key: next(
            (
                known[(name, getattr(client, name))]
                for name in IDENTIFIERS
                if (name, getattr(client, name)) in known
            ),
            None,
        )
        for key, (client, _record) in clients.items()
    }
    with transaction.atomic():
        new = [(key, clients[key][0]) for key, pk in ids.items() if pk is None]
        Client.objects.bulk_create([c for _key, c in new], batch_size=1000)
        ids.update({key: c.pk for key, c in new})
        identities = Client.objects.in_bulk(set(ids.values()))
        existing = {
            r.client_id: r
            for r in ClientRelationship.objects.select_related("client", "vendor")
            .select_for_update(no_key=True, of=("self",))
            .filter(vendor=vendor, client_id__in=set(ids.values()))
        }
        created: dict[int, ClientRelationship] = {}
        completed: dict[int, tuple[ClientRelationship, dict]] = {}
        for key, (_client, typed) in clients.items():
            pk = ids[key]
            if pk in existing or pk in created:
                record = existing.get(pk) or created[pk]
                blanks = {
                    name: getattr(typed, name)
                    for name in CONTACT_FIELDS
                    if getattr(typed, name) and not getattr(record, name)
                }
                if blanks and record.pk is not None:
                    completed[pk] = (record, blanks)
                continue
            typed.vendor, typed.client, typed.created_at = vendor, identities[pk], at
            created[pk] = typed
        ClientRelationship.objects.bulk_create(list(created.values()), batch_size=1000)
        changes = [
            Change(r, "register", "", "", "", {"at": at.isoformat(), **_snapshot(r.contact)})
            for r in created.values()
        ]
        changes += _apply(completed.values(), at)
        record_transitions(changes, actor=actor)
    logger.info(
        "clients_registered vendor_id=%s identities_created=%s records_created=%s",
        vendor.pk,
        len(new),
        len(created),
    )
    return {key: (pk, pk in created) for key, pk in ids.items()}


def register_client(
    *, vendor: Vendor, data: dict[str, Any], actor: Actor, at: dt.datetime | None = None
) -> tuple[ClientRelationship, bool]:
    """One client, through the command (`save_clients`): the vendor's record of it, and whether
    it was created. Raises ItemsRefused."""
    (result,) = save_clients(vendor=vendor, items=[data], actor=actor, at=at)
    record = ClientRelationship.objects.select_related("client").get(
        vendor=vendor, client_id=result["id"]
    )
    return record, result["created"]


def record_of(*, vendor: Vendor, client: Client, actor: Actor) -> ClientRelationship:
    """The vendor's record of a client, created empty (and journaled) when it has none: an order
    makes the client the vendor's."""
    record, created = ClientRelationship.objects.get_or_create(vendor=vendor, client=client)
    if created:
        record_transitions(
            [Change(record, "register", "", "", "", _snapshot(record.contact))], actor=actor
        )
    return record


def change_contacts(
    *,
    changes: list[tuple[ClientRelationship, dict[str, Any]]],
    actor: Actor,
    at: dt.datetime | None = None,
) -> list[ClientRelationship]:
    """Changes vendors' records (each read under lock and checked by the caller, see
    `checked_contact`; the records hold their values before the change),
    journaled with what was and what is. Nothing is re-sent on its own: a VA or BDC already
    issued keeps the address it was issued to."""
    at = now_or(at)
    with transaction.atomic():
        entries = _apply(changes, at)
        record_transitions(entries, actor=actor)
    return [record for record, _c in changes]


def _apply(changes, at: dt.datetime) -> list[Change]:
    entries, fields = [], set()
    for record, values in changes:
        before = {name: getattr(record, name) for name in values}
        for name, value in values.items():
            setattr(record, name, value)
        changed = {n: v for n, v in values.items() if before[n] != v}
        if not changed:
            continue
        fields.update(changed)
        entries.append(
            Change(
                record,
                "change_contact",
                "",
                "",
                "",
                {
                    "at": at.isoformat(),
                    "before": _snapshot({n: before[n] for n in changed}),
                    "after": _snapshot(changed),
                },
            )
        )
    records = [record for record, _v in changes]
    if fields:
        ClientRelationship.objects.bulk_update(records, sorted(fields), batch_size=1000)
    return entries


def _snapshot(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in ("", None, {})}


# -- the command: register or correct clients, all or nothing ------------------------------------

CLIENT_REQUIRED = ("kind", "legal_name")
Precondition = Callable[[str | None, Any], bool]


def checked_new_client(
    index: Any, data: dict[str, Any], errors: ItemErrors, *, prefix: str = ""
) -> tuple[Client, ClientRelationship] | None:
    """A new client's identity and the vendor's record of it, checked (`prepared_client`), or
    None with its faults added to `errors` (fields under `prefix`)."""
    missing = [name for name in CLIENT_REQUIRED if data.get(name) in (None, "")]
    for name in missing:
        field = f"{prefix}.{name}" if prefix else name
        errors.add(index, field, "required", _("Ce champ est obligatoire."), invalid=True)
    if missing:
        return None
    try:
        return prepared_client(data)
    except ValidationError as exc:
        errors.validation(index, exc, prefix=prefix)
        return None


def identity_key(client: Client) -> tuple[str, Any] | None:
    """What makes two items name the same client: its id, else its first identifier."""
    if client.pk is not None:
        return ("pk", client.pk)
    return next(((n, getattr(client, n)) for n in IDENTIFIERS if getattr(client, n)), None)


def save_clients(
    *,
    vendor: Vendor,
    items: list[dict[str, Any]],
    actor: Actor,
    at: dt.datetime | None = None,
    precondition: Precondition | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Registers or corrects the vendor's clients, all or nothing: the one command of every door.

    An item without `id` registers a client (`register_clients`: a client on file under one of
    its identifiers keeps its identity; the vendor's record is created or its blanks completed).
    An item with `id` changes the vendor's own record of that client (contact details, figures;
    never the shared identity), under `if_match` when the door checks ETags (`precondition`).
    Raises ItemsRefused naming every item at fault; returns [{index, id, created}] (`created`:
    whether the vendor's record was created). `dry_run`: everything checked and written, then
    rolled back."""
    at = now_or(at)
    errors = ItemErrors()
    check_shape(
        items,
        errors,
        required=(),
        immutable=IDENTITY_FIELDS,
        etag=precondition is not None,
    )
    ids = {i["id"] for i in items if "id" in i}
    current = {
        r.client_id: r
        for r in ClientRelationship.objects.filter(vendor=vendor, client_id__in=ids).select_related(
            "client"
        )
    }
    new: dict[int, tuple[Client, ClientRelationship]] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        data = {k: v for k, v in item.items() if k not in ("id", "if_match")}
        if "id" in item:
            if item["id"] not in current:
                errors.add(
                    index,
                    "id",
                    "does_not_exist",
                    _("Client inconnu parmi les vôtres."),
                    invalid=True,
                )
            elif not errors.of(index):
                try:
                    checked_contact(current[item["id"]], data)
                except ValidationError as exc:
                    errors.validation(index, exc)
            continue
        prepared = checked_new_client(index, data, errors)
        if prepared is None:
            continue
        new[index] = prepared
        for name in IDENTIFIERS:
            value = getattr(prepared[0], name)
            if value and (name, value) in seen:
                errors.add(
                    index,
                    name,
                    "duplicate_in_request",
                    _("Même identifiant que l'élément %(other)s de la requête.")
                    % {"other": seen[(name, value)]},
                    invalid=True,
                )
            elif value:
                seen[(name, value)] = index
    errors.raise_if_any()
    changes = {
        index: (item["id"], item.get("if_match"), _without_keys(item))
        for index, item in enumerate(items)
        if "id" in item
    }
    try:
        with transaction.atomic():
            corrected = correct_clients(
                vendor=vendor,
                changes=changes,
                actor=actor,
                at=at,
                precondition=precondition,
                errors=errors,
            )
            errors.raise_if_any()
            registered = register_clients(vendor=vendor, clients=new, actor=actor, at=at)
            results = sorted(
                [{"index": i, "id": pk, "created": False} for i, pk in corrected.items()]
                + [{"index": i, "id": pk, "created": c} for i, (pk, c) in registered.items()],
                key=lambda r: r["index"],
            )
            if dry_run:
                raise Rollback(results)
    except Rollback as trial:
        return trial.result
    return results


def _without_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("id", "if_match")}


def correct_clients(
    *,
    vendor: Vendor,
    changes: dict[Any, tuple[int, str | None, dict[str, Any]]],
    actor: Actor,
    errors: ItemErrors,
    at: dt.datetime | None = None,
    precondition: Precondition | None = None,
) -> dict[Any, int]:
    """Changes to the vendor's records of its clients, read under lock, each under its ETag when
    `precondition` is given; what is refused goes to `errors` and nothing is changed then.
    Returns, by key, the client id changed. Call inside the command's transaction."""
    if not changes:
        return {}
    locked = {
        r.client_id: r
        for r in ClientRelationship.objects.select_related("client", "vendor")
        .select_for_update(no_key=True, of=("self",))
        .filter(vendor=vendor, client_id__in=[pk for pk, _tag, _data in changes.values()])
        .order_by("pk")
    }
    accepted, result = [], {}
    for key, (pk, if_match, data) in changes.items():
        record = locked[pk]
        if errors.stale(
            key, precondition, if_match, record, _("Le client a changé depuis votre lecture.")
        ):
            continue
        try:
            checked_contact(record, data)
        except ValidationError as exc:
            errors.validation(key, exc)
            continue
        accepted.append((record, data))
        result[key] = pk
    if errors:
        return {}
    change_contacts(changes=accepted, actor=actor, at=at)
    return result
