"""`manage.py send_digest`: the daily e-mail digest of notifications not yet e-mailed (idempotent)."""

from django.core.management.base import BaseCommand

from amiable.notifications.services import send_digest


class Command(BaseCommand):
    help = "Envoie le récapitulatif quotidien des notifications non encore envoyées."

    def handle(self, *args, **options):
        count = send_digest()
        self.stdout.write(f"{count} récapitulatif(s) envoyé(s).")
