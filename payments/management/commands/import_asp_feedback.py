from pathlib import Path

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.services.filings import FeedbackRefused, import_feedback


class Command(BaseCommand):
    help = "Importe un fichier de retour de l'ASP (tout ou rien ; deux fois ne change rien)."
    # The models' checks only: the URL checks import every view (WeasyPrint, openpyxl, pypdf:
    # about 57 MB and a second of start-up in this process) and judge nothing an import uses.
    requires_system_checks = [Tags.models]

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"Fichier introuvable : {file}")
        try:
            done = import_feedback(
                content=file.read_bytes(), file_name=file.name, actor="commande:import_asp_feedback"
            )
        except FeedbackRefused as exc:
            for problem in exc.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError("Fichier refusé : aucune demande n'a été modifiée.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{done.file_name} : {done.item_count} décisions, {done.moved_count} demandes "
                f"modifiées (importé le {timezone.localtime(done.imported_at):%d/%m/%Y %H:%M})."
            )
        )
