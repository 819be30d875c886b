"""Filings of notices of completion (kind « achevement »): the notices a vendor gave on its
orders under one dispositif, not yet in a filing, gathered into numbered files for the ASP.

Built by `payments.services.filings.build_filings(kind="achevement")`, rendered by the same task
and writer (`payments.asp.writer`, schema `achevement-v1.0`), transmitted by the same
`transmit_filing`. A notice counts from the instant the vendor gave it (`notified_at`, judged by
`sons.acts.NOTIFY_COMPLETION` against the end of réalisation in force); the filing carries it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalogue.models import Dispositif, Vendor
from core.errors import RuleViolation
from core.journal import Actor, Change, record_transition, record_transitions
from core.services import after_commit, now_or
from core.transitions import lock_in_order
from sons.models import CompletionNotice

from .. import tasks
from ..models import COMPLETION_FILING_KIND, AspFiling, FiledCompletion
from .numbering import numbered_filings

DEFAULT_MAX_LINES = 5000


def unfiled_notices(*, vendor: Vendor, dispositif: Dispositif):
    """The vendor's notices of completion under the dispositif that no filing carries yet."""
    return CompletionNotice.objects.filter(
        order__vendor=vendor, order__dispositif=dispositif, filed_line__isnull=True
    )


def build_completion_filings(
    *,
    vendor: Vendor,
    dispositif: Dispositif,
    actor: Actor,
    at: dt.datetime | None = None,
    max_lines: int | None = None,
) -> list[AspFiling]:
    """Every notice of the vendor under the dispositif not yet filed, in filings of at most
    `max_lines` lines (ordered by notice); the files are written after commit."""
    at = now_or(at)
    max_lines = max_lines or getattr(settings, "ASP_MAX_LINES", DEFAULT_MAX_LINES)
    kind = COMPLETION_FILING_KIND
    filings: list[AspFiling] = []
    with transaction.atomic():
        # The lock order (core.transitions): the orders first (a notice is given under its
        # order's lock, so none is added meanwhile), then the filings, then the journal's head.
        unfiled = unfiled_notices(vendor=vendor, dispositif=dispositif)
        lock_in_order({"sons.PurchaseOrder": unfiled.values("order_id")})
        notices = list(unfiled.order_by("pk").values_list("pk", flat=True))
        if not notices:
            raise RuleViolation(
                "nothing_to_file",
                _("Aucune notification d'achèvement à déposer pour %(vendor)s sur %(code)s."),
                field="kind",
                vendor=vendor.name,
                code=dispositif.code,
            )
        for filing, chunk in numbered_filings(
            vendor=vendor, dispositif=dispositif, kind=kind, ids=notices, max_lines=max_lines, at=at
        ):
            lines = FiledCompletion.objects.bulk_create(
                [
                    FiledCompletion(filing=filing, notice_id=pk, line_number=n)
                    for n, pk in enumerate(chunk, start=1)
                ]
            )
            record_transition(
                obj=filing,
                transition="generate",
                source="",
                target=filing.status,
                actor=actor,
                snapshot={"name": filing.name, "lines": len(chunk), "at": at.isoformat()},
            )
            carried = CompletionNotice.objects.select_related("order").in_bulk(chunk)
            record_transitions(
                [
                    Change(
                        obj=carried[line.notice_id],
                        transition="file_completion",
                        source="completion_notified",
                        target="completion_filed",
                        snapshot={"filing": filing.name, "line": line.line_number},
                    )
                    for line in lines
                ],
                actor=actor,
            )
            after_commit(tasks.render_filing, filing.pk)
            filings.append(filing)
    return filings
