"""`manage.py export_creditor --creditor SLUG [--output DIR] [--json]`: the end-of-contract export of a
creditor's data (C26), a ZIP verified once written; its reference is what `erase_creditor_data` asks for."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from amiable.closure.services_handover import creditor_export
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Creditor


class Command(BaseCommand):
    help = "Exporte toutes les données d'un créancier (fin de contrat) dans une archive ZIP vérifiée."

    def add_arguments(self, parser):
        parser.add_argument("--creditor", required=True, help="Identifiant (slug) du créancier.")
        parser.add_argument("--output", default=None, help="Dossier où écrire l'archive.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, creditor: str, output: str | None, as_json: bool, **options):
        found = Creditor.objects.filter(slug=creditor).first()
        if found is None:
            raise CommandError(f"Créancier inconnu : « {creditor} ».")
        try:
            export = creditor_export(creditor=found, actor=None, output_dir=output)
        except ApplicationError as exc:
            raise CommandError(f"Export impossible : {exc}") from exc
        except OSError as exc:
            where = exc.filename or output or settings.AMIABLE_EXPORT_DIR
            raise CommandError(
                f"Export impossible : le fichier « {where} » ne peut pas être écrit ({exc.strerror or exc})."
            ) from exc
        if export.verified_at is None:
            raise CommandError(f"L'archive {export.path} n'a pas passé la vérification : ne l'utilisez pas.")
        if as_json:
            data = {
                "reference": export.reference,
                "path": export.path,
                "sha256": export.sha256,
                "cases": export.case_count,
                "made_at": export.made_at.isoformat(),
                "verified_at": export.verified_at.isoformat(),
            }
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        self.stdout.write(f"Export {export.reference} : {export.case_count} dossier(s), vérifié.")
        self.stdout.write(f"Fichier : {export.path}")
        self.stdout.write(f"SHA-256 : {export.sha256}")
