"""Checks that a PDF carries the server's seal and was not altered since it was sealed."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue.deadlines import format_paris
from signing.pades import check_seal


class Command(BaseCommand):
    help = "Vérifie le cachet PAdES du serveur sur un PDF (VA ou BDC signé)."

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
        lines = [
            f"Signataire : {check.signer}",
            f"Scellé le : {format_paris(check.signed_at, seconds=True)} (heure de Paris)"
            if check.signed_at
            else "Scellé le : inconnu",
            f"Intact : {'oui' if check.intact else 'NON'}",
            f"Cachet de ce serveur : {'oui' if check.trusted else 'NON'}",
            f"Rien d'ajouté après le cachet : {'oui' if check.whole_file else 'NON'}",
        ]
        for line in lines:
            self.stdout.write(line)
        if not check.ok:
            raise CommandError(f"{pdf} : le cachet ne garantit pas ce document.")
        self.stdout.write(self.style.SUCCESS(f"{pdf} : document intact, scellé par ce serveur."))
