"""`manage.py purge_form_tokens [--hours N]`: forget the one-time tokens of forms sent long ago."""

from django.core.management.base import BaseCommand

from amiable.core.once import once_purge


class Command(BaseCommand):
    help = "Supprime les jetons d'envoi de formulaires de plus de 24 heures (protection contre le double envoi)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24, help="Âge en heures au-delà duquel un jeton est oublié.")

    def handle(self, *args, hours, **options):
        deleted = once_purge(hours=hours)
        self.stdout.write(f"{deleted} jeton(s) d'envoi de formulaire de plus de {hours} heures supprimé(s).")
