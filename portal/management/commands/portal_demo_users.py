"""Creates the demo vendor's portal users (as seed_demo does) and prints how to sign in."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import create_demo_vendor_users, current_code


class Command(BaseCommand):
    help = (
        "Comptes de démonstration du portail des fournisseurs (administrateur avec TOTP, "
        "collaborateur) ; --code affiche le code TOTP du moment de l'administrateur."
    )

    def add_arguments(self, parser):
        parser.add_argument("--code", action="store_true", help="Affiche le code TOTP actuel.")
        parser.add_argument("--force", action="store_true", help="Même avec DEBUG désactivé.")

    def handle(self, *args, code: bool, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Comptes de démonstration refusés hors mode DEBUG (--force).")
        created = create_demo_vendor_users(stdout=None if code else self.stdout)
        if not created:
            raise CommandError("Chargez d'abord le monde de démonstration : manage.py seed_demo.")
        if code:
            self.stdout.write(current_code(created["device"]))
