"""`manage.py loadtest_report PREFIX [--output var/loadtest.json]`: the figures of a Locust run (its
`PREFIX_stats.csv`), per journey step and in all, against the target of issue 14: no error and a 95th
percentile within 300 ms. Kept as JSON so that two runs can be compared."""

import csv
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

P95_LIMIT_MS = 300
TOTAL = "Aggregated"


def _row(row: dict) -> dict:
    return {
        "name": row["Name"] if row["Name"] != TOTAL else "Ensemble",
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
    }


def read_stats(prefix: str) -> tuple[list[dict], dict]:
    """The rows of each step and the aggregate of a Locust `--csv PREFIX` run."""
    path = Path(f"{prefix}_stats.csv")
    if not path.exists():
        raise CommandError(f"Statistiques de Locust introuvables : {path}.")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    steps = [_row(r) for r in rows if r["Name"] != TOTAL]
    total = [_row(r) for r in rows if r["Name"] == TOTAL]
    if not total or total[0]["requests"] == 0:
        raise CommandError(f"Aucune requête dans {path} : le serveur a-t-il démarré ?")
    return steps, total[0]


class Command(BaseCommand):
    help = "Résume un test de charge Locust : requêtes par seconde, p50/p95/p99 et erreurs, face à l'objectif."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="préfixe des fichiers CSV de Locust (--csv)")
        parser.add_argument("--output", default="var/loadtest.json", help="fichier JSON des résultats")
        parser.add_argument("--context", default="{}", help="JSON décrivant le test (utilisateurs, durée, volume)")

    def handle(self, *args, prefix: str, output: str, context: str, **options):
        steps, total = read_stats(prefix)
        held = total["failures"] == 0 and total["p95_ms"] <= P95_LIMIT_MS
        width = max(len(s["name"]) for s in [*steps, total])
        self.stdout.write(f"{'Étape':<{width}}  requêtes  erreurs   req/s    p50    p95    p99 (ms)")
        for s in [*sorted(steps, key=lambda s: -s["p95_ms"]), total]:
            self.stdout.write(
                f"{s['name']:<{width}}  {s['requests']:>8}  {s['failures']:>7}  {s['rps']:>6.1f}  "
                f"{s['p50_ms']:>5.0f}  {s['p95_ms']:>5.0f}  {s['p99_ms']:>5.0f}"
            )
        verdict = "tenu" if held else "NON tenu"
        self.stdout.write(
            f"Objectif (0 erreur, p95 ≤ {P95_LIMIT_MS} ms) : {verdict} — {total['failures']} erreur(s), "
            f"p95 {total['p95_ms']:.0f} ms, {total['rps']:.1f} requêtes/s."
        )
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        result = {"context": json.loads(context), "total": total, "steps": steps, "target_held": held}
        Path(output).write_text(json.dumps(result, indent=2, ensure_ascii=False))
