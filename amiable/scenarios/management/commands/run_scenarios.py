"""`manage.py run_scenarios [--date YYYY-MM-DD] [--dry-run] [--json]`: the day's scenario steps, once."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amiable.scenarios.services import scenarios_run


class Command(BaseCommand):
    help = "Exécute les étapes des scénarios de recouvrement dues ce jour (une seule fois par dossier et par étape)."

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="Jour à traiter (AAAA-MM-JJ), par défaut aujourd'hui.")
        parser.add_argument("--dry-run", action="store_true", help="Montre ce qui serait fait, sans rien faire.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, day: str | None, dry_run: bool, as_json: bool, **options):
        try:
            on = date.fromisoformat(day) if day else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu AAAA-MM-JJ).") from exc
        report = scenarios_run(on=on, dry_run=dry_run)
        if as_json:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        prefix = "Simulation — " if dry_run else ""
        channels = ", ".join(f"{k} {v}" for k, v in sorted(report.by_channel.items())) or "aucune"
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "aucune"
        self.stdout.write(
            f"{prefix}{on:%d/%m/%Y} : {report.executed} étape(s) exécutée(s) ({channels}) ; ignorées : {skipped}."
        )
        for line in report.errors:
            self.stdout.write(f"  {line}")
        for path in report.documents:
            self.stdout.write(f"  {path}")
