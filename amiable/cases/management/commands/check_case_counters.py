"""`manage.py check_case_counters [--repair]`: compare the maintained case counters with a fresh count of the
cases, and count them again when one drifted. Run by `run_daily` with `--repair`."""

from django.core.management.base import BaseCommand, CommandError

from amiable.cases.selectors import case_counters_drift
from amiable.cases.services import case_counters_rebuild


class Command(BaseCommand):
    help = (
        "Vérifie les compteurs de dossiers (pages d'accueil, totaux) contre un comptage des dossiers ; "
        "avec --repair, les recompte s'ils diffèrent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Recompter les compteurs s'ils diffèrent.")

    def handle(self, *args, repair: bool, **options):
        drift = case_counters_drift()
        if not drift:
            self.stdout.write("Compteurs de dossiers : exacts.")
            return
        for row in drift[:20]:
            self.stdout.write(f"Écart {row['key']} : attendu {row['expected']}, trouvé {row['found']}.")
        if not repair:
            raise CommandError(f"Compteurs de dossiers : {len(drift)} écart(s). Relancer avec --repair.")
        rows = case_counters_rebuild(actor=None)
        self.stdout.write(f"Compteurs de dossiers recomptés : {len(drift)} écart(s) corrigé(s), {rows} ligne(s).")
