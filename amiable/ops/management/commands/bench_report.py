"""`manage.py bench_report [--input FILE] [--previous var/bench.json] [--output var/bench.json] [--strict]`: one
table of every measure `make bench` collected (the JSON lines of `$AMIABLE_BENCH_OUT`), with its floor, ratio,
target and verdict beside the previous run's figure, then the run kept in `var/bench.json` (date, commit,
cores) for the next one to compare with.

A missed target is printed « HORS CIBLE » and counted, but exits 0: the figures of a whole run are worth
keeping even when a page is slow. `--strict` makes a missed target fail the command (exit 1), for a check."""

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from amiable.ops.bench import BENCH_OUT_ENV, _figure

DEFAULT_FILE = "var/bench.json"


def read_measures(path: Path) -> list[dict]:
    """The measures of a run, one JSON object a line; a later measure of the same name replaces an earlier."""
    measures: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            measure = json.loads(line)
            measures[measure["name"]] = measure
    return list(measures.values())


def previous_values(path: Path | None) -> dict[str, float]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {m["name"]: m["value"] for m in data.get("measures", []) if "name" in m and "value" in m}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def table(measures: list[dict], previous: dict[str, float]) -> list[str]:
    """The rows of the report, aligned; the previous figure only when there was a previous run."""
    header = ["Mesure", "Valeur", "Plancher", "Rapport", "Cible", "Verdict"]
    if previous:
        header.append("Précédent")
    rows = [header]
    for m in measures:
        unit = m.get("unit", "")
        floor = m.get("floor")
        row = [
            m.get("label", m["name"]),
            f"{_figure(m['value'])} {unit}",
            f"{_figure(floor)} {unit}" if floor is not None else "—",
            f"{m['ratio']:.1f} ×".replace(".", ",") if m.get("ratio") is not None else "—",
            m.get("target") or "—",
            "OK" if m.get("ok", True) else "HORS CIBLE",
        ]
        if previous:
            before = previous.get(m["name"])
            row.append(f"{_figure(before)} {unit}" if before is not None else "—")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


class Command(BaseCommand):
    help = "Rassemble les mesures de make bench en un tableau et les garde dans var/bench.json."

    def add_arguments(self, parser):
        parser.add_argument("--input", help=f"fichier des mesures (par défaut ${BENCH_OUT_ENV})")
        parser.add_argument("--previous", default=DEFAULT_FILE, help="la course précédente (var/bench.json)")
        parser.add_argument("--output", default=DEFAULT_FILE, help="où garder cette course (var/bench.json)")
        parser.add_argument("--strict", action="store_true", help="échoue si une cible est manquée")

    def handle(self, *args, input: str | None, previous: str, output: str, strict: bool, **options):
        source = input or os.environ.get(BENCH_OUT_ENV)
        if not source or not Path(source).exists():
            raise CommandError(f"Aucun fichier de mesures : indiquez --input ou la variable {BENCH_OUT_ENV}.")
        measures = read_measures(Path(source))
        if not measures:
            raise CommandError(f"{source} ne contient aucune mesure.")
        before = previous_values(Path(previous) if previous else None)
        for line in table(measures, before):
            self.stdout.write(line)
        missed = [m for m in measures if not m.get("ok", True)]
        run = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "cores": os.cpu_count(),
            "measures": measures,
        }
        target = Path(output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(
            f"{len(measures)} mesure(s), {len(missed)} hors cible ; course gardée dans {target}"
            + (f" (comparée à {previous})." if before else ".")
        )
        if strict and missed:
            raise CommandError(f"{len(missed)} cible(s) manquée(s) : " + ", ".join(m["name"] for m in missed))
