"""`manage.py expire_import_jobs [--days N]`: cancel the checked files nobody confirmed nor cancelled, so that
their content and the detail of their lines are not kept, and fail the imports whose worker died, erasing their
staged file, and queue again the imports whose task was lost (run by `run_daily`)."""

from django.core.management.base import BaseCommand

from amiable.intake.services import (
    READY_KEEP_DAYS,
    import_jobs_expire,
    import_jobs_fail_stale,
    import_jobs_requeue_lost,
)


class Command(BaseCommand):
    help = "Annule les fichiers vérifiés mais ni confirmés ni annulés depuis plus de N jours (7 par défaut)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=READY_KEEP_DAYS, help="Délai de confirmation en jours.")

    def handle(self, *args, days, **options):
        expired = import_jobs_expire(days=days)
        self.stdout.write(f"{expired} fichier(s) non confirmé(s) depuis plus de {days} jours annulé(s).")
        interrupted = import_jobs_fail_stale()
        self.stdout.write(f"{interrupted} import(s) interrompu(s) (traitement arrêté) clos en échec.")
        requeued = import_jobs_requeue_lost()
        self.stdout.write(f"{requeued} import(s) en attente depuis trop longtemps remis dans la file.")
