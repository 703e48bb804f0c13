"""`manage.py bench_letters [--letters N] [--sample M] [--workers W]`: take in synthetic claims and issue their first
letters in bulk (`letters_issue_first`), measured against a bare WeasyPrint render of the same letters in the same
run. Used by `make bench`; never run in tests.

Three figures:
- the floor: `HTML(string=html).write_pdf()` of M of the letters (their exact HTML, with its CSS and fonts), one
  after the other in this process: CPU time per letter;
- our cost per letter: the same M cases issued by the bulk path with one process (checks, HTML, PDF/A, hash,
  numbering, files, rows, audit): CPU time per letter, whose ratio to the floor must stay ≤ 1.3 — CPU time, not
  wall time, because the machine is shared and its load moves while the bench runs;
- the bulk issue of N other letters with one rendering process per core: the wall time of the whole, ≤ 90 s for
  3,500 letters.
"""

import os
import resource
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from weasyprint import HTML

from amiable.cases.models import Case
from amiable.creditors.models import Creditor
from amiable.creditors.services import terms_save
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from amiable.letters.services import letter_render, letter_signatory
from amiable.letters.services_bulk import letters_issue_first
from amiable.ops.bench import Measure, record


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the rendering processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Command(BaseCommand):
    help = "Mesure l'émission en masse de N premières lettres (par défaut 3 500) contre un rendu WeasyPrint nu."

    def add_arguments(self, parser):
        parser.add_argument("--letters", type=int, default=3500)
        parser.add_argument("--sample", type=int, default=100, help="Lettres de la mesure sur un cœur.")
        parser.add_argument("--workers", type=int, default=None, help="Processus de rendu (par défaut un par cœur).")

    def handle(self, *args, letters: int, sample: int, workers: int | None, **options):
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        # The clear file skips gpg, whose time is not the letters' (the policy is lifted on this throw-away base).
        terms_save(creditor=creditor, actor=None, require_encryption=False, require_signature=False)
        wanted = letters + sample
        outcome = batch_import(
            creditor=creditor,
            content=generate_batch(wanted + wanted // 40 + 10, seed=11, prefix="BENCH-LETTRE"),
            filename="bench-lettres.csv",
            source=BatchSource.AGENCY_UPLOAD,
            actor=None,
        )
        if outcome.batch is None:
            raise RuntimeError(outcome.error)
        ids = list(Case.objects.filter(batch_line__batch=outcome.batch).order_by("pk").values_list("pk", flat=True))
        ids = ids[:wanted]
        one, many = ids[:sample], ids[sample:]
        workers = workers or os.cpu_count() or 1

        # Ours, one process: everything a letter costs; then the floor, a bare WeasyPrint render of the same
        # letters' HTML. Skipped with `--sample 0` (a quick run of the bulk issue alone).
        ours_cpu = ours_wall = floor_cpu = floor_wall = None
        if one:
            cpu, wall = _cpu(), time.perf_counter()
            single = letters_issue_first(cases=one, actor=None, workers=1)
            ours_cpu, ours_wall = (_cpu() - cpu) / len(one), (time.perf_counter() - wall) / len(one)
            assert len(single.letters) == len(one), single.refused
            floor_cpu, floor_wall = self._floor(single.letters)

        # The bulk issue, in parallel.
        cpu, wall = _cpu(), time.perf_counter()
        report = letters_issue_first(cases=many, actor=None, workers=workers)
        total = time.perf_counter() - wall
        bulk_cpu = (_cpu() - cpu) / max(len(many), 1)
        assert len(report.letters) == len(many), report.refused
        numbers = [letter.number for letter in report.letters]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load = os.getloadavg()[0]
        vendor = connection.vendor
        self.stdout.write(
            f"{vendor} : {len(many)} premières lettres en {total:.1f} s avec {workers} processus de rendu "
            f"({1000 * total / max(len(many), 1):.0f} ms par lettre, {1000 * bulk_cpu:.0f} ms de CPU par lettre) ; "
            f"{numbers[0] if numbers else '—'} à {numbers[-1] if numbers else '—'} ; un cœur : "
            + (
                f"{1000 * ours_wall:.0f} ms par lettre (rendu nu {1000 * floor_wall:.0f} ms) ; "
                if one
                else "non mesuré (--sample 0) ; "
            )
            + f"charge de la machine {load:.1f} ; mémoire de pointe {peak_mb:.0f} Mo."
        )
        measures = []
        if one:
            measures.append(
                Measure(
                    name=f"letters.first_letter_cpu.{vendor}",
                    label=f"Première lettre, coût CPU par lettre sur un cœur ({vendor})",
                    value=round(1000 * ours_cpu, 1),
                    unit="ms",
                    floor=round(1000 * floor_cpu, 1),
                    max_ratio=1.3,
                    extra={
                        "letters": len(one),
                        "wall_ms": round(1000 * ours_wall, 1),
                        "floor_wall_ms": round(1000 * floor_wall, 1),
                        "load": round(load, 1),
                    },
                )
            )
        measures.append(
            Measure(
                name=f"letters.first_letters_bulk.{vendor}",
                label=f"{len(many)} premières lettres en masse, {workers} processus ({vendor})",
                value=round(total, 1),
                unit="s",
                floor=round(len(many) * floor_cpu / workers, 1) if one else None,
                limit=round(90 * len(many) / 3500, 1),
                extra={
                    "letters": len(many),
                    "workers": workers,
                    "ms_per_letter": round(1000 * total / max(len(many), 1), 1),
                    "cpu_ms_per_letter": round(1000 * bulk_cpu, 1),
                    "peak_mb": round(peak_mb),
                    "load": round(load, 1),
                },
            )
        )
        record(measures, write=self.stdout.write)

    def _floor(self, letters) -> tuple[float, float]:
        """CPU and wall seconds per letter of a bare WeasyPrint render of these letters' exact HTML."""
        pages = []
        for letter in letters:
            case = Case.objects.select_related("debtor", "creditor", "structure", "assigned_agent").get(
                pk=letter.case_id
            )
            html, _ = letter_render(
                case=case,
                kind="first",
                template=letter.template,
                number=letter.number,
                issued_on=letter.issued_on,
                signatory=letter_signatory(case=case, actor=None),
            )
            pages.append(html)
        cpu, wall = _cpu(), time.perf_counter()
        for html in pages:
            HTML(string=html).write_pdf()
        return (_cpu() - cpu) / len(pages), (time.perf_counter() - wall) / len(pages)
