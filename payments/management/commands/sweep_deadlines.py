import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from catalogue.deadlines import parse_paris
from core.clock import format_paris
from payments.selectors import due_for_recovery
from payments.sweep import plan, sweep
from sons.selectors import realisation_judged


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
            self._realisation(at)
            return
        counts = sweep(at)
        self.stdout.write(
            self.style.SUCCESS(" ; ".join(f"{step} : {count}" for step, count in counts.items()))
        )

    def _realisation(self, at: dt.datetime) -> None:
        """SONS.md « End of réalisation, exactly » (COSUI of 5 April 2023): per end of
        réalisation passed or near, the orders that told the ASP in time (completion notified
        or solde filed) are safe; the others go to recovery of their paid avance once it has
        passed (`payments.selectors.due_for_recovery`, the sweep's own rule)."""
        within = dt.timedelta(days=settings.ORDERS_AT_RISK_DAYS)
        for judged in realisation_judged(at=at, within=within):
            state = "passée" if judged.passed else "à venir"
            self.stdout.write(
                f"Fin de réalisation {judged.dispositif.code} ({judged.deadline.shown}, {state}) :"
            )
            for order in judged.told.select_related("client", "completion_notice").order_by("pk"):
                notice = getattr(order, "completion_notice", None)
                told = (
                    f"achèvement notifié le {format_paris(notice.notified_at)}"
                    if notice is not None
                    else "demande de solde déposée à temps"
                )
                self.stdout.write(f"  [à l'abri] {order} : {told}")
            # Judged at the deadline when it is still ahead: what the sweep will do then.
            recover_at = at if judged.passed else judged.deadline.at
            recovered = set(
                due_for_recovery(judged.due, at=recover_at).values_list("pk", flat=True)
            )
            for order in judged.due.select_related("client").order_by("pk"):
                if order.pk in recovered:
                    what = (
                        "recouvrement de l'avance payée"
                        if judged.passed
                        else "recouvrement de l'avance payée à l'échéance, faute de notification"
                    )
                else:
                    what = "aucune avance payée : rien à recouvrer"
                self.stdout.write(f"  [ni notifié ni soldé] {order} : {what}")
