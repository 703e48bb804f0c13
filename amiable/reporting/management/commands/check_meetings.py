"""`manage.py check_meetings [--date AAAA-MM-JJ]`: plans the follow-up meetings of each contract (1 month,
3 months, then every six months from its start) and, a week before each, builds its pack and reminds both
sides, once. Safe to run twice a day or again after a crash."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from amiable.reporting.services_meetings import meetings_check


class Command(BaseCommand):
    help = (
        "Planifie les réunions de suivi des contrats (à 1 mois, 3 mois puis chaque semestre depuis leur début) et, "
        "7 jours avant chacune, produit son dossier de séance et prévient l'agence et le créancier, une seule fois."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="Date du jour (AAAA-MM-JJ), par défaut aujourd'hui.")

    def handle(self, *args, day: str | None, **options):
        try:
            today = date.fromisoformat(day) if day else None
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu : AAAA-MM-JJ).") from exc
        run = meetings_check(today=today, actor=None)
        self.stdout.write(
            f"{run.today:%d/%m/%Y} : {len(run.planned)} réunion(s) planifiée(s), "
            f"{len(run.reminded)} rappel(s) envoyé(s)."
        )
        for meeting in run.planned:
            self.stdout.write(f"  planifiée : {meeting.creditor.slug} — {meeting.label} le {meeting.due_on:%d/%m/%Y}")
        for meeting in run.reminded:
            self.stdout.write(f"  rappel : {meeting.creditor.slug} — {meeting.label} le {meeting.due_on:%d/%m/%Y}")
        if run.failures:
            raise CommandError("Non terminé (la prochaine exécution reprendra) : " + " ; ".join(run.failures))
