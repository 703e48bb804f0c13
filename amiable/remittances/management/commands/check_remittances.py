"""`manage.py check_remittances [--json]`: the day's follow-up of the remittances — debits already imported
matched to the transfers they paid, and the L6 alert on money held more than 7 days (idempotent)."""

import json

from django.core.management.base import BaseCommand

from amiable.core.dates import format_date
from amiable.core.money import format_money
from amiable.remittances.alerts import LATE_AFTER_DAYS, remittances_overdue_notify
from amiable.remittances.matching import remittances_match_pending


class Command(BaseCommand):
    help = (
        "Rapproche des reversements les débits déjà importés qui ne l'étaient pas encore, et signale aux "
        f"superviseurs les sommes encaissées non reversées plus de {LATE_AFTER_DAYS} jours après leur encaissement "
        "(une notification par jour au plus)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, as_json: bool, **options):
        executed = remittances_match_pending(actor=None)
        overdue = remittances_overdue_notify()
        if as_json:
            payload = {
                "executed": executed,
                "overdue": [
                    {
                        "creditor": s.creditor_slug,
                        "structure": s.structure_code,
                        "payments": s.count,
                        "total": f"{s.total:.2f}",
                        "oldest": s.oldest.isoformat(),
                    }
                    for s in overdue.structures
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(f"{executed} virement(s) de reversement constaté(s) exécuté(s) sur les relevés.")
        if not overdue:
            self.stdout.write(
                f"Aucune somme encaissée depuis plus de {LATE_AFTER_DAYS} jours n'attend son reversement."
            )
        for s in overdue.structures:
            self.stdout.write(
                f"  EN RETARD {s.creditor_slug}/{s.structure_code} : {format_money(s.total)} en {s.count} "
                f"paiement(s), le plus ancien encaissé le {format_date(s.oldest)}"
            )
