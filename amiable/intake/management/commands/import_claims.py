"""`manage.py import_claims PATH --creditor SLUG [--structure CODE] [--json]`: import a batch file.

Exit status: 0 accepted (even with rejected rows), 2 refused, 3 already received."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from amiable.core.money import format_money
from amiable.creditors.models import Creditor, Structure
from amiable.intake.acknowledgement import document_location
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import

EXIT_CODES = {"accepted": 0, "refused": 2, "duplicate": 3}


class Command(BaseCommand):
    help = (
        "Importe un lot de créances (CSV ou XLSX, chiffré OpenPGP ou non selon les exigences du créancier) "
        "pour un créancier."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="Chemin du fichier reçu.")
        parser.add_argument("--creditor", required=True, help="Identifiant du créancier (ex. cpam-paris).")
        parser.add_argument("--structure", help="Code de la structure, pour un fichier sans colonne structure.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, path, creditor, structure, as_json: bool, **options):
        creditor_obj = Creditor.objects.filter(slug=creditor).first()
        if creditor_obj is None:
            raise CommandError(f"Créancier inconnu : « {creditor} ».")
        default_structure = None
        if structure:
            default_structure = Structure.objects.filter(creditor=creditor_obj, code__iexact=structure).first()
            if default_structure is None:
                raise CommandError(f"Structure inconnue pour {creditor_obj.name} : « {structure} ».")
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Fichier illisible : {path} ({exc.strerror}).") from exc
        outcome = batch_import(
            creditor=creditor_obj,
            content=content,
            filename=file.name,
            source=BatchSource.COMMAND,
            actor=None,
            default_structure=default_structure,
        )
        if as_json:
            self.stdout.write(json.dumps(outcome.as_json(), ensure_ascii=False))
        else:
            self._report(outcome)
        if outcome.status != "accepted":
            sys.exit(EXIT_CODES[outcome.status])

    def _report(self, outcome) -> None:
        if outcome.status == "refused":
            self.stderr.write(f"Fichier refusé : {outcome.error}")
            return
        if outcome.status == "duplicate":
            self.stderr.write(outcome.error)
            return
        batch = outcome.batch
        self.stdout.write(
            f"Lot {batch.number} accepté : {outcome.rows} ligne(s), {outcome.accepted} créance(s) prise(s) en charge "
            f"pour {format_money(outcome.accepted_total)}, {outcome.rejected} ligne(s) rejetée(s)."
        )
        self.stdout.write(
            f"Accusé de réception {batch.acknowledgement_number} : {document_location(batch.acknowledgement_pdf)}"
        )
        for row in outcome.rejected_rows:
            for error in row["errors"]:
                self.stdout.write(
                    f"  ligne {row['file_line']} du fichier ({row['reference'] or 'sans référence'}) — "
                    f"{error['column']} « {error['value']} » : {error['message']}"
                )
