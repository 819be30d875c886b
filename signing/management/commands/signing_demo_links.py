"""Prints (and mails) a fresh signing link for the demo world's VA waiting for signature."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from signing.demo import demo_links


class Command(BaseCommand):
    help = "Envoie et affiche un lien de signature pour la VA de démonstration en attente."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Même avec DEBUG désactivé.")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Liens de démonstration refusés hors mode DEBUG (utilisez --force).")
        urls = demo_links()
        if not urls:
            raise CommandError("Aucune VA de démonstration à signer : lancez d'abord seed_demo.")
        for url in urls:
            self.stdout.write(self.style.SUCCESS(f"VA de démonstration à signer : {url}"))
