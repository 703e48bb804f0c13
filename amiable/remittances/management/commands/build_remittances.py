"""`manage.py build_remittances [--week-of YYYY-MM-DD] [--dry-run] [--json]`: the weekly remittances per
structure (idempotent: a second run for the same week makes nothing), then the files and e-mail of every
remittance still missing them. The JSON lists the week's remittances only; what the completion did and
its problems are in the text output and the log."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.remittances.selectors import creditors_due
from amiable.remittances.services import remittances_build


class Command(BaseCommand):
    help = (
        "Prépare les reversements de la semaine (du lundi au dimanche) précédant la date donnée, un par structure : "
        "paiements encaissés non encore reversés, moins les rejets de paiements déjà reversés. Sans effet si elle "
        "est relancée pour la même semaine. Produit ensuite les fichiers (relevé PDF, XLSX, CSV, virement SEPA) et "
        "envoie le relevé de tout reversement qui ne les a pas encore, quelle que soit sa semaine."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--week-of", dest="week_of", help="Date (AAAA-MM-JJ) : la semaine traitée est la précédente complète."
        )
        parser.add_argument(
            "--due",
            action="store_true",
            help="Seulement les créanciers dont le jour de reversement du contrat est arrivé cette semaine "
            "(c'est ainsi que run_daily la lance chaque jour).",
        )
        parser.add_argument("--dry-run", action="store_true", dest="dry_run", help="Affiche sans rien créer.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, week_of: str | None, due: bool, dry_run: bool, as_json: bool, **options):
        try:
            on = date.fromisoformat(week_of) if week_of else None
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {week_of} » (attendu AAAA-MM-JJ).") from exc
        try:
            creditor_ids = creditors_due(on or timezone.localdate()) if due else None
            run = remittances_build(week_of=on, actor=None, dry_run=dry_run, creditor_ids=creditor_ids)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(run.as_json(), ensure_ascii=False))
            return
        prefix = "Simulation — " if dry_run else ""
        self.stdout.write(
            f"{prefix}Semaine du {run.start:%d/%m/%Y} au {run.end:%d/%m/%Y} : {len(run.remittances)} reversement(s), "
            f"{run.created} créé(s)."
        )
        for row in run.remittances:
            self.stdout.write(
                f"  {row['number'] or '(à créer)'} {row['creditor']}/{row['structure']} : {row['lines']} ligne(s), "
                f"{format_money(row['total'])}"
            )
        for row in run.carried:
            self.stdout.write(
                f"  {row['creditor']}/{row['structure']} : solde de {format_money(row['total'])}, "
                "reporté à la semaine suivante"
            )
        if run.to_complete:
            self.stdout.write(f"{prefix}À compléter (fichiers ou envoi) : {', '.join(run.to_complete)}.")
        for done in run.completed:
            if done.made:
                self.stdout.write(f"  {done.number} ({done.structure}) : fichiers produits — {', '.join(done.made)}.")
            if done.emailed_to:
                self.stdout.write(f"  {done.number} ({done.structure}) : relevé envoyé à {done.emailed_to}.")
            for problem in done.problems:
                self.stdout.write(self.style.WARNING(f"  {done.number} ({done.structure}) : {problem}"))
