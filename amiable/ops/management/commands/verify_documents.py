"""`manage.py verify_documents [--json]`: every stored document read again and its hash compared with the one
recorded when it was stored. Run weekly by `run_daily`; exits non-zero when a file is missing or altered."""

import json

from django.core.management.base import BaseCommand, CommandError

from amiable.ops.documents import verify_documents

# Findings listed in full, beyond which only counted (a lost media folder would list every document).
LISTED = 100


class Command(BaseCommand):
    help = (
        "Vérifie l'intégrité des documents conservés (courriers, reçus, relevés, certificats, factures, "
        "accusés de réception…) : recalcule l'empreinte SHA-256 de chaque fichier et signale les fichiers "
        "manquants ou modifiés. Code de sortie non nul en cas d'anomalie."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Résultat en JSON (supervision).")

    def handle(self, *args, **options):
        counts = {"checked": 0, "missing": 0, "altered": 0, "unhashed": 0}
        findings = []
        for _label, finding in verify_documents():
            counts["checked"] += 1
            if finding is None:
                continue
            counts[finding.kind] += 1
            if len(findings) < LISTED:
                findings.append(finding)
            if not options["json"]:
                self.stdout.write(str(finding))
        ok = not counts["missing"] and not counts["altered"]
        if options["json"]:
            self.stdout.write(json.dumps({"ok": ok, **counts, "findings": [f.as_dict() for f in findings]}))
        else:
            self.stdout.write(
                f"{counts['checked']} document(s) vérifié(s) : {counts['missing']} manquant(s), "
                f"{counts['altered']} modifié(s), {counts['unhashed']} sans empreinte enregistrée."
            )
        if not ok:
            raise CommandError(
                f"Documents conservés altérés : {counts['missing']} manquant(s), {counts['altered']} modifié(s)."
            )
