"""The demo world's paid avances (`manage.py seed_demo`, never for production): each through
the commands a vendor and the ASP use (prepare, file, transmit, the agency's feedback)."""

from __future__ import annotations

import datetime as dt
import json

from sons.models import PurchaseOrder

from .models import ClaimKind
from .services import claims, filings

SYSTEM = "système:seed_demo"


def pay_avances(orders: list[PurchaseOrder], filed_at: dt.datetime, paid_at: dt.datetime) -> None:
    """An avance for each order, filed with the ASP at `filed_at` and paid at `paid_at`."""
    if not orders:
        return
    prepared = [
        claims.prepare_claim(order=order, kind=ClaimKind.AVANCE, actor=SYSTEM, at=filed_at)
        for order in orders
    ]
    built = []
    for order in {(o.vendor_id, o.dispositif_id): o for o in orders}.values():
        built += filings.build_filings(
            vendor=order.vendor,
            dispositif=order.dispositif,
            kind=ClaimKind.AVANCE,
            actor=SYSTEM,
            at=filed_at,
        )
    for filing in built:
        filing.refresh_from_db()
        filings.transmit_filing(filing=filing, actor=SYSTEM, at=filed_at)
    items = []
    for claim in prepared:
        claim.refresh_from_db()
        items.append(
            {
                "filing": claim.filing.name,
                "line_number": claim.line_number,
                "decision": "decidee_et_payee",
                "paid_on": paid_at.date().isoformat(),
                "paid_amount_cents": claim.amount_ttc_cents,
            }
        )
    feedback = {"schema_version": "1.0", "issued_at": paid_at.isoformat(), "items": items}
    filings.import_feedback(
        content=json.dumps(feedback).encode(),
        file_name=f"retour-demo-{paid_at:%Y%m%d}.json",
        actor=SYSTEM,
        at=paid_at,
    )


def ready_avances(orders: list[PurchaseOrder], at: dt.datetime) -> None:
    """An avance for each order, prepared and ready at `at`, waiting for its filing."""
    for order in orders:
        claims.prepare_claim(order=order, kind=ClaimKind.AVANCE, actor=SYSTEM, at=at)


def deposit_completions(orders: list[PurchaseOrder], at: dt.datetime) -> None:
    """The notices of completion of these orders, in « achèvement » filings built and
    deposited at the ASP at `at`, then accepted by the agency's feedback the next day."""
    items = []
    for order in {(o.vendor_id, o.dispositif_id): o for o in orders}.values():
        for filing in filings.build_filings(
            vendor=order.vendor,
            dispositif=order.dispositif,
            kind="achevement",
            actor=SYSTEM,
            at=at,
        ):
            filing.refresh_from_db()
            filings.transmit_filing(filing=filing, actor=SYSTEM, at=at)
            items += [
                {"filing": filing.name, "line_number": line.line_number, "decision": "validee"}
                for line in filing.completion_lines.order_by("line_number")
            ]
    if not items:
        return
    answered = at + dt.timedelta(days=1)
    feedback = {"schema_version": "1.0", "issued_at": answered.isoformat(), "items": items}
    filings.import_feedback(
        content=json.dumps(feedback).encode(),
        file_name=f"retour-achevement-demo-{answered:%Y%m%d%H%M}.json",
        actor=SYSTEM,
        at=answered,
    )
