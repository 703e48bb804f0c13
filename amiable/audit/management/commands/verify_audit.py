"""`manage.py verify_audit [--json]`: check the hash chain of the audit trail (S3), for monitoring."""

import json

from django.core.management.base import BaseCommand, CommandError

from amiable.audit.chain import COLUMNS, verify
from amiable.audit.models import AuditEvent

SLICE = 2000


def stored_rows():
    """Every event as stored (personal values still encrypted, as they were chained), in id order, a slice at a
    time: memory stays flat whatever the size of the trail."""
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last).order_by("id").values_list("id", "hash", *COLUMNS)[:SLICE])
        yield from rows
        if len(rows) < SLICE:
            return
        last = rows[-1][0]


class Command(BaseCommand):
    help = (
        "Vérifie le chaînage du journal d'audit : recalcule l'empreinte de chaque événement dans l'ordre et "
        "signale le premier maillon rompu (événement modifié, supprimé ou inséré). Code de sortie non nul en cas "
        "d'altération."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Résultat en JSON (supervision).")

    def handle(self, *args, **options):
        result = verify(stored_rows())
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        elif result["ok"]:
            if result["checked"]:
                self.stdout.write(
                    f"Journal d'audit intègre : {result['checked']} événement(s) vérifié(s), dernier n° "
                    f"{result['last_id']}, empreinte {result['last_hash']}."
                )
            else:
                self.stdout.write("Journal d'audit vide : rien à vérifier.")
        if not result["ok"]:
            where = (
                f"{result['checked']} événement(s) intègre(s) avant lui, jusqu'au n° {result['previous_id']}"
                if result["previous_id"]
                else "dès le premier événement du journal"
            )
            raise CommandError(
                f"Journal d'audit altéré : le maillon de l'événement n° {result['first_broken_id']} est rompu "
                f"({where}). Cet événement ou un événement juste avant lui a été modifié, supprimé ou inséré."
            )
