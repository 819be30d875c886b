"""Issues an API token to a vendor member or an administrator; the secret is printed once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api import tokens
from core.errors import RuleViolation


class Command(BaseCommand):
    help = "Délivre un jeton d'API à un utilisateur (affiché une seule fois)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="Identifiant de l'utilisateur (membre ou admin).")
        parser.add_argument("--name", required=True, help="Nom du jeton (l'outil qui l'utilise).")
        parser.add_argument(
            "--days", type=int, default=None, help="Durée de validité en jours (90 par défaut)."
        )

    def handle(self, *args, username: str, name: str, days: int | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Utilisateur inconnu : {username}")
        try:
            issued = tokens.issue_token(user=user, name=name, days=days)
        except RuleViolation as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"Jeton « {issued.token.name} » pour {username}, valable jusqu'au "
            f"{issued.token.expires_at:%d/%m/%Y} : conservez-le, il ne sera plus affiché."
        )
        self.stdout.write(issued.secret)
