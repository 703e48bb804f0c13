"""The quarterly statistics of a creditor (C41): the figures, read by SQL aggregates, and the XLSX workbook.

Every figure is a GROUP BY over structure, month, status or channel: the number of queries is the same
whatever the number of cases, and nothing loops over cases in Python, so that a build stays fast and flat
in memory at a million cases. What each figure means is in `DEFINITIONS` (the workbook's « Lisez-moi »
sheet) and in docs/statistics.md.

Reading rule: the money is read from the allocations of the payments and of their reversals, dated by
the payment's collection and the reversal's date, so that the amounts of a quarter are those at its end
even when the workbook is built later. The statuses, and which payments held (a payment reversed since
no longer counts), are read at the time of the build."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Count, DateField, Exists, F, Func, IntegerField, Max, Min, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference, Series
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from amiable.cases.models import Action, Case, CaseStatus, Channel
from amiable.closure.models import Certificate, IrrecoverableReason
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, to_money
from amiable.core.spreadsheets import MONEY_FORMAT, neutralise
from amiable.creditors.models import Structure
from amiable.payments.models import Allocation, Component, Payment, Plan, PlanStatus
from amiable.reporting.clocks import KINDS as CLOCK_KINDS
from amiable.reporting.clocks import ROW_KINDS, clock_counts

# --- the quarter ------------------------------------------------------------------------------------------

_QUARTER = re.compile(r"^(\d{4})-[QT]([1-4])$")
# A payment « within 30 days » of an action yields it (see DEFINITIONS).
YIELD_DAYS = 30
# The bar chart of the money recovered per month covers this many months, ending with the quarter's last.
MONTHS_SHOWN = 12
# The line chart of the cohorts shows the most recent months of receipt (the table holds them all).
COHORTS_CHARTED = 12


@dataclass(frozen=True)
class Quarter:
    label: str  # « 2026-Q3 »
    start: date
    end: date

    @property
    def title(self) -> str:
        number = int(self.label[-1])
        return f"{number}{'er' if number == 1 else 'e'} trimestre {self.start.year}"


def quarter_parse(text: str) -> Quarter:
    """« 2026-Q3 » (or « 2026-T3 ») as its first and last days; a French refusal for anything else."""
    match = _QUARTER.match((text or "").strip().upper())
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise ApplicationError(f"Trimestre invalide : « {text} » (attendu AAAA-Qn, par exemple 2026-Q3).")
    year, number = int(match.group(1)), int(match.group(2))
    first_month = 3 * (number - 1) + 1
    start = date(year, first_month, 1)
    end = (date(year + 1, 1, 1) if number == 4 else date(year, first_month + 3, 1)) - timedelta(days=1)
    return Quarter(label=f"{year}-Q{number}", start=start, end=end)


def quarter_of_day(day: date) -> Quarter:
    return quarter_parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def last_complete_quarter(today: date | None = None) -> Quarter:
    """The quarter before the one `today` is in: what the run after each quarter builds."""
    current = quarter_of_day(today or timezone.localdate())
    return quarter_of_day(current.start - timedelta(days=1))


def report_is_final(report) -> bool:
    """A stored workbook built after its quarter's last day covers the whole quarter: final. One built
    before is partial (its figures stop at the day it was built)."""
    return timezone.localdate(report.built_at) > report.period_end


def recent_quarters(*, today: date | None = None, since: date | None = None, count: int = 8) -> list[Quarter]:
    """The quarter in progress and those before it, most recent first: from `since`'s quarter (the
    contract's start) when given, at most `count` of them."""
    quarter = quarter_of_day(today or timezone.localdate())
    result = [quarter]
    while len(result) < count:
        quarter = quarter_of_day(quarter.start - timedelta(days=1))
        if since is not None and quarter.end < since:
            break
        result.append(quarter)
    return result


# --- SQL helpers --------------------------------------------------------------------------------------------


class DaysBetween(Func):
    """Whole days from the second date to the first, in SQL, on SQLite and on PostgreSQL."""

    arity = 2
    output_field = IntegerField()
    template = "(%(expressions)s)"
    arg_joiner = " - "  # PostgreSQL: date - date is a number of days

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND(julianday(%(expressions)s)) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _aware(day: date):
    """Midnight in Paris of `day`: the bounds of a quarter for the columns that hold a date and time."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _movement_day():
    """The date of an allocation: that of its payment, reversal or refund."""
    return Coalesce("payment__collected_on", "reversal__reversed_on", "refund__refunded_on", output_field=DateField())


def _money(value) -> Decimal:
    return to_money(value if value is not None else ZERO)  # SQLite sums decimals in floating point


def _ratio(part, whole) -> Decimal | None:
    """`part` ÷ `whole` to four places (a percentage to one decimal once formatted), None without a whole."""
    whole = Decimal(whole or 0)
    if whole <= 0:
        return None
    return (Decimal(part or 0) / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _one_place(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _percent(ratio: Decimal | None) -> str | None:
    """A ratio as a percentage to one decimal, for JSON: « 33.3 »."""
    return None if ratio is None else f"{ratio * 100:.1f}"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_day(value) -> date:
    """A truncated month as SQLite and PostgreSQL give it back (a date, or a datetime on some backends)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


