"""`manage.py refresh_statistics [--creditor SLUG] [--date AAAA-MM-JJ]`: the figures of the home dashboards,
recomputed per creditor (one transaction each; safe to run at any time, each run replaces the last)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from amiable.creditors.models import Creditor
from amiable.reporting.services_rollup import stats_refresh


class Command(BaseCommand):
    help = (
        "Recalcule les chiffres des tableaux de bord (recouvré par mois, taux de recouvrement par cohorte, par "
        "structure et par canal, dossiers par ancienneté) de chaque créancier actif, ou du seul créancier nommé."
    )

    def add_arguments(self, parser):
        parser.add_argument("--creditor", dest="creditor", help="Identifiant (slug) du créancier.")
        parser.add_argument("--date", dest="day", help="Date de calcul (AAAA-MM-JJ), par défaut aujourd'hui.")

    def handle(self, *args, creditor: str | None, day: str | None, **options):
        try:
            today = date.fromisoformat(day) if day else None
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu : AAAA-MM-JJ).") from exc
        creditors = Creditor.objects.filter(is_active=True).order_by("slug", "pk")
        if creditor:
            creditors = Creditor.objects.filter(slug=creditor)
            if not creditors.exists():
                raise CommandError(f"Créancier inconnu : « {creditor} ».")
        for one in creditors:
            count = stats_refresh(creditor=one, today=today, actor=None)
            self.stdout.write(f"{one.slug} : {count} agrégat(s) recalculé(s).")
