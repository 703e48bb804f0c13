"""`manage.py purge_access_log [--months N]`: remove access-log entries past the retention period (L11)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from amiable.audit.services import access_log_purge


class Command(BaseCommand):
    help = "Supprime les entrées du journal des accès plus anciennes que la durée de conservation."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=None, help="Durée de conservation en mois.")

    def handle(self, *args, months, **options):
        months = months or settings.AMIABLE_ACCESS_LOG_MONTHS
        deleted = access_log_purge(months=months)
        self.stdout.write(f"{deleted} entrée(s) de plus de {months} mois supprimée(s) du journal des accès.")
