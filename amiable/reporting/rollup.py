"""The figures of the dashboards, computed per creditor by a handful of GROUP BY queries (the same number
whatever its number of cases) into `StatsRollup` rows: one per (structure, metric, period, dimension), plus
the creditor's total (structure empty) summed here from the structures' rows. Reads only; the refresh
(`services_rollup.stats_refresh`) stores them.

The metrics (`count`, `amount` of each row):
- CLAIMED / RECOVERED: every case — cases and amount claimed / cases paid in full and amount recovered
  (the net payments less any excess owed back, as everywhere: `Case.recovered_amount`);
- COHORT_CLAIMED / COHORT_RECOVERED: the same per month of receipt (`period`), the recovery curves;
- RECOVERED_MONTH: what was recovered of the claims per month of the money's movement (payments collected,
  less reversals on their date), and the number of movements;
- CHANNEL_CLAIMED / CHANNEL_RECOVERED: the same as CLAIMED / RECOVERED over the cases reached at least once by
  a channel (`dimension`: letter, email, sms, call);
- AGE_BAND: open cases and what remains due on them by time since receipt (`dimension`: 0-3, 3-6, 6-12, 12+);
- STATUS: cases and what remains due per status (`dimension`);
- CLOCK: the contract's clocks due per month (`period`, the month of the due date) met, missed or late
  (`dimension`: « kind:state », e.g. « certificate:met »), as counted by `clocks.clock_counts`; the rows of
  a structure hold its cases' clocks, and the row without a structure holds only the clocks of the whole
  creditor (remittances, invoices, requests on no case) — not a total: a reader sums every row it may see."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Case as When_
from django.db.models import CharField, Count, DateField, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from amiable.cases.models import OPEN_STATUSES, Action, Case, CaseStatus, Channel
from amiable.cases.selectors import recovered_sum
from amiable.core.dates import add_months
from amiable.core.money import ZERO, to_money
from amiable.payments.models import Allocation, Component
from amiable.reporting.clocks import CLOCK_METRIC, clock_counts, instant_of
from amiable.reporting.models import StatsRollup

CLAIMED, RECOVERED = "claimed", "recovered"
COHORT_CLAIMED, COHORT_RECOVERED = "cohort_claimed", "cohort_recovered"
RECOVERED_MONTH = "recovered_month"
CHANNEL_CLAIMED, CHANNEL_RECOVERED = "channel_claimed", "channel_recovered"
AGE_BAND = "age_band"
STATUS = "status"
CLOCK = CLOCK_METRIC
METRICS = (
    CLAIMED,
    RECOVERED,
    COHORT_CLAIMED,
    COHORT_RECOVERED,
    RECOVERED_MONTH,
    CHANNEL_CLAIMED,
    CHANNEL_RECOVERED,
    AGE_BAND,
    STATUS,
    CLOCK,
)
# The age bands of open cases, by months since receipt: (key, label, lower bound in months).
AGE_BANDS = (
    ("0-3", "0 à 3 mois", 0),
    ("3-6", "3 à 6 mois", 3),
    ("6-12", "6 à 12 mois", 6),
    ("12+", "12 mois et plus", 12),
)

Key = tuple[int | None, str, date | None, str]  # structure, metric, period, dimension


class _Sums:
    """Counts and amounts keyed by (structure, metric, period, dimension), with the creditor's total."""

    def __init__(self) -> None:
        self.rows: dict[Key, list] = defaultdict(lambda: [0, ZERO])

    def add(self, structure_id: int, metric: str, count: int, amount, *, period=None, dimension: str = "") -> None:
        amount = to_money(amount if amount is not None else ZERO)  # SQLite sums decimals as floats: to cents
        for key in ((structure_id, metric, period, dimension), (None, metric, period, dimension)):
            self.rows[key][0] += int(count or 0)
            self.rows[key][1] += amount

    def add_own(self, structure_id: int | None, metric: str, count: int, *, period=None, dimension: str = "") -> None:
        """A count of this structure only (or of the creditor as a whole): nothing added to the total."""
        self.rows[(structure_id, metric, period, dimension)][0] += int(count)

    def models(self, *, creditor_id: int, refreshed_at) -> list[StatsRollup]:
        return [
            StatsRollup(
                creditor_id=creditor_id,
                structure_id=structure_id,
                metric=metric,
                period=period,
                dimension=dimension,
                count=count,
                amount=amount,
                refreshed_at=refreshed_at,
            )
            for (structure_id, metric, period, dimension), (count, amount) in sorted(
                self.rows.items(), key=lambda item: (item[0][0] or 0, item[0][1], item[0][2] or date.min, item[0][3])
            )
        ]


