"""`manage.py run_daily`: the one entry point for the daily jobs, for cron or a systemd timer.

Each job is idempotent, so running this twice a day, or again after a crash, does nothing twice. Schedule
it within the contact hours (e.g. 10:30 on weekdays): e-mails and SMS of the scenarios are only sent then,
and the retries of failed messages wait for an allowed slot."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

DAILY_JOBS = ["check_promises", "deliver_outbox", "run_scenarios", "print_batch", "send_digest", "purge_access_log"]


class Command(BaseCommand):
    help = (
        "Lance les tâches quotidiennes : promesses non tenues, renvoi des messages en échec, scénarios de "
        "recouvrement, lot d'impression des courriers, récapitulatif des notifications, purge du journal des accès."
    )

    def handle(self, *args, **options):
        for job in DAILY_JOBS:
            self.stdout.write(f"== {job}")
            call_command(job, stdout=self.stdout, stderr=self.stderr)
