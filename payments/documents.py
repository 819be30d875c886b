"""The recovery notice (avis de recouvrement), rendered like the lifecycle's documents."""

from __future__ import annotations

from django.utils import timezone

from core.documents import pdf_created, write_pdf
from core.money import format_euros
from sons.documents import paris_time, parties_context

from .models import Recovery


def render_recovery_notice(recovery: Recovery) -> bytes:
    order = recovery.order
    return write_pdf(
        "pdf/recovery_notice.html",
        {
            **parties_context(order),
            "created": pdf_created(recovery.notified_at or recovery.opened_at),
            "notice": {
                "cause": recovery.get_cause_display(),
                "reason": recovery.reason,
                "opened_at": paris_time(recovery.opened_at),
                "notified_at": paris_time(recovery.notified_at or timezone.now()),
                "received": format_euros(recovery.received_cents),
                "offset": format_euros(recovery.offset_cents),
                "amount": format_euros(recovery.amount_cents),
            },
        },
    )
