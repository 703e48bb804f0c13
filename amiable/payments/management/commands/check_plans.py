"""`manage.py check_plans [--date YYYY-MM-DD] [--json]`: the day's follow-up of the payment plans (idempotent)."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amiable.payments.plans import plans_check


class Command(BaseCommand):
    help = (
        "Suit les plans d'apurement : signale les échéances impayées après le délai de grâce, envoie un rappel au "
        "débiteur par échéance, rompt les plans après le nombre d'échéances impayées du contrat. Sans effet si elle "
        "est relancée le même jour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="Jour à traiter (AAAA-MM-JJ), par défaut aujourd'hui.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche le résultat en JSON.")

    def handle(self, *args, day: str | None, as_json: bool, **options):
        try:
            on = date.fromisoformat(day) if day else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu AAAA-MM-JJ).") from exc
        report = plans_check(today=on)
        if as_json:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        self.stdout.write(
            f"{on:%d/%m/%Y} : {report.missed} échéance(s) de plan impayée(s), {report.reminded} rappel(s) envoyé(s), "
            f"{report.reminder_tasks} confié(s) au gestionnaire, {report.deferred} reporté(s), {report.broken} plan(s) "
            f"rompu(s), {report.cancelled} annulé(s)."
        )
        for line in report.errors:
            self.stdout.write(f"  {line}")
