from django.core.management.base import BaseCommand, CommandError

from core.errors import RuleViolation
from payments.models import AspFiling
from payments.services.filings import require_transmitted, transmit_filing


class Command(BaseCommand):
    help = "Marque un dépôt comme transmis à l'ASP."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Nom du dépôt, ex. SONS_avance_MDV-LGC-V2_..._0001")

    def handle(self, *args, name: str, **options):
        filing = AspFiling.objects.filter(name=name.removesuffix(".json")).first()
        if filing is None:
            raise CommandError(f"Dépôt inconnu : {name}")
        try:
            filing = require_transmitted(
                transmit_filing(filing=filing, actor="commande:transmit_filing")
            )
        except RuleViolation as exc:
            raise CommandError(f"[{exc.code}] {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"{filing.name} : transmis."))
