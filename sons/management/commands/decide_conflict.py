"""The administration's decision on a conflict where more than one vendor kept its order."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import RuleViolation
from sons.models import ClientConflict
from sons.selectors import order_by_reference
from sons.services.conflicts import decide_conflict


class Command(BaseCommand):
    help = (
        "Désigne, pour l'ASP, le BDC financé dans un conflit en attente de décision ; les autres "
        "commandes maintenues sont écartées (annulées) et chaque fournisseur concerné est prévenu."
    )

    def add_arguments(self, parser):
        parser.add_argument("conflict", type=int, help="Numéro du conflit")
        parser.add_argument("--order", required=True, help="BDC retenu, ex. BDC-00000012")
        parser.add_argument("--reason", required=True, help="Motif de la décision")
        parser.add_argument(
            "--by", required=True, help="Identifiant de l'administrateur qui décide"
        )

    def handle(self, *args, conflict: int, order: str, reason: str, by: str, **options):
        found = ClientConflict.objects.filter(pk=conflict).first()
        if found is None:
            raise CommandError(f"Conflit inconnu : {conflict}")
        chosen = order_by_reference(order)
        if chosen is None:
            raise CommandError(f"BDC inconnu : {order}")
        user = get_user_model().objects.filter(username=by, is_staff=True, is_active=True).first()
        if user is None:
            raise CommandError(f"Aucun administrateur actif ne s'appelle {by}.")
        try:
            decided = decide_conflict(
                conflict=found, chosen_order=chosen, reason=reason, actor=user
            )
        except RuleViolation as exc:
            raise CommandError(f"[{exc.code}] {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(f"{decided} : {chosen.reference} financé ; décision enregistrée.")
        )
