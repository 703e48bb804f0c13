"""`manage.py check_promises`: flag the promises to pay whose date has passed (idempotent)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from amiable.contact.services import promises_check


class Command(BaseCommand):
    help = "Signale les promesses de paiement non tenues et ouvre un rappel pour le gestionnaire."

    def handle(self, *args, **options):
        count = promises_check(today=timezone.localdate())
        self.stdout.write(f"{count} promesse(s) de paiement non tenue(s) signalée(s).")