# --- the figures ----------------------------------------------------------------------------------------------

TOTAL = None  # the key of the creditor's total beside the structures' pks


@dataclass
class Delay:
    count: int = 0
    median: Decimal | None = None
    mean: Decimal | None = None


@dataclass
class Money:
    """Cases and amounts of one structure (or of the total)."""

    received_q: int = 0
    received_amount_q: Decimal = ZERO
    received: int = 0
    received_amount: Decimal = ZERO
    recovered_q: Decimal = ZERO
    recovered: Decimal = ZERO
    full_q: int = 0
    full: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.received_amount - self.recovered

    @property
    def rate_count(self) -> Decimal | None:
        return _ratio(self.full, self.received)

    @property
    def rate_amount(self) -> Decimal | None:
        return _ratio(self.recovered, self.received_amount)


@dataclass
class Cohort:
    month: date
    cases: int
    claimed: Decimal
    shares: list[Decimal]  # cumulated share recovered by the end of M+0, M+1… (months reached only)


@dataclass
class ClockTally:
    """The clocks of one kind due in the quarter, for one structure (or the total): met by their due date,
    missed (done after it), and late (still not done when the workbook is built)."""

    met: int = 0
    missed: int = 0
    late: int = 0

    @property
    def counted(self) -> int:
        return self.met + self.missed + self.late

    @property
    def rate(self) -> Decimal | None:
        return _ratio(self.met, self.counted)


@dataclass
class QuarterlyFigures:
    creditor_name: str
    quarter: Quarter
    structures: list[tuple[int, str, str]]  # (pk, code, name)
    money: dict = field(default_factory=dict)  # structure pk | TOTAL -> Money
    months: list[date] = field(default_factory=list)
    recovered_by_month: dict = field(default_factory=dict)  # (structure pk | TOTAL, month) -> Decimal
    cohorts: dict = field(default_factory=dict)  # structure pk | TOTAL -> [Cohort]
    statuses: dict = field(default_factory=dict)  # (structure pk | TOTAL, status) -> count
    plans: dict = field(default_factory=dict)  # structure pk | TOTAL -> {figure: count}
    certificates: dict = field(default_factory=dict)  # (structure pk | TOTAL, reason) -> (quarter, cumulated)
    first_payment: dict = field(default_factory=dict)  # (structure pk | TOTAL, "quarter"|"all") -> Delay
    full_recovery: dict = field(default_factory=dict)  # (structure pk | TOTAL, "quarter"|"all") -> Delay
    actions: dict = field(default_factory=dict)  # (structure pk | TOTAL, channel) -> {actions, cases, yielded}
    clocks: dict = field(default_factory=dict)  # (kind, structure pk | NO_CASE | TOTAL) -> ClockTally

    @property
    def keys(self) -> list:
        """The structures' pks, then the total."""
        return [pk for pk, _code, _name in self.structures] + [TOTAL]

    def summary(self) -> dict:
        """The key figures of the total, as JSON (the command's output and the stored report's summary)."""
        total = self.money[TOTAL]
        return {
            "received_quarter": total.received_q,
            "received_amount_quarter": f"{total.received_amount_q:.2f}",
            "recovered_quarter": f"{total.recovered_q:.2f}",
            "received": total.received,
            "received_amount": f"{total.received_amount:.2f}",
            "recovered": f"{total.recovered:.2f}",
            "remaining": f"{total.remaining:.2f}",
            "recovered_in_full": total.full,
            "rate_by_count": _percent(total.rate_count),
            "rate_by_amount": _percent(total.rate_amount),
        }


def quarterly_figures(*, creditor, quarter: Quarter, now: datetime | None = None) -> QuarterlyFigures:
    """Every figure of the workbook, for the creditor's structures and in total: a fixed number of
    aggregate queries (about thirty, half of them the clocks), whatever the number of cases."""
    now = now or timezone.now()
    start, end = quarter.start, quarter.end
    figures = QuarterlyFigures(
        creditor_name=creditor.name,
        quarter=quarter,
        structures=list(
            Structure.objects.filter(creditor=creditor).order_by("code", "pk").values_list("pk", "code", "name")
        ),
    )
    cases = Case.objects.filter(creditor=creditor, received_on__lte=end)
    _money_figures(figures, cases=cases, creditor=creditor, start=start, end=end)
    _monthly(figures, creditor=creditor, end=end)
    _cohorts(figures, cases=cases, creditor=creditor, end=end)
    _statuses(figures, cases=cases)
    _plans(figures, creditor=creditor, start=start, end=end)
    _certificates(figures, creditor=creditor, start=start, end=end)
    _actions(figures, creditor=creditor, start=start, end=end)
    _clocks(figures, creditor=creditor, start=start, end=end, now=now)
    return figures


def _allocations(*, creditor, end: date):
    """What was recovered of the claims (the overpayment owed back to the debtor left out), dated, up to `end`."""
    return (
        Allocation.objects.filter(case__creditor=creditor, case__received_on__lte=end)
        .exclude(component=Component.OVERPAYMENT)
        .annotate(on=_movement_day())
        .filter(on__lte=end)
    )


