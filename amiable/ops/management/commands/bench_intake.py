"""`manage.py bench_intake [--rows N] [--warmup M]`: generate a batch file of N claims and import it, beside its
floor — PostgreSQL's own `COPY` of the same file into a bare table of text columns, measured in the same run —
and record through `amiable.ops.bench.record` the time (≤ 20 × the floor on PostgreSQL), the peak memory
(≤ 300 Mo) and how the memory grows with the file.

Memory flatness: the process first imports a smaller batch of M rows (10,000 by default: it also loads every
library, font and cache), notes its peak resident memory, then imports the N rows; the growth of the peak
between the two, per 10,000 rows more, is what the file's size costs. The streaming stages keep no row, so it
is the file itself (its bytes and its decoded text) and the references read in the first pass. Used by
`make bench-intake`; never run in tests."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from amiable.core.money import format_count
from amiable.creditors.models import Creditor
from amiable.creditors.services import terms_save
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from amiable.ops.bench import Measure, peak_memory_mb, record

MAX_RATIO = 20  # issue 13: the import of a batch within 20 × PostgreSQL's COPY of the same file
PEAK_LIMIT_MB = 300
GROWTH_LIMIT_MB = 15  # per 10,000 rows more: the file held in memory and its references, nothing per row
FLOOR_RUNS = 3


def copy_floor(content: bytes) -> float:
    """The best of a few `COPY` of the file into a temporary table of text columns, one per column of the file:
    what PostgreSQL does at best with these bytes (parse, store), with no check, index or key."""
    header = content.split(b"\n", 1)[0].decode("utf-8")
    columns = ", ".join(f'"c{i}" text' for i in range(len(header.split(";"))))
    times = []
    for _ in range(FLOOR_RUNS):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE bench_floor ({columns}) ON COMMIT DROP")
            start = time.perf_counter()
            with cursor.cursor.copy("COPY bench_floor FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true)") as copy:
                copy.write(content)
            times.append(time.perf_counter() - start)
            cursor.execute("SELECT count(*) FROM bench_floor")
            assert cursor.fetchone()[0] == content.count(b"\n") - 1
    return min(times)


class Command(BaseCommand):
    help = "Mesure l'import d'un lot de N lignes (par défaut 100 000) face au COPY du même fichier."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--warmup", type=int, default=10_000, help="lignes du premier lot (0 : aucun)")

    def handle(self, *args, rows: int, warmup: int, **options):
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        # The bench measures reading, checking and writing the rows: the clear file skips gpg, whose time is not
        # ours, so the CPAM's encryption policy (C5) is lifted on this throw-away database.
        terms_save(creditor=creditor, actor=None, require_encryption=False, require_signature=False)
        vendor = connection.vendor

        warm_peak = None
        if warmup:
            self._import(creditor, generate_batch(warmup, prefix="WARMUP"), warmup)
            warm_peak = peak_memory_mb()

        content = generate_batch(rows)
        self.stdout.write(f"Fichier généré : {rows} lignes, {len(content) / 1e6:.1f} Mo ; base {vendor}.")
        floor = copy_floor(content) if vendor == "postgresql" else None
        if floor is not None:
            self.stdout.write(f"Plancher : COPY du même fichier dans une table nue en {floor:.2f} s.")
        elapsed, outcome = self._import(creditor, content, rows)
        peak = peak_memory_mb()

        measures = [
            Measure(
                name=f"intake.import_{vendor}",
                label=f"Import d'un lot de {format_count(rows)} lignes ({vendor})",
                value=elapsed,
                unit="s",
                floor=floor,
                max_ratio=MAX_RATIO if floor is not None else None,
                extra={"rows": rows, "accepted": outcome.accepted, "rejected": outcome.rejected},
            ),
            Measure(
                name=f"intake.peak_memory_{vendor}",
                label=f"Mémoire de pointe de l'import ({vendor})",
                value=peak,
                unit="Mo",
                limit=PEAK_LIMIT_MB,
                extra={"rows": rows, "warmup_rows": warmup, "warmup_peak_mb": warm_peak},
            ),
        ]
        if warm_peak is not None and rows > warmup:
            growth = (peak - warm_peak) / ((rows - warmup) / 10_000)
            measures.append(
                Measure(
                    name=f"intake.memory_growth_{vendor}",
                    label=f"Croissance de la mémoire par 10 000 lignes de plus ({vendor})",
                    value=growth,
                    unit="Mo",
                    limit=GROWTH_LIMIT_MB,
                    extra={"from_rows": warmup, "to_rows": rows, "from_mb": warm_peak, "to_mb": peak},
                )
            )
        record(measures, write=self.stdout.write)

    def _import(self, creditor, content: bytes, rows: int):
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
        self.stdout.write(
            f"{connection.vendor} : {outcome.status}, {outcome.accepted} acceptées, {outcome.rejected} rejetées "
            f"en {elapsed:.1f} s ({rows / elapsed:,.0f} lignes/s), mémoire de pointe {peak_memory_mb():.0f} Mo."
        )
        marks = ", ".join(f"{phase} à {at:.1f} s" for phase, at in phases.items())
        self.stdout.write(f"Étapes : {marks}.")
        if outcome.error:
            self.stdout.write(outcome.error)
        return elapsed, outcome
