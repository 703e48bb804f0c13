"""`manage.py bench_letters [--letters N]`: take in N synthetic claims and issue their first letters, printing
the time per letter. Used by `make bench`; never run in tests."""

import resource
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from amiable.cases.models import Case
from amiable.creditors.models import Creditor
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from amiable.letters.services import letter_issue


class Command(BaseCommand):
    help = "Mesure l'émission de N premières lettres (par défaut 500)."

    def add_arguments(self, parser):
        parser.add_argument("--letters", type=int, default=500)

    def handle(self, *args, letters: int, **options):
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        outcome = batch_import(
            creditor=creditor,
            content=generate_batch(letters * 2, seed=11, prefix="BENCH-LETTRE"),
            filename="bench-lettres.csv",
            source=BatchSource.AGENCY_UPLOAD,
            actor=None,
        )
        cases = list(Case.objects.filter(batch_line__batch=outcome.batch).order_by("pk")[:letters])
        start = time.perf_counter()
        for case in cases:
            letter_issue(case=case, kind="first", actor=None)
        elapsed = time.perf_counter() - start
        per_letter = elapsed / len(cases)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(
            f"{len(cases)} premières lettres en {elapsed:.1f} s ({1000 * per_letter:.0f} ms par lettre, un cœur) ; "
            f"3 500 lettres : {3500 * per_letter:.0f} s sur un cœur ; mémoire de pointe {peak_mb:.0f} Mo."
        )
