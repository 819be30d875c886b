from pathlib import Path

from django.core.management.base import BaseCommand

from catalogue.catalogue import DATA_FILE, load_catalogue


class Command(BaseCommand):
    help = "Charge (de façon idempotente) les dispositifs SONS réels, leurs calendriers et barèmes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", type=Path, default=DATA_FILE, help="Fichier JSON du catalogue."
        )

    def handle(self, *args, file: Path, **options):
        counts = load_catalogue(file)
        self.stdout.write(
            self.style.SUCCESS(
                "Catalogue chargé : {dispositifs} dispositifs, {versions} versions de calendrier, "
                "{deadlines} échéances, {tariffs} barèmes.".format(**counts)
            )
        )
