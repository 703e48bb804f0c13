"""`manage.py check_case_counters [--repair]`: compare what the database's triggers keep about the cases with the
cases themselves — the counters of the home pages, and each task's copy of its case's agent (« Ma journée ») —
and set them right when one drifted. Run by `run_daily` with `--repair`."""

from django.core.management.base import BaseCommand, CommandError

from amiable.cases.selectors import case_counters_drift, task_agents_drift
from amiable.cases.services import case_counters_rebuild, task_agents_repair


class Command(BaseCommand):
    help = (
        "Vérifie les compteurs de dossiers (pages d'accueil, totaux) contre un comptage des dossiers, et le "
        "gestionnaire recopié sur chaque tâche (« Ma journée ») contre celui de son dossier ; avec --repair, "
        "corrige ce qui diffère."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Corriger les compteurs et les tâches qui diffèrent.")

    def handle(self, *args, repair: bool, **options):
        drift = case_counters_drift()
        tasks = task_agents_drift()
        if drift:
            for row in drift[:20]:
                self.stdout.write(f"Écart {row['key']} : attendu {row['expected']}, trouvé {row['found']}.")
        else:
            self.stdout.write("Compteurs de dossiers : exacts.")
        if tasks:
            shown = ", ".join(str(pk) for pk in tasks[:20])
            self.stdout.write(f"Tâches dont le gestionnaire diffère de celui du dossier : {len(tasks)} ({shown}).")
        else:
            self.stdout.write("Gestionnaires des tâches : exacts.")
        if not drift and not tasks:
            return
        if not repair:
            raise CommandError(
                f"Compteurs de dossiers : {len(drift)} écart(s) ; tâches : {len(tasks)} écart(s). "
                "Relancer avec --repair."
            )
        if drift:
            rows = case_counters_rebuild(actor=None)
            self.stdout.write(f"Compteurs de dossiers recomptés : {len(drift)} écart(s) corrigé(s), {rows} ligne(s).")
        if tasks:
            fixed = task_agents_repair(actor=None)
            self.stdout.write(f"Gestionnaires des tâches corrigés : {fixed} tâche(s).")
