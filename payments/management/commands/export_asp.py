import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue.models import Dispositif, Vendor
from core.errors import RuleViolation
from payments.models import AspFiling, ClaimKind
from payments.services.filings import build_filings

ACTOR = "commande:export_asp"


class Command(BaseCommand):
    help = "Construit les dépôts ASP (JSON + zip) de toutes les demandes prêtes."

    def add_arguments(self, parser):
        parser.add_argument("--vendor", required=True, help="SIRET du fournisseur")
        parser.add_argument("--dispositif", required=True, help="Code, ex. MDV-LGC-V2")
        parser.add_argument(
            "--kind",
            required=True,
            choices=[ClaimKind.AVANCE, ClaimKind.SOLDE, ClaimKind.SECONDAIRE],
        )
        parser.add_argument(
            "--out", type=Path, help="Dossier local où copier les fichiers (lus dans le stockage)"
        )
        parser.add_argument("--max-lines", type=int)
        parser.add_argument("--wait", type=int, default=120, help="Secondes d'attente du worker")

    def handle(self, *args, vendor, dispositif, kind, out, max_lines, wait, **options):
        vendor_row = Vendor.objects.filter(siret=vendor.replace(" ", "")).first()
        dispositif_row = Dispositif.objects.filter(code=dispositif).first()
        if vendor_row is None or dispositif_row is None:
            raise CommandError("Fournisseur ou dispositif inconnu.")
        try:
            filings = build_filings(
                vendor=vendor_row,
                dispositif=dispositif_row,
                kind=kind,
                actor=ACTOR,
                max_lines=max_lines,
            )
        except RuleViolation as exc:
            raise CommandError(f"[{exc.code}] {exc.message}") from None
        for left in filings.left_out:
            self.stderr.write(f"Hors délai, écartée : {left.order_reference} – {left.reason}")
        for filing in filings:
            filing = self._rendered(filing, wait)
            for field, digest in (
                ("json_file", filing.json_sha256),
                ("zip_file", filing.zip_sha256),
            ):
                stored = getattr(filing, field)
                # The name in the storage (local folder or object storage), copied through it.
                where = stored.name
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    where = out / Path(stored.name).name
                    with stored.open("rb") as source, open(where, "wb") as target:
                        shutil.copyfileobj(source, target)
                self.stdout.write(f"{where}  sha256={digest}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"{filing.name} : {filing.line_count} lignes, "
                    f"{filing.total_ttc_cents} c TTC demandés."
                )
            )

    def _rendered(self, filing: AspFiling, wait: int) -> AspFiling:
        # The files are written after commit by a Celery task (in-process in the embedded mode).
        deadline = time.monotonic() + wait
        filing.refresh_from_db()
        while not filing.zip_sha256:
            if time.monotonic() > deadline:
                raise CommandError(f"{filing.name} : fichiers toujours en cours de génération.")
            time.sleep(0.5)
            filing.refresh_from_db()
        return filing
