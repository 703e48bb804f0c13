"""`manage.py bench_intake [--rows N]`: generate a batch file of N claims and import it, printing the time,
rows per second and the process's peak memory. Used by `make bench-intake`; never run in tests."""

import resource
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from amiable.creditors.models import Creditor
from amiable.creditors.services import terms_save
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import


class Command(BaseCommand):
    help = "Mesure l'import d'un lot de N lignes (par défaut 100 000)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)

    def handle(self, *args, rows: int, **options):
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        # The bench measures reading, checking and writing the rows: the clear file skips gpg, whose time is not
        # ours, so the CPAM's encryption policy (C5) is lifted on this throw-away database.
        terms_save(creditor=creditor, actor=None, require_encryption=False, require_signature=False)
        content = generate_batch(rows)
        self.stdout.write(f"Fichier généré : {rows} lignes, {len(content) / 1e6:.1f} Mo ; base {connection.vendor}.")
        start = time.perf_counter()
        phases: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            phases.setdefault(phase, time.perf_counter() - start)

        outcome = batch_import(
            creditor=creditor,
            content=content,
            filename=f"bench-{rows}.csv",
            source=BatchSource.AGENCY_UPLOAD,
            actor=None,
            progress=progress,
        )
        elapsed = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(
            f"{connection.vendor} : {outcome.status}, {outcome.accepted} acceptées, {outcome.rejected} rejetées "
            f"en {elapsed:.1f} s ({rows / elapsed:,.0f} lignes/s), mémoire de pointe {peak_mb:.0f} Mo."
        )
        marks = ", ".join(f"{phase} à {at:.1f} s" for phase, at in phases.items())
        self.stdout.write(f"Étapes : {marks}.")
        if outcome.error:
            self.stdout.write(outcome.error)
