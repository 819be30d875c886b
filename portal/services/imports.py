"""Bulk order files: uploaded, checked, confirmed, then turned into orders (or, for a file of
notices of completion recognised by its « bdc » column, into notices: the same steps, the
completions command sons.services.completion.notify_completions).

A file is a door onto the orders command (sons.services.orders.save_orders), the one the API's
bulk calls too. Each line is read into one item (portal.bulk); the check runs the command on the
whole file in a transaction that is always rolled back, so the preview reports exactly the rules
it applies, each refusal with its line, column and rule code; the confirmation runs it for real,
all or nothing. Small files are checked and created in the request; larger ones by Celery tasks
whose progress the page follows.
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
from core.commands import ItemsRefused
from core.errors import RuleViolation
from portal import tasks
from portal.bulk import (
    COMPLETION_KIND,
    FileRefused,
    LineError,
    LineReader,
    column_of,
    completion_column,
    completion_item,
    file_kind,
    read_table,
)
from portal.models import BulkImport, ImportStatus
from sons.services.completion import notify_completions
from sons.services.orders import save_orders

# What a line of a file of notices of completion plans (beside the orders' states).
COMPLETION_NOTIFIED = "completion_notified"

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


def _read(bulk: BulkImport, now: dt.datetime) -> tuple[list[dict], list[int], list[LineError]]:
    """The file's lines as items of its command (orders, or notices of completion), with their
    line numbers, and what is wrong with their form."""
    reader = LineReader(bulk.vendor, now=now)
    items, lines, errors = [], [], []
    table = _table(bulk)
    read = completion_item if file_kind(table) == COMPLETION_KIND else reader.read
    for done, (number, row) in enumerate(table, start=1):
        item, line_errors = read(number, row)
        errors.extend(line_errors)
        items.append(item)
        lines.append(number)
        if done % PROGRESS_EVERY == 0:
            _progress(bulk.pk, done)
    return items, lines, errors


def _also(refusals: list[LineError], errors: list[LineError]) -> list[LineError]:
    """The command's refusals that add to the errors of form: not what follows from a cell left
    out because it could not be read (a required field, a column already at fault)."""
    said = {(e.line, e.column) for e in errors}
    faulty = {e.line for e in errors}
    return [
        r
        for r in refusals
        if (r.line, r.column) not in said and not (r.line in faulty and r.code == "required")
    ]


def _save(
    bulk: BulkImport, items: list[dict], lines: list[int], now: dt.datetime, *, dry_run: bool
) -> tuple[list[dict], list[LineError]]:
    """The orders command on the file's items (the same as the API's), its refusals line by
    line: (results, errors)."""
    if not items:
        return [], []
    completions = "order" in items[0] or "statement" in items[0]
    command = notify_completions if completions else save_orders
    try:
        results = command(
            vendor=bulk.vendor, items=items, actor=bulk.created_by, at=now, dry_run=dry_run
        )
    except ItemsRefused as refused:
        return [], [
            LineError(
                lines[e.index],
                completion_column(e.field)
                if completions
                else column_of(e.field, e.code, items[e.index]),
                e.code,
                e.message,
            )
            for e in refused.errors
        ]
    except DatabaseError:
        return [], [
            LineError(
                lines[0],
                "",
                "write_conflict",
                _("Une autre écriture a eu lieu au même moment sur ces données : recommencez."),
            )
        ]
    if completions:  # the order notified, as the report lists it
        results = [{**r, "id": r["order"], "status": COMPLETION_NOTIFIED} for r in results]
    return [{**r, "line": lines[r["index"]]} for r in results], []


def _progress(bulk_id: int, done: int) -> None:
    BulkImport.objects.filter(pk=bulk_id).update(processed_rows=done)


def check_import(*, import_id: int) -> str:
    """Every line read, then the orders command run on the whole file and rolled back: the file
    becomes « valid » only when the command would take every line."""
    bulk = BulkImport.objects.select_related("vendor", "created_by").get(pk=import_id)
    if bulk.status != ImportStatus.CHECKING:
        return bulk.status
    errors: list[LineError] = []
    outcomes: Counter = Counter()
    items: list = []
    try:
        now = timezone.now()
        items, lines, errors = _read(bulk, now)
        results, refusals = _save(bulk, items, lines, now, dry_run=True)
        errors = sorted(errors + _also(refusals, errors), key=lambda e: e.line)
        for result in results:
            outcomes[result["status"]] += 1
            outcomes["new_clients"] += int(result.get("new_client", False))
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
    logger.info("bulk_checked import_id=%s lines=%s errors=%s", bulk.pk, len(items), len(errors))
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
    """Creates the file's orders through the orders command, all or nothing. When the command
    now refuses a line (its data changed since the check), nothing is created and the file is
    « to correct » again, each refusal with its line."""
    bulk = BulkImport.objects.select_related("vendor", "created_by").get(pk=import_id)
    if bulk.status != ImportStatus.PROCESSING:
        return bulk.status
    try:
        now = timezone.now()
        items, lines, errors = _read(bulk, now)
        results, refusals = [], []
        if not errors:
            results, refusals = _save(bulk, items, lines, now, dry_run=False)
        errors = sorted(errors + refusals, key=lambda e: e.line)
    except Exception:
        BulkImport.objects.filter(pk=bulk.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now()
        )
        logger.exception("bulk_process_failed import_id=%s", bulk.pk)
        raise
    status = ImportStatus.INVALID if errors else ImportStatus.DONE
    BulkImport.objects.filter(pk=bulk.pk).update(
        status=status,
        processed_rows=bulk.total_rows,
        finished_at=timezone.now(),
        created_orders=[
            {"line": r["line"], "order_id": r["id"], "status": r["status"]} for r in results
        ],
        errors=[e.as_dict() for e in errors],
    )
    logger.info(
        "bulk_processed import_id=%s created=%s refused=%s", bulk.pk, len(results), len(errors)
    )
    return status
