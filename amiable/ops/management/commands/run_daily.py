"""`manage.py run_daily`: the one entry point for the daily jobs, for cron or a systemd timer.

Each job is idempotent, so running this twice a day, or again after a crash, does nothing twice. Schedule
it within the contact hours (e.g. 10:30 on weekdays): e-mails and SMS of the scenarios are only sent then,
and the retries of failed messages wait for an allowed slot."""

import traceback

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

# The plans are checked before the scenarios, so that a case whose plan broke today resumes its scenario at once.
DAILY_JOBS = [
    "check_promises",
    "check_plans",
    "deliver_outbox",
    "run_scenarios",
    "print_batch",
    "build_remittances",
    "check_remittances",
    "build_invoices",
    "build_quarterly_report",
    "refresh_statistics",
    "check_meetings",
    "check_deadlines",
    "send_digest",
    "purge_print_files",
    "expire_import_jobs",
    "purge_access_log",
    "purge_form_tokens",
    "check_case_counters",
    "verify_audit",
    "verify_documents",
]
# The remittances are made each day for the creditors whose contract's remittance day has come this week
# (idempotent: the days after find them made); the invoices of the last complete month likewise, and the
# workbook of the last complete quarter. The dashboards' figures are refreshed before the meetings' packs
# read them; the clocks come last so that they see what the other jobs have just done.
JOB_ARGUMENTS = {"build_remittances": ["--due"], "check_case_counters": ["--repair"]}
# Jobs that read everything once a week, on this weekday (0 = Monday, the first run of the week): the audit
# trail's chain and the hash of every stored document (docs/operations.md).
WEEKLY_JOBS = {"verify_audit": 0, "verify_documents": 0}
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


class Command(BaseCommand):
    help = (
        "Lance les tâches quotidiennes : promesses non tenues, échéances des plans d'apurement, renvoi des messages "
        "en échec, scénarios de recouvrement, lot d'impression des courriers, reversements de la semaine (au jour du "
        "contrat), rapprochement des virements et alerte des fonds non reversés, factures du mois écoulé, "
        "statistiques du trimestre écoulé, chiffres des tableaux de bord, réunions de suivi, échéances du contrat, "
        "récapitulatif des notifications, purge des fichiers d'impression anciens, des fichiers non confirmés, "
        "du journal des accès et des jetons d'envoi de formulaires, vérification des compteurs de dossiers et des "
        "gestionnaires recopiés sur les tâches ; le "
        "lundi, vérification du chaînage du journal d'audit et de l'intégrité des documents conservés. "
        "Une tâche en échec n'empêche pas les suivantes ; la commande se termine alors en erreur en nommant les "
        "tâches en échec."
    )

    def handle(self, *args, **options):
        failed = []
        weekday = timezone.localdate().weekday()
        for job in DAILY_JOBS:
            self.stdout.write(f"== {job}")
            if job in WEEKLY_JOBS and WEEKLY_JOBS[job] != weekday:
                self.stdout.write(f"Tâche hebdomadaire : le {WEEKDAYS[WEEKLY_JOBS[job]]} seulement.")
                continue
            try:
                call_command(job, *JOB_ARGUMENTS.get(job, []), stdout=self.stdout, stderr=self.stderr)
            except Exception:  # one broken job must not stop the print batch or the digest of the others
                failed.append(job)
                self.stderr.write(f"La tâche {job} a échoué :\n{traceback.format_exc()}")
        if failed:
            raise CommandError(f"Tâches en échec : {', '.join(failed)}")