def _add(target: dict, pk, **values) -> None:
    """Add `values` to the row of structure `pk` and to the total's."""
    for k in (pk, TOTAL):
        row = target[k]
        for name, value in values.items():
            setattr(row, name, getattr(row, name) + value)


def _money_figures(figures: QuarterlyFigures, *, cases, creditor, start: date, end: date) -> None:
    money = figures.money = {key: Money() for key in figures.keys}
    in_quarter = Q(received_on__gte=start)
    for row in (
        cases.values("structure_id")
        .annotate(
            n=Count("pk"),
            amount=Sum("claimed_amount"),
            n_q=Count("pk", filter=in_quarter),
            amount_q=Sum("claimed_amount", filter=in_quarter),
        )
        .order_by()
    ):
        _add(
            money,
            row["structure_id"],
            received=row["n"],
            received_amount=_money(row["amount"]),
            received_q=row["n_q"],
            received_amount_q=_money(row["amount_q"]),
        )
    for row in (
        _allocations(creditor=creditor, end=end)
        .values(structure_pk=F("case__structure_id"))
        .annotate(total=Sum("amount"), quarter=Sum("amount", filter=Q(on__gte=start)))
        .order_by()
    ):
        _add(money, row["structure_pk"], recovered=_money(row["total"]), recovered_q=_money(row["quarter"]))
    # Recovered in full: what was recovered of the case by the end reaches its claim; the day is that of the
    # last movement that brought it there.
    full = (
        _allocations(creditor=creditor, end=end)
        .values("case_id")
        .annotate(
            structure_pk=F("case__structure_id"),
            claimed=F("case__claimed_amount"),
            received_day=F("case__received_on"),
            recovered_sum=Sum("amount"),
            done_on=Max("on"),
        )
        .filter(recovered_sum__gte=F("claimed") - Value(Decimal("0.005")))
        .annotate(days=DaysBetween(Max("on"), F("case__received_on")))
        .order_by()
    )
    figures.full_recovery = _delays(full, start=start)
    for key in figures.keys:
        money[key].full = figures.full_recovery.get((key, "all"), Delay()).count
        money[key].full_q = figures.full_recovery.get((key, "quarter"), Delay()).count
    first = (
        Payment.objects.filter(
            case__creditor=creditor, case__received_on__lte=end, reversal__isnull=True, collected_on__lte=end
        )
        .values("case_id")
        .annotate(
            structure_pk=F("case__structure_id"),
            received_day=F("case__received_on"),
            done_on=Min("collected_on"),
            days=DaysBetween(Min("collected_on"), F("case__received_on")),
        )
        .order_by()
    )
    figures.first_payment = _delays(first, start=start)


_DELAYS_SQL = """
WITH d AS ({inner})
SELECT s, q, COUNT(*), AVG(days), AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN days END)
FROM (
    SELECT structure_pk AS s, 0 AS q, days,
           ROW_NUMBER() OVER (PARTITION BY structure_pk ORDER BY days) AS rn,
           COUNT(*) OVER (PARTITION BY structure_pk) AS n
    FROM d
    UNION ALL
    SELECT structure_pk, 1, days,
           ROW_NUMBER() OVER (PARTITION BY structure_pk ORDER BY days),
           COUNT(*) OVER (PARTITION BY structure_pk)
    FROM d WHERE done_on >= %s
    UNION ALL
    SELECT NULL, 0, days, ROW_NUMBER() OVER (ORDER BY days), COUNT(*) OVER () FROM d
    UNION ALL
    SELECT NULL, 1, days, ROW_NUMBER() OVER (ORDER BY days), COUNT(*) OVER () FROM d WHERE done_on >= %s
) r
GROUP BY s, q
"""


def _delays(inner, *, start: date) -> dict:
    """Count, median and mean of `days` per structure and in total, over every row of `inner` (« all ») and
    over those whose `done_on` falls in the quarter (« quarter »): one query. The median is the middle row
    (the mean of the two middle rows for an even count) by window functions, which SQLite and PostgreSQL
    both have: no `percentile_cont`, which SQLite lacks."""
    sql, params = inner.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_DELAYS_SQL.format(inner=sql), [*params, start, start])
        rows = cursor.fetchall()
    return {
        (s, "quarter" if q else "all"): Delay(count=n, mean=_one_place(mean), median=_one_place(median))
        for s, q, n, mean, median in rows
    }


