"""`manage.py erase_creditor_data --creditor SLUG --confirm REFERENCE-OF-EXPORT [--json]`: erase the
personal data of a creditor's debtors after its verified end-of-contract export (L11); refused, nothing
changed, when the export does not allow it (docs/end-of-contract.md)."""

import json

from django.core.management.base import BaseCommand, CommandError

from amiable.closure.services_handover import creditor_data_erase
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Creditor


class Command(BaseCommand):
    help = "Efface les données personnelles des débiteurs d'un créancier après son export vérifié."

    def add_arguments(self, parser):
        parser.add_argument("--creditor", required=True, help="Identifiant (slug) du créancier.")
        parser.add_argument("--confirm", required=True, help="Référence de l'export vérifié (EXP-…).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, creditor: str, confirm: str, as_json: bool, **options):
        found = Creditor.objects.filter(slug=creditor).first()
        if found is None:
            raise CommandError(f"Créancier inconnu : « {creditor} ».")
        try:
            record = creditor_data_erase(creditor=found, export_reference=confirm, actor=None)
        except ApplicationError as exc:
            raise CommandError(f"Effacement refusé : {exc.message}") from exc
        if as_json:
            self.stdout.write(json.dumps({"export": confirm, "summary": record.summary}, ensure_ascii=False))
            return
        self.stdout.write(f"Données personnelles de {found.name} effacées (export {confirm}).")
        for name, value in record.summary.items():
            self.stdout.write(f"  {name} : {value}")
