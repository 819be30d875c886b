from django.core.management.base import BaseCommand
from django.utils import timezone

from catalogue.deadlines import format_paris, parse_paris
from reminders.models import ReminderKind
from reminders.services import due_reminders, not_yet_sent, send_due_reminders


class Command(BaseCommand):
    help = (
        "Envoie les rappels dus : échéances (fournisseurs), VA en attente (clients), BDC en risque."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", type=parse_paris, help="Juger à cet instant (heure de Paris)")
        parser.add_argument("--dry-run", action="store_true", help="Dire ce qui partirait")

    def handle(self, *args, at, dry_run, **options):
        at = at or timezone.now()
        if dry_run:
            due = not_yet_sent(due_reminders(at))
            for item in due:
                self.stdout.write(
                    f"[{ReminderKind(item.kind).label}] {item.key} : {item.reason} "
                    f"({len(item.order_ids)} BDC)"
                )
            self.stdout.write(
                f"{len(due)} rappel(s) à envoyer à l'instant {format_paris(at)} "
                "(simulation : rien n'a été écrit ni envoyé)."
            )
            return
        counts = send_due_reminders(at=at)
        self.stdout.write(
            self.style.SUCCESS(
                " ; ".join(f"{ReminderKind(k).label} : {v}" for k, v in counts.items())
            )
        )
