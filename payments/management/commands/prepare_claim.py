import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import RuleViolation
from payments.models import ClaimKind, ClaimStatus, PaymentClaim
from payments.services import claims
from sons.selectors import order_by_reference

ACTOR = "commande:prepare_claim"


class Command(BaseCommand):
    help = "Ouvre (ou reprend) une demande de paiement sur un BDC et la marque prête si tout va."

    def add_arguments(self, parser):
        parser.add_argument("--order", required=True, help="Référence du BDC, ex. BDC-00000012")
        parser.add_argument(
            "--kind",
            required=True,
            choices=[ClaimKind.AVANCE, ClaimKind.SOLDE, ClaimKind.SECONDAIRE],
        )
        parser.add_argument("--invoice-number")
        parser.add_argument("--invoice-date", type=dt.date.fromisoformat)
        parser.add_argument("--invoice-amount-cents", type=int, help="TTC ; défaut : celui du BDC")
        parser.add_argument("--invoice-pdf", type=Path)

    def handle(self, *args, order: str, kind: str, **options):
        purchase_order = order_by_reference(order)
        if purchase_order is None:
            raise CommandError(f"BDC inconnu : {order}")
        try:
            claim = PaymentClaim.objects.filter(
                order=purchase_order, kind=kind, status=ClaimStatus.DRAFT
            ).first() or claims.open_claim(order=purchase_order, kind=kind, actor=ACTOR)
            if options["invoice_number"]:
                pdf_path = options["invoice_pdf"]
                if pdf_path is None or options["invoice_date"] is None:
                    raise CommandError("Une facture demande --invoice-date et --invoice-pdf.")
                claim = claims.attach_invoice(
                    claim=claim,
                    number=options["invoice_number"],
                    date=options["invoice_date"],
                    amount_ttc_cents=options["invoice_amount_cents"]
                    or purchase_order.amount_ttc_cents,
                    pdf=pdf_path.read_bytes(),
                    actor=ACTOR,
                )
            claim = claims.make_ready(claim=claim, actor=ACTOR)
        except RuleViolation as exc:
            raise CommandError(f"[{exc.code}] {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{claim} : prête ({claim.amount_ttc_cents} c TTC, {claim.amount_ht_cents} c HT)."
            )
        )