def _cases(sums: _Sums, creditor_id: int) -> None:
    """One query: cases per structure, month of receipt and status — the totals, cohorts and statuses."""
    rows = (
        Case.objects.filter(creditor_id=creditor_id)
        .annotate(month=TruncMonth("received_on", output_field=DateField()))
        .values("structure_id", "month", "status")
        .annotate(count=Count("pk"), claimed=Sum("claimed_amount"), recovered=recovered_sum(), balance=Sum("balance"))
        .order_by()
    )
    for row in rows:
        structure, month, paid = row["structure_id"], row["month"], row["status"] == CaseStatus.PAID
        paid_count = row["count"] if paid else 0
        sums.add(structure, CLAIMED, row["count"], row["claimed"])
        sums.add(structure, RECOVERED, paid_count, row["recovered"])
        sums.add(structure, COHORT_CLAIMED, row["count"], row["claimed"], period=month)
        sums.add(structure, COHORT_RECOVERED, paid_count, row["recovered"], period=month)
        sums.add(structure, STATUS, row["count"], row["balance"], dimension=row["status"])


def _age_bands(sums: _Sums, creditor_id: int, today: date) -> None:
    """One query: open cases per structure and age band."""
    # From the youngest band: a case younger than the next band's lower bound is in this band.
    whens = [
        When(received_on__gt=add_months(today, -upper), then=Value(key))
        for (key, _, _), (_, _, upper) in zip(AGE_BANDS, AGE_BANDS[1:], strict=False)
    ]
    band = When_(*whens, default=Value(AGE_BANDS[-1][0]), output_field=CharField())
    rows = (
        Case.objects.filter(creditor_id=creditor_id, status__in=OPEN_STATUSES)
        .annotate(band=band)
        .values("structure_id", "band")
        .annotate(count=Count("pk"), balance=Sum("balance"))
        .order_by()
    )
    for row in rows:
        sums.add(row["structure_id"], AGE_BAND, row["count"], row["balance"], dimension=row["band"])


def _recovered_months(sums: _Sums, creditor_id: int) -> None:
    """One query: the allocations to the claim (not the overpayments) per structure and month of the movement
    they belong to — a payment on its collection date, a reversal (negative) on its own."""
    on = Coalesce("payment__collected_on", "reversal__reversed_on", "refund__refunded_on", output_field=DateField())
    rows = (
        Allocation.objects.filter(case__creditor_id=creditor_id)
        .exclude(component=Component.OVERPAYMENT)
        .annotate(month=TruncMonth(on, output_field=DateField()))
        .values("case__structure_id", "month")
        .annotate(
            amount_sum=Sum("amount"),
            movements=Count("payment_id", distinct=True) + Count("reversal_id", distinct=True),
        )
        .order_by()
    )
    for row in rows:
        sums.add(row["case__structure_id"], RECOVERED_MONTH, row["movements"], row["amount_sum"], period=row["month"])


def _channels(sums: _Sums, creditor_id: int) -> None:
    """One query: for each channel, the cases it reached at least once, what they claimed and recovered."""
    reached = {
        channel: Exists(Action.objects.filter(case_id=OuterRef("pk"), channel=channel)) for channel in Channel.values
    }
    aggregates = {}
    for channel in Channel.values:
        hit = Q(**{f"reached_{channel}": True})
        paid = hit & Q(status=CaseStatus.PAID)
        aggregates[f"{channel}_count"] = Count("pk", filter=hit)
        aggregates[f"{channel}_paid"] = Count("pk", filter=paid)
        aggregates[f"{channel}_claimed"] = Sum("claimed_amount", filter=hit)
        aggregates[f"{channel}_recovered"] = Sum(F("paid_amount") - F("overpaid_amount"), filter=hit)
    rows = (
        Case.objects.filter(creditor_id=creditor_id)
        .annotate(**{f"reached_{channel}": expression for channel, expression in reached.items()})
        .values("structure_id")
        .annotate(**aggregates)
        .order_by()
    )
    for row in rows:
        for channel in Channel.values:
            if not row[f"{channel}_count"]:
                continue
            structure = row["structure_id"]
            sums.add(structure, CHANNEL_CLAIMED, row[f"{channel}_count"], row[f"{channel}_claimed"], dimension=channel)
            sums.add(
                structure, CHANNEL_RECOVERED, row[f"{channel}_paid"], row[f"{channel}_recovered"], dimension=channel
            )


def _clocks(sums: _Sums, creditor_id: int, today: date) -> None:
    """The clocks met, missed or late per kind, structure and month of their due date (`clocks.clock_counts`:
    a grouped query per kind, a few for the remittances and invoices)."""
    counts = clock_counts(creditor_id=creditor_id, day=today, at=instant_of(today))
    for (kind, structure_id, month, state), count in counts.items():
        sums.add_own(structure_id, CLOCK, count, period=month, dimension=f"{kind}:{state}")


def rollup_compute(*, creditor_id: int, today: date, refreshed_at) -> list[StatsRollup]:
    """The creditor's rollup rows, unsaved: the same number of queries whatever its number of cases."""
    sums = _Sums()
    _cases(sums, creditor_id)
    _age_bands(sums, creditor_id, today)
    _recovered_months(sums, creditor_id)
    _channels(sums, creditor_id)
    _clocks(sums, creditor_id, today)
    return sums.models(creditor_id=creditor_id, refreshed_at=refreshed_at)
