"""`manage.py bench_pages [--runs R]`: the server time (median of R runs after a warm-up) and the query count of
the pages each role opens most, on a database filled by `seed_volume`, beside the floor — a bare view behind
the same middleware, measured in the same run (`amiable.ops.bench_urls`). Target (issue 13): ≤ 100 ms each.

Run with production-like settings: `config.settings.dev` with `DJANGO_DEBUG=false` (no SQL logging, no debug
pages), as `make bench` does; the test client calls the handler directly, so no network time is counted."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from amiable.cases.models import Case
from amiable.ops import pages
from amiable.ops.bench import Measure, record

LIMIT_MS = 100


class Command(BaseCommand):
    help = "Mesure le temps serveur et le nombre de requêtes des pages principales (base remplie par seed_volume)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=7, help="mesures par page après un premier appel (7)")

    def handle(self, *args, runs: int, **options):
        if runs < 1:
            raise CommandError("Il faut au moins une mesure par page (--runs).")
        if settings.DEBUG:
            self.stderr.write("Attention : DEBUG est actif, les temps sont faussés (DJANGO_DEBUG=false).")
        if not Case.objects.exists():
            raise CommandError("La base ne contient aucun dossier : lancez d'abord seed_volume --cases N.")
        try:
            users = pages.people()
        except KeyError as exc:
            raise CommandError(
                f"Compte du banc introuvable ({exc}) : la base n'a pas été remplie par seed_volume."
            ) from exc
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        with override_settings(ROOT_URLCONF=pages.BENCH_URLCONF, ALLOWED_HOSTS=hosts):
            cases = Case.objects.count()
            clients = pages.clients(users)
            planned = pages.plan(users)
            floor = pages.measure(clients["agent"], pages.floor_url(), runs=runs)
            measures = [
                Measure(
                    name="pages.floor",
                    label="Plancher : vue nue derrière les mêmes middlewares",
                    value=floor.median_ms,
                    unit="ms",
                    extra={"queries": floor.queries},
                )
            ]
            for page in planned:
                result = pages.measure(clients[page.role], page.url, runs=runs)
                if result.status != 200:
                    raise CommandError(f"{page.label} ({page.url}) : réponse {result.status} au lieu de 200.")
                measures.append(
                    Measure(
                        name=f"pages.{page.name}",
                        label=page.label,
                        value=result.median_ms,
                        unit="ms",
                        floor=floor.median_ms,
                        limit=LIMIT_MS,
                        extra={"queries": result.queries, "url": page.url, "runs": result.runs, "cases": cases},
                    )
                )
                self.stdout.write(f"  {page.url} — {result.queries} requêtes SQL, {result.runs} mesure(s)")
        record(measures, write=self.stdout.write)