def _monthly(figures: QuarterlyFigures, *, creditor, end: date) -> None:
    last = _month_index(end)
    figures.months = [date((last - k) // 12, (last - k) % 12 + 1, 1) for k in range(MONTHS_SHOWN - 1, -1, -1)]
    figures.recovered_by_month = defaultdict(lambda: ZERO)
    for row in (
        _allocations(creditor=creditor, end=end)
        .filter(on__gte=figures.months[0])
        .values(structure_pk=F("case__structure_id"), month=TruncMonth("on", output_field=DateField()))
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        month, amount = _month_day(row["month"]), _money(row["total"])
        figures.recovered_by_month[(row["structure_pk"], month)] += amount
        figures.recovered_by_month[(TOTAL, month)] += amount


def _cohorts(figures: QuarterlyFigures, *, cases, creditor, end: date) -> None:
    """Per month of receipt: the cases, what they claim, and what was recovered of them in each month since."""
    claimed = {}  # (key, month) -> [cases, claimed]
    for row in (
        cases.values("structure_id", month=TruncMonth("received_on"))
        .annotate(n=Count("pk"), amount=Sum("claimed_amount"))
        .order_by()
    ):
        month = _month_day(row["month"])
        for key in (row["structure_id"], TOTAL):
            entry = claimed.setdefault((key, month), [0, ZERO])
            entry[0] += row["n"]
            entry[1] += _money(row["amount"])
    recovered = defaultdict(lambda: ZERO)  # (key, cohort month, offset) -> amount
    for row in (
        _allocations(creditor=creditor, end=end)
        .values(
            structure_pk=F("case__structure_id"),
            cohort=TruncMonth("case__received_on"),
            month=TruncMonth("on", output_field=DateField()),
        )
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        cohort = _month_day(row["cohort"])
        offset = max(_month_index(_month_day(row["month"])) - _month_index(cohort), 0)
        for key in (row["structure_pk"], TOTAL):
            recovered[(key, cohort, offset)] += _money(row["total"])
    last = _month_index(end)
    figures.cohorts = {key: [] for key in figures.keys}
    for (key, month), (count, amount) in sorted(claimed.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        running, shares = ZERO, []
        for offset in range(last - _month_index(month) + 1):
            running += recovered[(key, month, offset)]
            shares.append(_ratio(running, amount) or Decimal("0.0000"))
        figures.cohorts[key].append(Cohort(month=month, cases=count, claimed=amount, shares=shares))


def _statuses(figures: QuarterlyFigures, *, cases) -> None:
    figures.statuses = defaultdict(int)
    for row in cases.values("structure_id", "status").annotate(n=Count("pk")).order_by():
        figures.statuses[(row["structure_id"], row["status"])] += row["n"]
        figures.statuses[(TOTAL, row["status"])] += row["n"]


PLAN_FIGURES = ("granted_q", "honoured_q", "broken_q", "granted", "honoured", "broken", "running")


def _plans(figures: QuarterlyFigures, *, creditor, start: date, end: date) -> None:
    begin, after = _aware(start), _aware(end + timedelta(days=1))
    in_quarter = Q(ended_at__gte=begin, ended_at__lt=after)
    counts = {
        "granted_q": Count("pk", filter=Q(granted_at__gte=begin, granted_at__lt=after)),
        "granted": Count("pk", filter=Q(granted_at__lt=after)),
        "honoured_q": Count("pk", filter=Q(status=PlanStatus.COMPLETED) & in_quarter),
        "honoured": Count("pk", filter=Q(status=PlanStatus.COMPLETED, ended_at__lt=after)),
        "broken_q": Count("pk", filter=Q(status=PlanStatus.BROKEN) & in_quarter),
        "broken": Count("pk", filter=Q(status=PlanStatus.BROKEN, ended_at__lt=after)),
        "running": Count("pk", filter=Q(status=PlanStatus.ACTIVE)),
    }
    figures.plans = {key: dict.fromkeys(PLAN_FIGURES, 0) for key in figures.keys}
    for row in (
        Plan.objects.filter(case__creditor=creditor, case__received_on__lte=end)
        .values(structure_pk=F("case__structure_id"))
        .annotate(**counts)
        .order_by()
    ):
        for key in (row["structure_pk"], TOTAL):
            for name in PLAN_FIGURES:
                figures.plans[key][name] += row[name]


def _certificates(figures: QuarterlyFigures, *, creditor, start: date, end: date) -> None:
    figures.certificates = defaultdict(lambda: (0, 0))
    for row in (
        Certificate.objects.filter(case__creditor=creditor, revoked_at__isnull=True, issued_on__lte=end)
        .values(structure_pk=F("case__structure_id"), reason_code=F("reason"))
        .annotate(total=Count("pk"), quarter=Count("pk", filter=Q(issued_on__gte=start)))
        .order_by()
    ):
        for key in (row["structure_pk"], TOTAL):
            quarter, total = figures.certificates[(key, row["reason_code"])]
            figures.certificates[(key, row["reason_code"])] = (quarter + row["quarter"], total + row["total"])


def _actions(figures: QuarterlyFigures, *, creditor, start: date, end: date) -> None:
    """Actions of the quarter per channel; their yield is the share of the cases they reached that had a
    payment (one that held) within 30 days after one of them, up to the quarter's end."""
    paid_after = (
        Payment.objects.filter(case_id=OuterRef("case_id"), reversal__isnull=True, collected_on__lte=end)
        .annotate(gap=DaysBetween(F("collected_on"), OuterRef("action_day")))
        .filter(gap__gte=0, gap__lte=YIELD_DAYS)
    )
    figures.actions = defaultdict(lambda: {"actions": 0, "cases": 0, "yielded": 0})
    for row in (
        Action.objects.filter(case__creditor=creditor, at__gte=_aware(start), at__lt=_aware(end + timedelta(days=1)))
        .annotate(action_day=TruncDate("at"), paid=Exists(paid_after))
        .values(structure_pk=F("case__structure_id"), channel_code=F("channel"))
        .annotate(
            n=Count("pk"),
            cases=Count("case_id", distinct=True),
            yielded=Count("case_id", distinct=True, filter=Q(paid=True)),
        )
        .order_by()
    ):
        for key in (row["structure_pk"], TOTAL):
            entry = figures.actions[(key, row["channel_code"])]
            entry["actions"] += row["n"]
            entry["cases"] += row["cases"]  # a case belongs to one structure: the distinct counts add up
            entry["yielded"] += row["yielded"]


# The kinds whose clocks belong to a case: counted per structure (a request on no case apart); the others
# (a week's remittance, a month's invoices) belong to the whole creditor.
CASE_CLOCK_KINDS = frozenset(ROW_KINDS)
REQUEST_CLOCK_KINDS = ("statement", "meeting", "question")
NO_CASE = "no_case"  # the key of a request on no case beside the structures' pks and TOTAL


def _clocks(figures: QuarterlyFigures, *, creditor, start: date, end: date, now: datetime) -> None:
    """Per kind of contract clock, those due in the quarter that were met, missed or are still late when the
    workbook is built, by the rules of the « Échéances » pages (`reporting.clocks.clock_counts`, the same
    counts as the daily rollup: a fixed number of grouped queries). They are counted as on the day after
    the quarter's end (the build's day while the quarter runs): a clock due in the quarter and still open
    is late on that day as on the build's, and the quarter then lies within the 12 months counted, however
    long ago it ended."""
    day = min(timezone.localdate(now), end + timedelta(days=1))
    for (kind, structure, month, state), count in clock_counts(creditor_id=creditor.pk, day=day, at=now).items():
        if not start <= _month_day(month) <= end:
            continue
        keys = [TOTAL]
        if kind in CASE_CLOCK_KINDS:
            keys.append(NO_CASE if structure is None else structure)
        for key in keys:
            tally = figures.clocks.setdefault((kind, key), ClockTally())
            setattr(tally, state, getattr(tally, state) + count)


# --- the workbook ---------------------------------------------------------------------------------------------

RATE_FORMAT = "0.0 %"
DAYS_FORMAT = "0.0"
MONTH_FORMAT = "MM/YYYY"
STATUS_LABELS = dict(CaseStatus.choices)
CHANNEL_LABELS = dict(Channel.choices)
REASON_LABELS = dict(IrrecoverableReason.choices)

# What each figure means: the « Lisez-moi » sheet, in this order (docs/statistics.md says the same).
DEFINITIONS = [
    (
        "Période",
        "Le trimestre civil indiqué. « Trimestre » : ce qui s'est passé entre son premier et son dernier jour. "
        "« Cumul » : ce qui s'est passé depuis la réception du premier dossier jusqu'au dernier jour du trimestre.",
    ),
    (
        "Dossiers reçus, montant reçu",
        "Les dossiers confiés (date de réception) et leur solde réclamé (principal, intérêts et accessoires).",
    ),
    (
        "Recouvré",
        "Les paiements imputés sur la créance (principal, intérêts, accessoires), datés de leur encaissement, "
        "moins les paiements rejetés, datés du rejet ; le trop-perçu dû au débiteur n'est pas compté. Les "
        "paiements directs au créancier sont comptés.",
    ),
    ("Reste dû", "Montant reçu moins recouvré, au dernier jour du trimestre, quel que soit le statut du dossier."),
    (
        "Dossiers recouvrés en totalité",
        "Les dossiers dont le recouvré atteint le montant réclamé ; la date est celle du dernier mouvement qui l'y a "
        "porté. « Trimestre » : cette date tombe dans le trimestre.",
    ),
    ("Taux de recouvrement en nombre", "Dossiers recouvrés en totalité ÷ dossiers reçus (cumul)."),
    ("Taux de recouvrement en montant", "Recouvré ÷ montant reçu (cumul)."),
    (
        "Recouvré par mois",
        f"Le recouvré de chacun des {MONTHS_SHOWN} derniers mois jusqu'à la fin du trimestre, par structure et "
        "au total (graphique en barres : le total).",
    ),
    (
        "Cohortes (courbes de recouvrement)",
        "Les dossiers regroupés par mois de réception. Pour chaque mois : la part du montant reçu recouvrée à la fin "
        "du mois de réception (M+0), du mois suivant (M+1), etc., cumulée, jusqu'à la fin du trimestre (graphique : "
        f"les {COHORTS_CHARTED} mois de réception les plus récents, au total).",
    ),
    (
        "Dossiers par statut",
        "Les dossiers reçus jusqu'à la fin du trimestre, selon leur statut au jour où le classeur est produit.",
    ),
    (
        "Plans d'apurement",
        "Accordés : date d'accord dans la période. Honorés : entièrement payés, date de fin dans la période. Rompus : "
        "rompus après des échéances manquées, date de rupture dans la période. En cours : au jour de la production.",
    ),
    (
        "Certificats d'irrécouvrabilité",
        "Les certificats délivrés dans la période et non annulés, par motif.",
    ),
    (
        "Délai avant le premier paiement",
        "Jours entre la réception du dossier et son premier paiement (non rejeté) ; médiane et moyenne sur les "
        "dossiers qui ont reçu un paiement. « Trimestre » : premier paiement dans le trimestre.",
    ),
    (
        "Délai de recouvrement total",
        "Jours entre la réception du dossier et la date où il a été recouvré en totalité ; médiane et moyenne. "
        "La médiane est la valeur du milieu (la moyenne des deux valeurs du milieu pour un nombre pair).",
    ),
    (
        "Actions par canal",
        "Courriers, e-mails, SMS et appels enregistrés dans le trimestre, et le nombre de dossiers touchés.",
    ),
    (
        "Rendement d'un canal",
        f"Parmi les dossiers touchés par le canal dans le trimestre, la part qui a reçu un paiement (non rejeté) dans "
        f"les {YIELD_DAYS} jours suivant l'une de ces actions, jusqu'à la fin du trimestre. Un même paiement peut "
        "compter pour plusieurs canaux.",
    ),
    (
        "Échéances tenues",
        "Les échéances du contrat dont la date due tombe dans le trimestre, par nature : certificat "
        "d'irrécouvrabilité (les mois prévus après la réception), décompte financier, réunion demandée, question "
        "du créancier, reversement de la semaine, factures du mois, restitution des pièces, contestation des "
        "créances déclarées (surendettement). Tenue : faite au plus tard à la date (ou l'heure) due ; manquée : "
        "faite après ; en retard : toujours pas faite au jour où le classeur est produit. Les règles sont celles "
        "de la page « Échéances » et de la commande check_deadlines. Par structure pour les échéances d'un dossier "
        "(une demande sans dossier à part), pour tout le créancier sinon. Part tenue = tenues ÷ (tenues + "
        "manquées + en retard).",
    ),
]


class _Sheet:
    """A write-only sheet written row by row, keeping the row number for the charts' references."""

    def __init__(self, workbook: Workbook, title: str, *, widths: list[int]):
        self.ws = workbook.create_sheet(title)
        for index, width in enumerate(widths):
            self.ws.column_dimensions[get_column_letter(index + 1)].width = width
        self.row = 0

    def cell(self, value, *, fmt: str | None = None, bold: bool = False, wrap: bool = False):
        if isinstance(value, str):
            value = neutralise(value)
        cell = WriteOnlyCell(self.ws, value)
        if fmt and value is not None:
            cell.number_format = fmt
        if bold:
            cell.font = Font(bold=True)
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        return cell

    def append(self, values: list, *, formats: list | None = None, bold: bool = False) -> int:
        formats = formats or []
        cells = [
            self.cell(value, fmt=formats[index] if index < len(formats) else None, bold=bold)
            for index, value in enumerate(values)
        ]
        self.ws.append(cells)
        self.row += 1
        return self.row

    def title(self, text: str, figures: QuarterlyFigures) -> None:
        self.ws.append([self.cell(text, bold=True)])
        q = figures.quarter
        self.ws.append([f"{figures.creditor_name} — {q.title} (du {q.start:%d/%m/%Y} au {q.end:%d/%m/%Y})"])
        self.ws.append([])
        self.row += 3

    def header(self, values: list) -> int:
        self.ws.append([self.cell(v, bold=True, wrap=True) for v in values])
        self.row += 1
        return self.row


def _names(figures: QuarterlyFigures) -> list[tuple[object, str]]:
    return [(pk, f"{code} — {name}") for pk, code, name in figures.structures] + [(TOTAL, "Total")]


def quarterly_xlsx(figures: QuarterlyFigures, *, built_at: datetime) -> bytes:
    """The workbook: « Lisez-moi » first, then one sheet per subject, each per structure and in total, with
    native Excel charts. openpyxl's write-only mode streams the rows; `add_chart` works on its sheets."""
    workbook = Workbook(write_only=True)
    _readme(workbook, figures, built_at=built_at)
    _summary_sheet(workbook, figures)
    _months_sheet(workbook, figures)
    _cohorts_sheet(workbook, figures)
    _statuses_sheet(workbook, figures)
    _plans_sheet(workbook, figures)
    _certificates_sheet(workbook, figures)
    _delays_sheet(workbook, figures)
    _actions_sheet(workbook, figures)
    _clocks_sheet(workbook, figures)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _readme(workbook: Workbook, figures: QuarterlyFigures, *, built_at: datetime) -> None:
    sheet = _Sheet(workbook, "Lisez-moi", widths=[34, 110])
    sheet.title("Statistiques trimestrielles", figures)
    local = timezone.localtime(built_at)
    sheet.append(["Produit le", f"{local:%d/%m/%Y à %H:%M}"])
    sheet.append(
        [
            "Lecture",
            "Les montants d'un trimestre sont ceux de sa fin, même si le classeur est produit plus tard ; les statuts, "
            "et les paiements rejetés depuis, sont lus au jour de la production. Chaque feuille donne les chiffres "
            "par structure puis au total.",
        ]
    )
    sheet.ws.append([])
    sheet.header(["Indicateur", "Définition"])
    for name, text in DEFINITIONS:
        sheet.ws.append([sheet.cell(name, bold=True, wrap=True), sheet.cell(text, wrap=True)])


SUMMARY_HEADER = [
    "Structure",
    "Dossiers reçus (trimestre)",
    "Montant reçu (trimestre)",
    "Recouvré (trimestre)",
    "Dossiers recouvrés en totalité (trimestre)",
    "Dossiers reçus (cumul)",
    "Montant reçu (cumul)",
    "Recouvré (cumul)",
    "Reste dû (cumul)",
    "Dossiers recouvrés en totalité (cumul)",
    "Taux de recouvrement en nombre",
    "Taux de recouvrement en montant",
]


def _summary_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Synthèse", widths=[34] + [16] * 11)
    sheet.title("Dossiers et montants", figures)
    sheet.header(SUMMARY_HEADER)
    money_fmt = [None, None, MONEY_FORMAT, MONEY_FORMAT, None, None, MONEY_FORMAT, MONEY_FORMAT, MONEY_FORMAT]
    for key, name in _names(figures):
        m = figures.money[key]
        sheet.append(
            [
                name,
                m.received_q,
                m.received_amount_q,
                m.recovered_q,
                m.full_q,
                m.received,
                m.received_amount,
                m.recovered,
                m.remaining,
                m.full,
                m.rate_count,
                m.rate_amount,
            ],
            formats=[*money_fmt, None, RATE_FORMAT, RATE_FORMAT],
            bold=key is TOTAL,
        )


def _months_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    names = _names(figures)
    sheet = _Sheet(workbook, "Recouvré par mois", widths=[12, 16] + [16] * (len(names) - 1))
    sheet.title("Recouvré par mois", figures)
    header = sheet.header(["Mois", "Total"] + [name for key, name in names if key is not TOTAL])
    for month in figures.months:
        values = [month, figures.recovered_by_month[(TOTAL, month)]]
        values += [figures.recovered_by_month[(key, month)] for key, _ in names if key is not TOTAL]
        sheet.append(values, formats=[MONTH_FORMAT] + [MONEY_FORMAT] * len(names))
    chart = BarChart()
    chart.title = "Recouvré par mois (total)"
    chart.y_axis.title = "€"
    chart.y_axis.numFmt = "#,##0"
    chart.add_data(Reference(sheet.ws, min_col=2, min_row=header, max_row=sheet.row), titles_from_data=True)
    chart.set_categories(Reference(sheet.ws, min_col=1, min_row=header + 1, max_row=sheet.row))
    chart.legend = None
    chart.width, chart.height = 24, 10
    sheet.ws.add_chart(chart, f"{get_column_letter(len(names) + 3)}4")


def _cohorts_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    longest = max((len(c.shares) for cohorts in figures.cohorts.values() for c in cohorts), default=1)
    sheet = _Sheet(workbook, "Cohortes", widths=[34, 12, 10, 16] + [8] * longest)
    sheet.title("Courbes de recouvrement par mois de réception", figures)
    offsets = [f"M+{k}" for k in range(longest)]
    chart_rows, chart_header = [], None
    for key, name in [(TOTAL, "Total"), *[n for n in _names(figures) if n[0] is not TOTAL]]:
        header = sheet.header(["Structure", "Mois de réception", "Dossiers", "Montant reçu", *offsets])
        if key is TOTAL:
            chart_header = header
        for cohort in figures.cohorts.get(key, []):
            row = sheet.append(
                [name, cohort.month, cohort.cases, cohort.claimed, *cohort.shares],
                formats=[None, MONTH_FORMAT, None, MONEY_FORMAT] + [RATE_FORMAT] * len(cohort.shares),
            )
            if key is TOTAL:
                chart_rows.append((row, cohort))
        sheet.ws.append([])
        sheet.row += 1
    chart = LineChart()
    chart.title = "Part recouvrée, cumulée, par mois de réception (total)"
    chart.y_axis.numFmt = "0 %"
    chart.y_axis.title = "Part recouvrée"
    chart.x_axis.title = "Mois depuis la réception"
    for row, cohort in chart_rows[-COHORTS_CHARTED:]:
        values = Reference(sheet.ws, min_col=5, max_col=4 + len(cohort.shares), min_row=row)
        chart.series.append(Series(values, title=f"{cohort.month:%m/%Y}"))
    if chart_header is not None:
        chart.set_categories(Reference(sheet.ws, min_col=5, max_col=4 + longest, min_row=chart_header))
    chart.width, chart.height = 24, 12
    sheet.ws.add_chart(chart, f"{get_column_letter(6 + longest)}4")


def _statuses_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    names = _names(figures)
    sheet = _Sheet(workbook, "Statuts", widths=[28, 12] + [16] * (len(names) - 1))
    sheet.title("Dossiers par statut (au jour de la production)", figures)
    header = sheet.header(["Statut", "Total"] + [name for key, name in names if key is not TOTAL])
    for status in CaseStatus:
        sheet.append(
            [status.label, figures.statuses[(TOTAL, status.value)]]
            + [figures.statuses[(key, status.value)] for key, _ in names if key is not TOTAL]
        )
    chart = PieChart()
    chart.title = "Dossiers par statut (total)"
    chart.add_data(Reference(sheet.ws, min_col=2, min_row=header, max_row=sheet.row), titles_from_data=True)
    chart.set_categories(Reference(sheet.ws, min_col=1, min_row=header + 1, max_row=sheet.row))
    chart.width, chart.height = 14, 10
    sheet.ws.add_chart(chart, f"{get_column_letter(len(names) + 3)}4")


PLAN_HEADER = [
    "Structure",
    "Accordés (trimestre)",
    "Honorés (trimestre)",
    "Rompus (trimestre)",
    "Accordés (cumul)",
    "Honorés (cumul)",
    "Rompus (cumul)",
    "En cours (au jour de la production)",
]


def _plans_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Plans", widths=[34] + [14] * 7)
    sheet.title("Plans d'apurement", figures)
    sheet.header(PLAN_HEADER)
    for key, name in _names(figures):
        plans = figures.plans[key]
        sheet.append([name, *(plans[n] for n in PLAN_FIGURES)], bold=key is TOTAL)


def _certificates_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Certificats", widths=[34, 40, 14, 14])
    sheet.title("Certificats d'irrécouvrabilité par motif", figures)
    sheet.header(["Structure", "Motif", "Trimestre", "Cumul"])
    for key, name in _names(figures):
        for reason in IrrecoverableReason:
            quarter, total = figures.certificates[(key, reason.value)]
            sheet.append([name, reason.label, quarter, total], bold=key is TOTAL)
        quarter = sum(figures.certificates[(key, r.value)][0] for r in IrrecoverableReason)
        total = sum(figures.certificates[(key, r.value)][1] for r in IrrecoverableReason)
        sheet.append([name, "Tous motifs", quarter, total], bold=True)


DELAY_HEADER = [
    "Structure",
    "Premier paiement — dossiers (trimestre)",
    "Premier paiement — médiane, jours (trimestre)",
    "Premier paiement — moyenne, jours (trimestre)",
    "Premier paiement — dossiers (cumul)",
    "Premier paiement — médiane, jours (cumul)",
    "Premier paiement — moyenne, jours (cumul)",
    "Recouvrement total — dossiers (trimestre)",
    "Recouvrement total — médiane, jours (trimestre)",
    "Recouvrement total — moyenne, jours (trimestre)",
    "Recouvrement total — dossiers (cumul)",
    "Recouvrement total — médiane, jours (cumul)",
    "Recouvrement total — moyenne, jours (cumul)",
]


def _delays_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Délais", widths=[34] + [15] * 12)
    sheet.title("Délais avant le premier paiement et avant le recouvrement total", figures)
    sheet.header(DELAY_HEADER)
    for key, name in _names(figures):
        values, formats = [name], [None]
        for table in (figures.first_payment, figures.full_recovery):
            for scope in ("quarter", "all"):
                delay = table.get((key, scope), Delay())
                values += [delay.count, delay.median, delay.mean]
                formats += [None, DAYS_FORMAT, DAYS_FORMAT]
        sheet.append(values, formats=formats, bold=key is TOTAL)


def _actions_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Actions", widths=[34, 12, 12, 16, 22, 14])
    sheet.title(f"Actions du trimestre par canal et leur rendement à {YIELD_DAYS} jours", figures)
    sheet.header(
        ["Structure", "Canal", "Actions", "Dossiers touchés", f"Dossiers payés sous {YIELD_DAYS} jours", "Rendement"]
    )
    for key, name in _names(figures):
        for channel in Channel:
            entry = figures.actions[(key, channel.value)]
            sheet.append(
                [
                    name,
                    channel.label,
                    entry["actions"],
                    entry["cases"],
                    entry["yielded"],
                    _ratio(entry["yielded"], entry["cases"]),
                ],
                formats=[None] * 5 + [RATE_FORMAT],
                bold=key is TOTAL,
            )


def _clocks_sheet(workbook: Workbook, figures: QuarterlyFigures) -> None:
    sheet = _Sheet(workbook, "Échéances", widths=[52, 34, 12, 12, 12, 12])
    sheet.title("Échéances dues dans le trimestre", figures)
    sheet.header(["Échéance", "Structure", "Tenues", "Manquées", "En retard", "Part tenue"])
    for kind, label in CLOCK_KINDS.items():
        if kind in ROW_KINDS:
            rows = _names(figures)
            if kind in REQUEST_CLOCK_KINDS:
                rows = [*rows[:-1], (NO_CASE, "Sans dossier"), rows[-1]]
        else:
            rows = [(TOTAL, "Total")]
        for key, name in rows:
            tally = figures.clocks.get((kind, key), ClockTally())
            sheet.append(
                [label, name, tally.met, tally.missed, tally.late, tally.rate],
                formats=[None] * 5 + [RATE_FORMAT],
                bold=key is TOTAL,
            )
