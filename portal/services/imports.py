"""Bulk order files: uploaded, checked line by line, confirmed, then turned into orders.

Nothing is saved before the file is clean and confirmed. The check reads each line and then runs
the very services that will create it (client, `create_order`, `sign_order`) in a transaction
that is always rolled back, so the preview reports exactly the rules those services apply, each
refusal with its line, column and rule code. Small files are checked and created in the request;
larger ones by Celery tasks whose progress the page follows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from catalogue.models import Vendor
from core.errors import RuleViolation
from portal import tasks
from portal.bulk import FileRefused, LineError, LineReader, OrderLine, read_table, rule_column
from portal.models import BulkImport, ImportStatus
from sons.models import Client, PurchaseOrder
from sons.services import orders as order_services
from sons.services.clients import register_clients

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 25


def _inline_rows() -> int:
    return getattr(settings, "PORTAL_BULK_INLINE_ROWS", 200)


def _max_rows() -> int:
    return getattr(settings, "PORTAL_BULK_MAX_ROWS", 20000)


class _RolledBack(Exception):
    """Ends a trial run: the transaction it leaves is rolled back, nothing is kept."""

    def __init__(self, status: str):
        self.status = status


def upload_import(
    *, vendor: Vendor, user, file_name: str, content: bytes, at: dt.datetime | None = None
) -> BulkImport:
    """Keeps the file and checks it: now when it is small, by a task when it is large."""
    at = at or timezone.now()
    max_bytes = getattr(settings, "PORTAL_BULK_MAX_BYTES", 10 * 1024 * 1024)
    if len(content) > max_bytes:
        raise RuleViolation(
            "file_too_large",
            _("Le fichier dépasse %(size)s Mo."),
            field="file",
            size=max_bytes // (1024 * 1024),
        )
    digest = hashlib.sha256(content).hexdigest()
    bulk = BulkImport(
        vendor=vendor,
        created_by=user,
        created_at=at,
        file_name=file_name[:255],
        sha256=digest,
        status=ImportStatus.CHECKING,
    )
    bulk.file.save(
        f"{vendor.pk}-{digest[:12]}-{get_valid_filename(file_name)[-80:]}",
        ContentFile(content),
        save=False,
    )
    try:
        table = read_table(file_name, content, max_rows=_max_rows())
    except FileRefused as refused:
        bulk.status = ImportStatus.INVALID
        bulk.errors = [e.as_dict() for e in refused.errors]
        bulk.finished_at = at
        bulk.save()
        return bulk
    bulk.total_rows = len(table)
    bulk.save()
    if bulk.total_rows <= _inline_rows():
        check_import(import_id=bulk.pk)
        bulk.refresh_from_db()
    else:
        transaction.on_commit(lambda: tasks.check_import.delay(bulk.pk))
    return bulk


def _table(bulk: BulkImport) -> list[tuple[int, dict]]:
    with bulk.file.open("rb") as handle:
        content = handle.read()
    return read_table(bulk.file_name, content, max_rows=_max_rows())


def _apply_line(line: OrderLine, *, vendor: Vendor, actor, at: dt.datetime) -> PurchaseOrder:
    """What a confirmed line does, through the lifecycle services."""
    # The client's identity (new, or the one on file), and the vendor's own record of it:
    # created with the line's details, or its blanks completed; never another vendor's.
    ((client_id, _created),) = register_clients(
        vendor=vendor, clients={line.line: (line.client, line.contact)}, actor=actor, at=at
    ).values()
    client = Client.objects.get(pk=client_id)
    order = order_services.create_order(
        vendor=vendor,
        client=client,
        dispositif=line.dispositif,
        solution_version=line.solution_version,
        installation_scenario=line.installation_scenario,
        vendor_reference=line.vendor_reference,
        actor=actor,
        at=line.signed_at or at,
    )
    if line.signed_at is not None:
        order = order_services.sign_order(
            order=order,
            signatory_name=line.signatory_name,
            signatory_role=line.signatory_role,
            method=line.method,
            actor=actor,
            at=line.signed_at,
        )
    return order


def _refusal(line: OrderLine, exc: Exception) -> LineError:
    if isinstance(exc, RuleViolation):
        return LineError(line.line, rule_column(exc.field, line), exc.code, exc.message)
    return LineError(
        line.line,
        "",
        "write_conflict",
        _("Une autre écriture a eu lieu au même moment sur ces données : recommencez."),
    )


def _progress(bulk_id: int, done: int) -> None:
    BulkImport.objects.filter(pk=bulk_id).update(processed_rows=done)


def check_import(*, import_id: int) -> str:
    """Every line read and tried; the file becomes « valid » only when no line is refused."""
    bulk = BulkImport.objects.select_related("vendor", "created_by").get(pk=import_id)
    if bulk.status != ImportStatus.CHECKING:
        return bulk.status
    errors: list[LineError] = []
    outcomes: Counter = Counter()
    table: list = []
    try:
        table = _table(bulk)
        now = timezone.now()
        reader = LineReader(bulk.vendor, now=now)
        for done, (number, row) in enumerate(table, start=1):
            line, line_errors = reader.read(number, row)
            if line is None:
                errors.extend(line_errors)
            else:
                new_client = line.new_client
                try:
                    with transaction.atomic():
                        order = _apply_line(line, vendor=bulk.vendor, actor=bulk.created_by, at=now)
                        raise _RolledBack(order.status)
                except _RolledBack as trial:
                    outcomes[trial.status] += 1
                    outcomes["new_clients"] += int(new_client)
                except (RuleViolation, DatabaseError) as exc:
                    errors.append(_refusal(line, exc))
            if done % PROGRESS_EVERY == 0:
                _progress(bulk.pk, done)
    except FileRefused as refused:
        errors, outcomes = refused.errors, Counter()
    except Exception:
        BulkImport.objects.filter(pk=bulk.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now()
        )
        logger.exception("bulk_check_failed import_id=%s", bulk.pk)
        raise
    BulkImport.objects.filter(pk=bulk.pk, status=ImportStatus.CHECKING).update(
        status=ImportStatus.INVALID if errors else ImportStatus.VALID,
        processed_rows=bulk.total_rows,
        errors=[e.as_dict() for e in errors],
        planned={} if errors else dict(outcomes),
    )
    logger.info("bulk_checked import_id=%s lines=%s errors=%s", bulk.pk, len(table), len(errors))
    return ImportStatus.INVALID if errors else ImportStatus.VALID


def confirm_import(*, bulk: BulkImport, user) -> BulkImport:
    """The vendor confirms a clean file: its orders are created, now or by a task."""
    with transaction.atomic():
        bulk = BulkImport.objects.select_for_update(no_key=True).get(pk=bulk.pk)
        if bulk.status != ImportStatus.VALID:
            raise RuleViolation(
                "import_not_valid",
                _("Seul un fichier vérifié sans erreur peut être confirmé (état : %(state)s)."),
                field="status",
                state=bulk.get_status_display(),
            )
        bulk.status = ImportStatus.PROCESSING
        bulk.processed_rows = 0
        bulk.confirmed_at = timezone.now()
        bulk.created_by = user
        bulk.save(update_fields=["status", "processed_rows", "confirmed_at", "created_by"])
        if bulk.total_rows > _inline_rows():
            transaction.on_commit(lambda: tasks.process_import.delay(bulk.pk))
    if bulk.total_rows <= _inline_rows():
        process_import(import_id=bulk.pk)
        bulk.refresh_from_db()
    return bulk


def process_import(*, import_id: int) -> str:
    """Creates the orders line by line, each line in its own transaction. A line that the
    services now refuse (its data changed since the check) is reported, the others go on."""
    bulk = BulkImport.objects.select_related("vendor", "created_by").get(pk=import_id)
    if bulk.status != ImportStatus.PROCESSING:
        return bulk.status
    errors: list[LineError] = []
    created: list[dict] = []
    try:
        table = _table(bulk)
        now = timezone.now()
        reader = LineReader(bulk.vendor, now=now)
        for done, (number, row) in enumerate(table, start=1):
            line, line_errors = reader.read(number, row)
            if line is None:
                errors.extend(line_errors)
            else:
                try:
                    with transaction.atomic():
                        order = _apply_line(line, vendor=bulk.vendor, actor=bulk.created_by, at=now)
                    created.append({"line": number, "order_id": order.pk, "status": order.status})
                except (RuleViolation, DatabaseError) as exc:
                    errors.append(_refusal(line, exc))
            if done % PROGRESS_EVERY == 0:
                _progress(bulk.pk, done)
    except Exception:
        BulkImport.objects.filter(pk=bulk.pk).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            created_orders=created,
            errors=[e.as_dict() for e in errors],
        )
        logger.exception("bulk_process_failed import_id=%s", bulk.pk)
        raise
    BulkImport.objects.filter(pk=bulk.pk).update(
        status=ImportStatus.DONE,
        processed_rows=bulk.total_rows,
        finished_at=timezone.now(),
        created_orders=created,
        errors=[e.as_dict() for e in errors],
    )
    logger.info(
        "bulk_processed import_id=%s created=%s refused=%s", bulk.pk, len(created), len(errors)
    )
    return ImportStatus.DONE
