"""`manage.py bench_quarterly [--cases N] [--small M] [--quarter 2026-Q3] [--creditor SLUG] [--explain]`: the
quarterly workbook (C41) of the creditor with the most cases, built by `quarterly_report_build` as the daily
run builds it, timed beside a floor measured in the same run (DESIGN: ≤ 60 s at 1,000,000 cases, flat memory).
Used by `make bench-quarterly` on a throw-away PostgreSQL; never run by the tests (the build's query count is
guarded in tests/reporting/test_quarterly.py).

The data: what is in the database (`seed_volume`) when the creditor holds N cases already; otherwise the
command adds, by set-based SQL on PostgreSQL, what the workbook reads — cases received over three years up
to the quarter's end, a third of them paid in part or in full (the payments before the quarter's last month
invoiced, as the monthly run leaves them), half of them with an action, one in fifty with a plan — first up
to M cases (the workbook is built and measured there), then up to N. The two builds' peak memory show whether
memory grows with the cases.

The floor is a bare streaming read (server-side cursor, no Python work but the fetch) of the rows the
figures aggregate — the creditor's cases and their allocations up to the quarter's end — with the same
filters as the figures: what reading the data costs at least, before any GROUP BY or workbook."""

import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from amiable.accounts.models import Role
from amiable.cases.models import Case, Debtor
from amiable.core.money import format_count
from amiable.creditors.models import Creditor, Structure
from amiable.ops.bench import Measure, peak_memory_mb, record
from amiable.reporting import services_quarterly
from amiable.reporting.quarterly import _allocations, last_complete_quarter, quarter_parse

# DESIGN: the quarterly workbook at 1,000,000 cases in ≤ 60 s, in flat memory. The bound on memory is the
# intake's (300 Mo): the workbook holds aggregates, never a row per case.
LIMIT_S = 60.0
PEAK_LIMIT_MB = 300.0
# The build at M cases and at N cases may differ by this much peak memory and still be « flat ».
FLAT_GROWTH_MB = 30.0
FILL_PREFIX = "VOLQ-"
DAYS_SPREAD = 3 * 365  # cases received over three years up to the quarter's end


def _rss_mb() -> float:
    """The process's current resident memory (Linux `/proc/self/statm`, in pages)."""
    import resource

    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


@contextmanager
def _timers(spent: dict[str, float]):
    """Time the figures (SQL) and the workbook (openpyxl) inside the real build, by wrapping for the run
    only the two functions `quarterly_report_build` calls."""
    saved = []
    for name, key in (("quarterly_figures", "figures_s"), ("quarterly_xlsx", "xlsx_s")):
        original = getattr(services_quarterly, name)

        def timed(*args, _original=original, _key=key, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_key] += time.perf_counter() - start

        saved.append((name, original))
        setattr(services_quarterly, name, timed)
    try:
        yield
    finally:
        for name, original in saved:
            setattr(services_quarterly, name, original)


@contextmanager
def _query_log(log: list):
    """Every query of the build with its time, to find and EXPLAIN the heavy ones."""

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((time.perf_counter() - start, sql, params))

    with connection.execute_wrapper(wrapper):
        yield


