"""`manage.py print_batch [--date YYYY-MM-DD] [--dry-run]`: the day's letters in one PDF for the printer,
with its CSV manifest, followed by the documents waiting for the post (receipts not sent by e-mail); each
is printed once, so running it twice prints nothing twice."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.storage import storage_location
from amiable.letters.print_batch import print_batch_build, print_pending
from amiable.letters.printables import printables_pending_numbers


class Command(BaseCommand):
    help = (
        "Rassemble les courriers émis jusqu'à ce jour et pas encore imprimés en un PDF unique, avec son bordereau CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="Jour de l'impression (AAAA-MM-JJ), par défaut aujourd'hui.")
        parser.add_argument("--dry-run", action="store_true", help="Montre ce qui serait imprimé, sans rien faire.")

    def handle(self, *args, day: str | None, dry_run: bool, **options):
        try:
            on = date.fromisoformat(day) if day else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu AAAA-MM-JJ).") from exc
        if dry_run:
            numbers = list(print_pending(day=on).values_list("number", flat=True))
            numbers += printables_pending_numbers(day=on)
            self.stdout.write(f"Simulation — {format_date(on)} : {len(numbers)} courrier(s) à imprimer.")
            for number in numbers:
                self.stdout.write(f"  {number}")
            return
        try:
            run = print_batch_build(day=on, actor=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for line in run.withheld:
            self.stdout.write(f"  {line}")
        if not run.numbers:
            self.stdout.write(f"Aucun nouveau courrier à imprimer pour le {format_date(on)}.")
            return
        self.stdout.write(
            f"Impression du {format_date(on)} : {len(run.numbers)} courrier(s), {run.pages} page(s).\n"
            f"PDF : {storage_location(run.pdf_name)}\n"
            f"Bordereau : {storage_location(run.manifest_name)}"
        )
