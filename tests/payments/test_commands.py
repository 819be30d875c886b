"""The whole path of a demo order's money, through the commands alone: avance then solde."""

from pathlib import Path

import pytest
from django.core.management import call_command

from core.journal import verify_chain
from core.models import JournalEntry
from payments.models import AspFiling, ClaimStatus, PaymentClaim
from sons.models import OrderStatus, PurchaseOrder

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


# The demo world and the filings render documents after commit: real commits are needed.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_avance_then_solde_from_draft_to_paid_and_the_order_completed(tmp_path, capsys):
    call_command("load_dispositifs")
    call_command("seed_demo", force=True)
    order = PurchaseOrder.objects.get(dispositif__code="MDV-LGC-V2", status=OrderStatus.SIGNED)
    siret = order.vendor.siret
    # docs/examples name this order and this vendor: the README walks the same path.
    assert (order.reference, siret) == ("BDC-00000017", "90000001900019")

    call_command("prepare_claim", "--order", order.reference, "--kind", "avance")
    call_command(
        "export_asp",
        "--vendor",
        siret,
        "--dispositif",
        "MDV-LGC-V2",
        "--kind",
        "avance",
        "--out",
        str(tmp_path),
    )
    avance_name = f"SONS_avance_MDV-LGC-V2_{siret}_0001"
    assert (tmp_path / f"{avance_name}.json").is_file()
    assert (tmp_path / f"{avance_name}.zip").is_file()
    call_command("transmit_filing", avance_name)
    call_command("import_asp_feedback", str(EXAMPLES / "retour-avance.json"))

    call_command(
        "prepare_claim",
        "--order",
        order.reference,
        "--kind",
        "solde",
        "--invoice-number",
        "F-DEMO-0001",
        "--invoice-date",
        "2026-11-20",
        "--invoice-pdf",
        str(EXAMPLES / "facture-demo.pdf"),
    )
    call_command(
        "export_asp",
        "--vendor",
        siret,
        "--dispositif",
        "MDV-LGC-V2",
        "--kind",
        "solde",
        "--out",
        str(tmp_path),
    )
    call_command("transmit_filing", f"SONS_solde_MDV-LGC-V2_{siret}_0001")
    call_command("import_asp_feedback", str(EXAMPLES / "retour-solde.json"))

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    claims = {c.kind: c for c in PaymentClaim.objects.filter(order=order)}
    assert {k: c.status for k, c in claims.items()} == {
        "avance": ClaimStatus.PAID,
        "solde": ClaimStatus.PAID,
    }
    assert claims["avance"].paid_amount_cents + claims["solde"].paid_amount_cents == (
        order.amount_ttc_cents
    )
    assert set(AspFiling.objects.values_list("status", flat=True)) == {"acknowledged"}
    steps = [
        (e.transition, e.target_state)
        for e in JournalEntry.objects.for_object(claims["solde"]).order_by("sequence")
    ]
    assert steps == [
        ("create", "draft"),
        ("attach_invoice", "draft"),
        ("make_ready", "ready"),
        ("submit", "submitted"),
        ("pay", "paid"),
    ]
    assert JournalEntry.objects.for_object(order).last().transition == "complete"
    assert verify_chain()[1] is None
