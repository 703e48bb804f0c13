"""`manage.py build_invoices [--month AAAA-MM] [--dry-run] [--json]`: the monthly commission invoices per
structure, and the credit notes of the reversals (idempotent: a second run for the same month makes nothing;
safe to run every day, each run finishes the files and e-mails an earlier one left undone)."""

import json

from django.core.management.base import BaseCommand, CommandError

from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.invoicing.selectors import month_parse
from amiable.invoicing.services import invoices_build

KINDS = {"invoice": "Facture", "credit_note": "Avoir"}


class Command(BaseCommand):
    help = (
        "Prépare les factures de commissions du mois (par défaut le dernier mois complet), une par structure, sur "
        "les sommes recouvrées non encore facturées, et les avoirs des paiements facturés puis rejetés ; enregistre "
        "leur Factur-X et les envoie par e-mail. Sans effet si elle est relancée pour le même mois, sinon de "
        "terminer les fichiers et envois restés en suspens."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", dest="month", help="Mois à facturer (AAAA-MM), terminé.")
        parser.add_argument("--dry-run", action="store_true", dest="dry_run", help="Affiche sans rien créer.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, month: str | None, dry_run: bool, as_json: bool, **options):
        try:
            run = invoices_build(month=month_parse(month) if month else None, actor=None, dry_run=dry_run)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(run.as_json(), ensure_ascii=False))
        else:
            prefix = "Simulation — " if dry_run else ""
            self.stdout.write(
                f"{prefix}Mois du {run.start:%d/%m/%Y} au {run.end:%d/%m/%Y} : {len(run.invoices)} facture(s) et "
                f"avoir(s), {run.created} créé(s)."
            )
            for row in run.invoices:
                sent = f", envoyée à {row['emailed_to']}" if row["emailed_to"] else ""
                self.stdout.write(
                    f"  {KINDS[row['kind']]} {row['number'] or '(à créer)'} {row['creditor']}/{row['structure']} : "
                    f"base {format_money(row['base'])}, commission HT {format_money(row['commission'])}, "
                    f"TVA {format_money(row['vat'])}, TTC {format_money(row['total'])}{sent}"
                )
        if run.failures:
            raise CommandError("Non terminé (la prochaine exécution reprendra) : " + " ; ".join(run.failures))
