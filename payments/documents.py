"""The recovery notice (avis de recouvrement), rendered like the lifecycle's documents."""

from __future__ import annotations

from django.utils import timezone

from core.money import format_euros
from sons.documents import _parties_context, _w3c, _write_pdf, paris_time

from .models import Recovery


def render_recovery_notice(recovery: Recovery) -> bytes:
    order = recovery.order
    return _write_pdf(
        "pdf/recovery_notice.html",
        {
            **_parties_context(order),
            "created": _w3c(recovery.notified_at or recovery.opened_at),
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
