"""Payments test data: orders on a dispositif whose calendar is open now, accepted by a VA."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from pypdf import PdfWriter

from catalogue.models import Tariff
from catalogue.rules import TariffKind
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.factories import CalendarVersionFactory, DeadlineFactory, DispositifFactory
from tests.sons.factories import referenced, signed_order

DAY = dt.timedelta(days=1)


def open_dispositif(*, flat_cents=150000, **overrides):
    """A dispositif whose orders, avances, réalisation and soldes all close in the future."""
    now = timezone.now()
    overrides.setdefault("advance_rate", Decimal("0.30"))
    dispositif = DispositifFactory(**overrides)
    version = CalendarVersionFactory(dispositif=dispositif, founding=True)
    for kind, days in {
        "orders": 20,
        "advances": 30,
        "firm_date": 40,
        "realisation": 50,
        "soldes": 60,
    }.items():
        DeadlineFactory(version=version, kind=kind, at=now + days * DAY)
    Tariff.objects.create(
        dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=flat_cents, vat_rate=Decimal("0.20")
    )
    return dispositif


def signed_now(user, dispositif=None, **kwargs):
    dispositif = dispositif or open_dispositif()
    now = timezone.now()
    ref = referenced(dispositif=dispositif, actor=user, at=now - 10 * DAY)
    return signed_order(referencing=ref, actor=user, at=now - 5 * DAY, **kwargs)


def accept_by_va(order, user, capture):
    with capture(execute=True):
        va = acceptance.create_va(order=order, delivered_summary="Mise à jour livrée", actor=user)
        va = acceptance.issue_va(va=va, actor=user)
    va.refresh_from_db()
    with capture(execute=True):
        return acceptance.sign_va(
            va=va,
            signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
        )


def invoice_pdf() -> bytes:
    import io

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def deposit_completions(order, user, capture, at):
    """The vendor builds the « achèvement » filing of its notices under the order's dispositif
    and records its deposit at the ASP at `at` (SONS.md step 4: what tells the ASP)."""
    from payments.services import filings

    with capture(execute=True):
        (filing,) = filings.build_filings(
            vendor=order.vendor, dispositif=order.dispositif, kind="achevement", actor=user, at=at
        )
    filing.refresh_from_db()
    return filings.transmit_filing(filing=filing, actor=user, at=at)


def deposit_completions_now(order, user, at):
    """`deposit_completions` where no after-commit callback runs: the filing's files are
    written by the task itself, called in place."""
    from payments import tasks
    from payments.services import filings

    (filing,) = filings.build_filings(
        vendor=order.vendor, dispositif=order.dispositif, kind="achevement", actor=user, at=at
    )
    tasks.render_filing(filing.pk)
    filing.refresh_from_db()
    return filings.transmit_filing(filing=filing, actor=user, at=at)
