from django.core.management.base import BaseCommand, CommandError

from core.journal import verify_chain
from core.models import RoutineRun


class Command(BaseCommand):
    help = "Vérifie le chaînage SHA-256 du journal ; échoue au premier maillon rompu."

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        RoutineRun.record_verification(checked, broken)
        if broken is not None:
            raise CommandError(
                f"Journal rompu à l'entrée n° {broken.sequence} : {broken.reason} "
                f"({checked} entrées intègres avant elle)."
            )
        self.stdout.write(self.style.SUCCESS(f"Journal intègre : {checked} entrées vérifiées."))
