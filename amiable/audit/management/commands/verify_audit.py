"""`manage.py verify_audit [--json] [--expect ID:HASH]`: check the hash chain of the audit trail (S3), for
monitoring, against a tip published earlier if one is given."""

import json
import re

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


def anchor_arg(text: str) -> tuple[int, str]:
    """`ID:HASH`, as printed by an earlier run (its last event's number and hash)."""
    match = re.fullmatch(r"\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*", text)
    if match is None:
        raise CommandError(
            f"--expect attend « numéro:empreinte », l'empreinte en 64 caractères hexadécimaux (reçu : « {text} »)."
        )
    return int(match[1]), match[2].lower()


class Command(BaseCommand):
    help = (
        "Vérifie le chaînage du journal d'audit : recalcule l'empreinte de chaque événement dans l'ordre et "
        "signale le premier maillon rompu (événement modifié, supprimé ou inséré). Code de sortie non nul en cas "
        "d'altération."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Résultat en JSON (supervision).")
        parser.add_argument(
            "--expect",
            metavar="NUMÉRO:EMPREINTE",
            help="Dernier maillon publié par une vérification antérieure (last_id:last_hash) : l'événement doit "
            "toujours exister avec cette empreinte, ce qui révèle une chaîne recalculée ou tronquée.",
        )

    def handle(self, *args, **options):
        anchor = anchor_arg(options["expect"]) if options.get("expect") else None
        result = verify(stored_rows(), anchor=anchor)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        elif result["ok"]:
            if result["checked"]:
                self.stdout.write(
                    f"Journal d'audit intègre : {result['checked']} événement(s) vérifié(s), dernier n° "
                    f"{result['last_id']}, empreinte {result['last_hash']}. À conserver hors de la base pour la "
                    f"prochaine vérification : --expect {result['last_id']}:{result['last_hash']}"
                )
            else:
                self.stdout.write("Journal d'audit vide : rien à vérifier.")
        if not result["ok"] and result["reason"] == "anchor_missing":
            raise CommandError(
                f"Journal d'audit altéré : l'événement n° {result['anchor_id']} publié auparavant n'existe plus "
                f"(dernier événement : n° {result['last_id']}). Le journal a été tronqué ou réécrit."
            )
        if not result["ok"] and result["reason"] == "anchor_changed":
            raise CommandError(
                f"Journal d'audit altéré : l'événement n° {result['anchor_id']} n'a plus l'empreinte publiée "
                f"auparavant ({result['expected_hash'][:16]}…, trouvée {result['stored_hash'][:16]}…). La chaîne a "
                "été recalculée depuis un point antérieur."
            )
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
