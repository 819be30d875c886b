from django.core.management.base import BaseCommand
from django.utils import timezone

from catalogue.deadlines import parse_paris
from payments.sweep import plan, sweep


class Command(BaseCommand):
    help = "Applique les échéances en vigueur : caducités, signalements, conflits, recouvrements."

    def add_arguments(self, parser):
        parser.add_argument("--at", type=parse_paris, help="Juger à cet instant (heure de Paris)")
        parser.add_argument("--dry-run", action="store_true", help="Dire ce qui bougerait")

    def handle(self, *args, at, dry_run, **options):
        at = at or timezone.now()
        if dry_run:
            moves = plan(at)
            for move in moves:
                self.stdout.write(f"[{move.step}] {move.label} : {move.reason}")
            self.stdout.write(
                f"{len(moves)} mouvement(s) à l'instant {timezone.localtime(at):%d/%m/%Y %H:%M} "
                "(simulation : rien n'a été écrit)."
            )
            return
        counts = sweep(at)
        self.stdout.write(
            self.style.SUCCESS(" ; ".join(f"{step} : {count}" for step, count in counts.items()))
        )
