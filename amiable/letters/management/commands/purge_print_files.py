"""`manage.py purge_print_files [--days N]`: remove the daily print files (PDF and manifest) older than the
retention period: they name every debtor written to on their day, for every creditor."""

from django.conf import settings
from django.core.management.base import BaseCommand

from amiable.letters.print_batch import print_files_purge


class Command(BaseCommand):
    help = "Supprime les fichiers d'impression (PDF et bordereaux) plus anciens que la durée de conservation."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Durée de conservation en jours.")

    def handle(self, *args, days, **options):
        days = settings.AMIABLE_PRINT_KEEP_DAYS if days is None else days
        deleted = print_files_purge(days=days)
        self.stdout.write(f"{len(deleted)} fichier(s) d'impression de plus de {days} jours supprimé(s).")
