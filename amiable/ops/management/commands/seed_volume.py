"""`manage.py seed_volume --cases N [--creditors K] [--seed S] [--append]`: believable volume for the benchmarks
(`amiable.ops.volume`). Refused under the production settings, and on a database that already holds cases
unless `--append` says so."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from amiable.cases.models import Case
from amiable.ops.bench import Measure, record
from amiable.ops.volume import OTHER_CREDITORS, SPENT, VolumeWriter

PROD_SETTINGS = "config.settings.prod"


class Command(BaseCommand):
    help = "Génère un volume réaliste de dossiers pour les mesures de performance (jamais en production)."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, required=True, help="nombre de dossiers à créer")
        parser.add_argument("--creditors", type=int, default=3, help="nombre de créanciers, CPAM comprise (3)")
        parser.add_argument("--seed", type=int, default=13, help="graine du tirage : même graine, mêmes données")
        parser.add_argument(
            "--append", action="store_true", help="ajoute aux dossiers existants au lieu de refuser une base non vide"
        )

    def handle(self, *args, cases: int, creditors: int, seed: int, append: bool, **options):
        if settings.SETTINGS_MODULE == PROD_SETTINGS:
            raise CommandError(
                "seed_volume est refusé avec les réglages de production : il écrit des débiteurs fictifs en masse. "
                "Lancez-le sur une base jetable (config.settings.dev)."
            )
        if cases < 1:
            raise CommandError("Indiquez au moins 1 dossier (--cases).")
        if not 1 <= creditors <= len(OTHER_CREDITORS) + 1:
            raise CommandError(f"Le nombre de créanciers va de 1 à {len(OTHER_CREDITORS) + 1}.")
        if not append and Case.objects.exists():
            raise CommandError(
                "La base contient déjà des dossiers : seed_volume remplit une base vide. "
                "Ajoutez --append pour compléter celle-ci."
            )
        self.verbosity = options["verbosity"]
        writer = VolumeWriter(cases=cases, creditors=creditors, seed=seed, progress=self._progress)
        summary = writer.run()
        counts = ", ".join(f"{name} {count}" for name, count in summary.counts.items())
        if self.verbosity >= 2:
            spent = sorted(SPENT.items(), key=lambda item: -item[1])
            self.stderr.write("Écriture : " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent))
        self.stdout.write(f"Volume écrit en {summary.seconds:.1f} s : {counts}.")
        measure = Measure(
            name="volume.seed",
            label=f"Génération du volume ({cases} dossiers, seed_volume)",
            value=summary.seconds,
            unit="s",
            extra={"database": connection.vendor, **summary.counts},
        )
        record([measure], write=self.stdout.write)

    def _progress(self, text: str) -> None:
        if self.verbosity >= 2:
            self.stderr.write(text)