class Command(BaseCommand):
    help = "Mesure la production du classeur trimestriel d'un créancier d'un million de dossiers."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=1_000_000)
        parser.add_argument("--small", type=int, default=100_000, help="première mesure, pour la mémoire")
        parser.add_argument("--quarter", help="par défaut le dernier trimestre terminé")
        parser.add_argument("--creditor", help="par défaut le créancier qui a le plus de dossiers")
        parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE des requêtes les plus lourdes")

    def handle(self, *args, cases: int, small: int, quarter: str | None, creditor: str | None, explain, **opts):
        period = quarter_parse(quarter) if quarter else last_complete_quarter()
        creditor_obj = self._creditor(creditor)
        have = Case.objects.filter(creditor=creditor_obj).count()
        runs = []
        if have < cases:
            if connection.vendor != "postgresql":
                raise CommandError(
                    f"{have} dossiers pour {cases} demandés : le remplissage est en SQL PostgreSQL "
                    "(ou lancez seed_volume d'abord)."
                )
            for target in sorted({min(small, cases), cases}):
                if target > have:
                    self._progress(f"Remplissage jusqu'à {target:,} dossiers…")
                    start = time.perf_counter()
                    self._fill(creditor_obj, period, first=have, last=target)
                    have = target
                    self._progress(f"  fait en {time.perf_counter() - start:.0f} s.")
                runs.append(self._measure(creditor_obj, period, cases=target, explain=explain and target == cases))
        else:
            runs.append(self._measure(creditor_obj, period, cases=have, explain=explain))
        self._record(runs)

    def _progress(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()

    def _creditor(self, slug: str | None) -> Creditor:
        if slug:
            found = Creditor.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"Créancier inconnu : « {slug} ».")
            return found
        call_command("seed_reference", stdout=self.stderr)
        return Creditor.objects.annotate(n=Count("cases")).order_by("-n", "pk").first()

    def _measure(self, creditor: Creditor, period, *, cases: int, explain: bool) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE") if connection.vendor == "postgresql" else None
        floor_s, floor_rows = self._floor(creditor, period)
        spent: dict[str, float] = defaultdict(float)
        log: list = []
        rss_before = _rss_mb()
        start, cpu_start = time.perf_counter(), time.process_time()
        with _timers(spent), _query_log(log):
            report = services_quarterly.quarterly_report_build(
                creditor=creditor, quarter=period.label, actor=None, replace_final=True
            )
        build_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        run = {
            "cases": cases,
            "rows_read": floor_rows,
            "floor_s": round(floor_s, 3),
            "build_s": round(build_s, 3),
            "cpu_s": round(cpu_s, 3),
            "figures_s": round(spent["figures_s"], 3),
            "xlsx_s": round(spent["xlsx_s"], 3),
            "queries": len(log),
            "rss_before_mb": round(rss_before),
            "peak_mb": round(peak_memory_mb()),
            "xlsx_bytes": report.xlsx.size,
            "received": report.summary["received"],
        }
        self._progress(
            f"{cases:,} dossiers ({period.label}) : classeur en {build_s:.1f} s ({cpu_s:.1f} s de CPU Python ; "
            f"chiffres {run['figures_s']:.1f} s, "
            f"XLSX {run['xlsx_s']:.2f} s, {len(log)} requêtes) ; plancher {floor_s:.1f} s ({floor_rows:,} lignes) ; "
            f"mémoire {run['rss_before_mb']} Mo avant, pointe {run['peak_mb']} Mo."
        )
        heavy = sorted(log, key=lambda q: q[0], reverse=True)[:6]
        for seconds, sql, _params in heavy:
            self._progress(f"  {seconds:6.2f} s  {' '.join(sql.split())[:160]}")
        if explain and connection.vendor == "postgresql":
            for seconds, sql, params in heavy[:4]:
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                self.stdout.write(f"-- {seconds:.2f} s\n{sql}\n{plan}\n")
        return run

    def _floor(self, creditor: Creditor, period) -> tuple[float, int]:
        """Stream the case rows and the allocation rows the figures read, with their filters, and drop them."""
        cases = Case.objects.filter(creditor=creditor, received_on__lte=period.end).values_list(
            "structure_id", "status", "received_on", "claimed_amount"
        )
        allocations = _allocations(creditor=creditor, end=period.end).values_list(
            "case__structure_id", "case__received_on", "on", "amount"
        )
        best, rows = None, 0
        for _ in range(2):
            start, rows = time.perf_counter(), 0
            with transaction.atomic():  # a server-side cursor on PostgreSQL lives in a transaction
                for query in (cases, allocations):
                    for _row in query.iterator(chunk_size=10_000):
                        rows += 1
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        return best, rows

    def _record(self, runs: list[dict]) -> None:
        big = runs[-1]
        extra = {k: big[k] for k in ("cases", "rows_read", "figures_s", "xlsx_s", "queries", "xlsx_bytes")}
        measures = [
            Measure(
                name="reports.quarterly",
                label=f"Classeur trimestriel ({format_count(big['cases'])} dossiers)",
                value=big["build_s"],
                unit="s",
                floor=big["floor_s"],
                limit=LIMIT_S,
                extra=extra,
            ),
            Measure(
                name="reports.quarterly_peak_memory",
                label="Classeur trimestriel : mémoire de pointe",
                value=big["peak_mb"],
                unit="Mo",
                limit=PEAK_LIMIT_MB,
                extra={"rss_before_mb": big["rss_before_mb"]},
            ),
        ]
        if len(runs) > 1:
            small = runs[0]
            # The peak is the process's, never lower: the second build adds to it only what it needs more.
            measures.append(
                Measure(
                    name="reports.quarterly_memory_growth",
                    label=(
                        f"Classeur trimestriel : pointe à {format_count(big['cases'])} "
                        f"moins pointe à {format_count(small['cases'])} dossiers"
                    ),
                    value=big["peak_mb"] - small["peak_mb"],
                    unit="Mo",
                    limit=FLAT_GROWTH_MB,
                    extra={"small": small, "big": big},
                )
            )
        record(measures, write=self.stdout.write)

    # --- the fill (PostgreSQL) -------------------------------------------------------------------------------

    @transaction.atomic
    def _fill(self, creditor: Creditor, period, *, first: int, last: int) -> None:
        """Cases `first`…`last - 1` of the fill, with their debtors, payments, allocations, actions and plans,
        in a handful of INSERT … SELECT over `generate_series`: a few seconds per 100,000 cases."""
        structures = list(Structure.objects.filter(creditor=creditor).order_by("pk").values_list("pk", flat=True))
        if not structures:
            raise CommandError(f"{creditor} n'a pas de structure.")
        agent = get_user_model().objects.order_by("pk").first() or get_user_model().objects.create_user(
            "bench-trimestre@amiable.example", role=Role.AGENT, first_name="Banc", last_name="Trimestre"
        )
        after = Case.objects.aggregate(last=Max("pk"))["last"] or 0
        debtors_after = Debtor.objects.aggregate(last=Max("pk"))["last"] or 0
        end = period.end
        start_day = end - timedelta(days=DAYS_SPREAD - 1)
        now = timezone.now()
        lo, hi = first + 1, last
        statuses = ["new", "in_progress", "payment_plan", "suspended", "paid", "recalled", "irrecoverable", "closed"]
        sql = [
            # One debtor per case, its number in `first_name` to find it back below.
            (
                """INSERT INTO cases_debtor (civility, last_name, first_name, birth_date, do_not_contact, created_at,
                       search_name)
                   SELECT '', 'VOLUME', n::text, NULL, false, %(now)s, 'volume ' || n
                   FROM generate_series(%(lo)s, %(hi)s) AS n""",
                {},
            ),
            (
                """INSERT INTO cases_case (reference, creditor_id, structure_id, debtor_id, initial_amount,
                       principal_amount, interest_amount, other_amount, paid_amount, claim_date, basis, received_on,
                       acknowledged_on, certificate_due_on, assigned_agent_id, status, status_changed_at,
                       recalled_at, created_at)
                   SELECT %(prefix)s || d.first_name, %(creditor)s, (%(structures)s::bigint[])[1 + n %% %(k)s], d.id,
                          a.amount, a.amount, 0, 0,
                          CASE WHEN n %% 9 = 0 THEN a.amount WHEN n %% 3 = 0 THEN round(a.amount / 3, 2) ELSE 0 END,
                          r.day - 30, '', r.day, r.day, (r.day + interval '12 months')::date, NULL,
                          (%(statuses)s::text[])[1 + n %% 8], NULL, NULL, %(now)s
                   FROM cases_debtor d
                   CROSS JOIN LATERAL (SELECT d.first_name::int AS n) AS x
                   CROSS JOIN LATERAL (SELECT (20 + (n * 37) %% 1980)::numeric(12, 2) AS amount) AS a
                   CROSS JOIN LATERAL (SELECT %(start)s::date + ((n::bigint * 7919) %% %(spread)s)::int AS day) AS r
                   WHERE d.id > %(debtors_after)s""",
                {},
            ),
            # A payment on one case in three (in full on one in nine), collected a while after receipt.
            (
                """INSERT INTO payments_payment (case_id, method, amount, collected_on, reference, cash_reason, source,
                       key, promise_id, recorded_by_id, recorded_at)
                   SELECT c.id, 'transfer', c.paid_amount, LEAST(c.received_on + (c.id %% 200)::int, %(end)s), '', '',
                          'agent', NULL, NULL, NULL, %(now)s
                   FROM cases_case c
                   WHERE c.creditor_id = %(creditor)s AND c.paid_amount > 0
                     AND c.id > %(after)s""",
                {},
            ),
            (
                """INSERT INTO payments_allocation (case_id, component, amount, payment_id, reversal_id, refund_id)
                   SELECT p.case_id, 'principal', p.amount, p.id, NULL, NULL
                   FROM payments_payment p JOIN cases_case c ON c.id = p.case_id
                   WHERE c.creditor_id = %(creditor)s AND c.id > %(after)s""",
                {},
            ),
            # An action on one case in two, by each channel in turn, within 40 days of receipt.
            (
                """INSERT INTO cases_action (case_id, channel, at, actor_id, summary)
                   SELECT c.id, (ARRAY['letter', 'email', 'sms', 'call'])[1 + c.id %% 4],
                          (c.received_on + (c.id %% 40)::int + time '10:00')::timestamp
                              AT TIME ZONE 'Europe/Paris',
                          NULL, 'Relance'
                   FROM cases_case c
                   WHERE c.creditor_id = %(creditor)s AND c.id %% 2 = 0
                     AND c.id > %(after)s""",
                {},
            ),
            # A plan on one case in fifty: granted, then honoured, broken or running.
            (
                """INSERT INTO payments_plan (number, case_id, status, total, rhythm, months, approval_id,
                       proposed_by_id, proposed_at, granted_at, ended_at, missed_count, pdf, sha256, address_lines,
                       emailed_to, printed_on)
                   SELECT 'PA-V-' || c.id, c.id, s.status, c.principal_amount, 'monthly', 6, NULL, %(agent)s, g.at,
                          g.at, CASE WHEN s.status = 'active' THEN NULL ELSE g.at + interval '120 days' END, 0, '', '',
                          '[]'::jsonb, '', NULL
                   FROM cases_case c
                   CROSS JOIN LATERAL (SELECT (ARRAY['active', 'completed', 'broken'])[1 + (c.id / 50) %% 3]
                                       AS status) AS s
                   CROSS JOIN LATERAL (SELECT (c.received_on + 20)::timestamp AT TIME ZONE 'Europe/Paris' AS at) AS g
                   WHERE c.creditor_id = %(creditor)s AND c.id %% 50 = 0
                     AND c.id > %(after)s""",
                {},
            ),
            # Commissions are invoiced every month (C23): every payment collected before the quarter's last month
            # is on its structure's invoice of its month, as the monthly run leaves it; the last month waits.
            (
                """INSERT INTO invoicing_invoice (number, kind, creditor_id, structure_id, period_start, period_end,
                       issued_on, due_on, credited_id, commission_rate, vat_rate, base, commission, vat, total, status,
                       pdf, sha256, emailed_to, emailed_at, paid_on, created_at)
                   SELECT 'FV-VOL-' || s.id || '-' || to_char(m, 'YYYY-MM'), 'invoice', s.creditor_id, s.id, m::date,
                          (m + interval '1 month - 1 day')::date, (m + interval '1 month 5 days')::date,
                          (m + interval '2 months')::date, NULL, 0.1, 0.2, 0, 0, 0, 0, 'prepared', '', '', '', NULL,
                          NULL, %(now)s
                   FROM creditors_structure s
                   CROSS JOIN generate_series(date_trunc('month', %(start)s::date),
                                              %(invoiced_until)s::date - interval '1 month', interval '1 month') AS m
                   WHERE s.creditor_id = %(creditor)s
                   ON CONFLICT DO NOTHING""",
                {},
            ),
            (
                """INSERT INTO invoicing_invoiceline (invoice_id, case_id, base, commission)
                   SELECT i.id, p.case_id, SUM(p.amount), 0
                   FROM payments_payment p
                   JOIN cases_case c ON c.id = p.case_id
                   JOIN invoicing_invoice i ON i.structure_id = c.structure_id AND i.kind = 'invoice'
                        AND i.period_start = date_trunc('month', p.collected_on)::date
                   WHERE c.id > %(after)s AND p.collected_on < %(invoiced_until)s
                   GROUP BY i.id, p.case_id""",
                {},
            ),
            (
                """INSERT INTO invoicing_invoiceditem (line_id, payment_id, is_credit, base)
                   SELECT l.id, p.id, false, p.amount
                   FROM payments_payment p
                   JOIN cases_case c ON c.id = p.case_id
                   JOIN invoicing_invoice i ON i.structure_id = c.structure_id AND i.kind = 'invoice'
                        AND i.period_start = date_trunc('month', p.collected_on)::date
                   JOIN invoicing_invoiceline l ON l.invoice_id = i.id AND l.case_id = p.case_id
                   WHERE c.id > %(after)s AND p.collected_on < %(invoiced_until)s""",
                {},
            ),
        ]
        params = {
            "invoiced_until": end.replace(day=1),
            "now": now,
            "lo": lo,
            "hi": hi,
            "prefix": FILL_PREFIX,
            "creditor": creditor.pk,
            "structures": structures,
            "k": len(structures),
            "statuses": statuses,
            "start": start_day,
            "spread": DAYS_SPREAD,
            "end": end,
            "agent": agent.pk,
            "after": after,
            "debtors_after": debtors_after,
        }
        with connection.cursor() as cursor:
            for statement, more in sql:
                cursor.execute(statement, {**params, **more})
