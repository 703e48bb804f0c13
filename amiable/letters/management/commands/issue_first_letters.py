"""`manage.py issue_first_letters [--creditor SLUG] [--workers N] [--limit N]`: the first letter of every case
being recovered that has none yet, acknowledged to its creditor, issued in bulk (rendered in parallel, numbered
in the order of the cases). Running it twice issues nothing twice."""

from django.core.management.base import BaseCommand, CommandError

from amiable.cases.models import Case, CaseStatus
from amiable.creditors.models import Creditor
from amiable.letters.models import Letter, LetterKind
from amiable.letters.services_bulk import letters_issue_first


class Command(BaseCommand):
    help = "Émet en une fois les premières lettres des dossiers qui n'en ont pas encore."

    def add_arguments(self, parser):
        parser.add_argument("--creditor", help="Identifiant (slug) du créancier ; par défaut tous.")
        parser.add_argument("--workers", type=int, default=None, help="Processus de rendu (par défaut : un par cœur).")
        parser.add_argument("--limit", type=int, default=None, help="Au plus ce nombre de lettres.")

    def handle(self, *args, creditor: str | None, workers: int | None, limit: int | None, **options):
        cases = Case.objects.filter(
            status__in=CaseStatus.CONTACTABLE, acknowledged_on__isnull=False, balance__gt=0
        ).exclude(pk__in=Letter.objects.filter(kind=LetterKind.FIRST).values("case_id"))
        if creditor:
            found = Creditor.objects.filter(slug=creditor).first()
            if found is None:
                raise CommandError(f"Créancier inconnu : « {creditor} ».")
            cases = cases.filter(creditor=found)
        ids = list(cases.order_by("pk").values_list("pk", flat=True)[:limit])
        report = letters_issue_first(cases=ids, actor=None, workers=workers)
        numbers = [letter.number for letter in report.letters]
        span = f" ({numbers[0]} à {numbers[-1]})" if numbers else ""
        self.stdout.write(f"{len(numbers)} première(s) lettre(s) émise(s){span}.")
        if report.skipped:
            self.stdout.write(f"{len(report.skipped)} dossier(s) déjà pourvu(s) de leur première lettre.")
        for reference, reason in report.refused.items():
            self.stdout.write(f"Refusé — {reference} : {reason}")
