"""Checks a PDF's seal against the configured trust anchors, and that it was not altered since."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from signing.pades import check_seal
from signing.seal_report import report_lines


class Command(BaseCommand):
    help = (
        "Vérifie le cachet PAdES d'un PDF (VA ou BDC signé) : intégrité, chaîne de confiance "
        "jusqu'aux autorités configurées, horodatage, données de validation long terme."
    )

    def add_arguments(self, parser):
        parser.add_argument("pdf", type=Path, help="Le fichier PDF à vérifier.")

    def handle(self, *args, pdf: Path, **options):
        try:
            content = pdf.read_bytes()
        except OSError as exc:
            raise CommandError(f"Lecture impossible : {exc}") from exc
        check = check_seal(content)
        if not check.sealed:
            raise CommandError(f"{pdf} : aucun cachet électronique.")
        for label, value in report_lines(check):
            self.stdout.write(f"{label} : {value}")
        for problem in check.problems:
            self.stdout.write(f"Problème : {problem}")
        if not check.ok:
            raise CommandError(f"{pdf} : le cachet ne garantit pas ce document.")
        demo = " (cachet de démonstration)" if check.demo else ""
        self.stdout.write(
            self.style.SUCCESS(f"{pdf} : document intact, scellé par ce serveur{demo}.")
        )
