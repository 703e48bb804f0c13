"""`manage.py build_quarterly_report [--quarter 2026-Q3] [--creditor SLUG] [--force] [--json]`: the quarterly
statistics workbook of each creditor (C41). Without --quarter, the last complete quarter; without
--creditor, every active creditor. Idempotent: a creditor whose final workbook of the quarter is stored (built
after the quarter's end) is left as it is, unless --force builds it again (the new file replaces the former);
a partial one (built while the quarter was running, from the portal or the agency's page) is built again."""

import json

from django.core.management.base import BaseCommand, CommandError

from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Creditor
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.quarterly import last_complete_quarter, quarter_parse, report_is_final
from amiable.reporting.services_quarterly import quarterly_report_build


class Command(BaseCommand):
    help = (
        "Produit le classeur des statistiques trimestrielles (XLSX) de chaque créancier actif, ou du créancier "
        "donné, pour le trimestre donné (par défaut le dernier trimestre terminé). Un classeur définitif (produit "
        "après la fin du trimestre) est laissé tel quel, sauf avec --force ; un classeur partiel (produit pendant "
        "le trimestre) est produit de nouveau."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quarter", help="Trimestre, par exemple 2026-Q3 (par défaut : le dernier terminé).")
        parser.add_argument("--creditor", help="Identifiant (slug) du créancier (par défaut : tous les actifs).")
        parser.add_argument("--force", action="store_true", help="Produit de nouveau un classeur définitif.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, quarter: str | None, creditor: str | None, force: bool, as_json: bool, **options):
        try:
            period = quarter_parse(quarter) if quarter else last_complete_quarter()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if creditor:
            creditors = list(Creditor.objects.filter(slug=creditor))
            if not creditors:
                raise CommandError(f"Créancier inconnu : « {creditor} ».")
        else:
            creditors = list(Creditor.objects.filter(is_active=True).order_by("slug"))
        existing = {
            r.creditor_id: r for r in QuarterlyReport.objects.filter(quarter=period.label, creditor__in=creditors)
        }
        rows = []
        for each in creditors:
            report, built = existing.get(each.pk), False
            if report is None or force or not report_is_final(report):
                try:
                    report = quarterly_report_build(
                        creditor=each, quarter=period.label, actor=None, replace_final=force
                    )
                except ApplicationError as exc:
                    raise CommandError(exc.message) from exc
                built = True
            rows.append(
                {
                    "creditor": each.slug,
                    "quarter": period.label,
                    "file": report.xlsx.name,
                    "sha256": report.xlsx_sha256,
                    "built": built,
                    "figures": report.summary,
                }
            )
        if as_json:
            payload = {"quarter": period.label, "period": [period.start.isoformat(), period.end.isoformat()]}
            self.stdout.write(json.dumps({**payload, "reports": rows}, ensure_ascii=False))
            return
        self.stdout.write(
            f"Statistiques du {period.title} (du {period.start:%d/%m/%Y} au {period.end:%d/%m/%Y}) : "
            f"{sum(r['built'] for r in rows)} classeur(s) produit(s), {len(rows)} créancier(s)."
        )
        for row in rows:
            state = "produit" if row["built"] else "définitif, déjà produit (--force pour le refaire)"
            self.stdout.write(f"  {row['creditor']} : {row['file']} — {state}, SHA-256 {row['sha256']}")
