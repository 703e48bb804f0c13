"""`manage.py import_bank_statement PATH [--json]`: import a statement of the client-funds account.

Exit status: 0 imported, 2 refused, 3 everything in it already imported."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from amiable.banking.parsed import FORMAT_LABELS
from amiable.banking.services import statement_import
from amiable.core.money import format_money

EXIT_CODES = {"imported": 0, "refused": 2, "duplicate": 3}


class Command(BaseCommand):
    help = "Importe un relevé bancaire (camt.053 ou CFONB 120) du compte des fonds de tiers de l'agence."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Chemin du relevé reçu de la banque.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, path, as_json: bool, **options):
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Fichier illisible : {path} ({exc.strerror}).") from exc
        result = statement_import(content=content, filename=file.name, actor=None)
        if as_json:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            self._report(result)
        if result.status != "imported":
            sys.exit(EXIT_CODES[result.status])

    def _report(self, result) -> None:
        if result.status == "refused":
            self.stderr.write(f"Relevé refusé : {result.error}")
            return
        if result.status == "duplicate":
            self.stderr.write(result.error)
            return
        statement = result.statement
        self.stdout.write(
            f"Relevé {FORMAT_LABELS[result.format]} importé : {result.entries} mouvement(s) dont {result.credits} "
            f"crédit(s) et {result.debits} débit(s), {statement.new_entry_count} nouveau(x)."
        )
        self.stdout.write(
            f"{result.matched} crédit(s) rapproché(s) d'un dossier pour {format_money(result.matched_total)}, "
            f"{result.to_review} à examiner."
        )
        if result.debits_matched:
            self.stdout.write(
                f"{result.debits_matched} débit(s) rapproché(s) d'un reversement : virement(s) exécuté(s)."
            )
        self.stdout.write(
            f"Nouveau solde au {statement.closing_on:%d/%m/%Y} : {format_money(statement.closing_balance)}."
        )
