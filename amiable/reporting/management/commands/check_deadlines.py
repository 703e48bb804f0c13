"""`manage.py check_deadlines [--date YYYY-MM-DD] [--json] [--dry-run]`: every contract clock (B3) with its
state on the day, and a notice to the people concerned for each clock that became at risk or late (once
per clock and state: a second run tells nothing more). The JSON is streamed, one clock per line.

A --date other than today is a preview and implies --dry-run: recording the notices of a day not come yet
would store states not true yet, and silence the real change when it comes."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amiable.reporting.clocks import KINDS, NOTICE_STATES, STATES, clocks_all, empty_counts, notices_missing
from amiable.reporting.services_clocks import clock_notices_record

CHUNK = 1000


class Command(BaseCommand):
    help = (
        "Calcule l'état de chaque échéance du contrat (certificats, décomptes, réunions, questions, reversements, "
        "factures, restitution des pièces, contestations de surendettement) et prévient une fois les personnes "
        "concernées de celles qui deviennent proches ou en retard. Sans effet si elle est relancée le même jour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            dest="day",
            help="Jour (AAAA-MM-JJ) de l'état ; aujourd'hui par défaut. Un autre jour qu'aujourd'hui est une "
            "simulation (--dry-run) : rien n'est enregistré ni signalé.",
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="Affiche les échéances en JSON.")
        parser.add_argument(
            "--dry-run", action="store_true", dest="dry_run", help="Calcule sans enregistrer ni prévenir."
        )

    def handle(self, *args, day: str | None, as_json: bool, dry_run: bool, **options):
        try:
            on = date.fromisoformat(day) if day else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"Date invalide : « {day} » (attendu AAAA-MM-JJ).") from exc
        previewed = on != timezone.localdate()
        dry_run = dry_run or previewed
        counts = empty_counts()
        to_notice, pending = [], []
        if as_json:
            self.stdout.write(f'{{"date": {json.dumps(on.isoformat())}, "clocks": [')
        first = True
        for clock in clocks_all(day=on):
            counts[clock.kind][clock.state] += 1
            if as_json:
                line = json.dumps(clock.as_json(), ensure_ascii=False)
                self.stdout.write(line if first else f",{line}")
                first = False
            if clock.state in NOTICE_STATES:
                pending.append(clock)
                if len(pending) >= CHUNK:
                    # Only the clocks not yet noticed are kept: after the first run, a few a day.
                    to_notice += notices_missing(pending)
                    pending = []
        to_notice += notices_missing(pending)
        run = None if dry_run else clock_notices_record(clocks=to_notice, day=on, actor=None)
        if as_json:
            self.stdout.write(f'], "counts": {json.dumps(counts)}}}')
            return
        self.stdout.write(f"Échéances du contrat au {on:%d/%m/%Y} :")
        for kind, label in KINDS.items():
            states = ", ".join(f"{STATES[s].lower()} {n}" for s, n in counts[kind].items() if n)
            self.stdout.write(f"  {label} : {states or 'aucune'}")
        if dry_run:
            why = " (--date autre qu'aujourd'hui)" if previewed else ""
            self.stdout.write(f"Simulation{why} — {len(to_notice)} échéance(s) à signaler, rien n'est enregistré.")
        else:
            self.stdout.write(f"{run.notices} échéance(s) signalée(s) à {run.people} personne(s).")
