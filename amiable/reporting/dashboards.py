"""The dashboards of the home pages (agency and creditor): charts read from the rollup the daily run refreshes
(`StatsRollup`), never from the cases, so that a home page costs one indexed query whatever the number of
cases. A creditor user sees its creditor's figures; one limited to some structures, the sum of its
structures' rows; the agency, the sum of every creditor's totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from amiable.cases.models import Channel
from amiable.core.dates import add_months
from amiable.core.money import ZERO, format_money, rate_percent, to_money
from amiable.reporting.charts import COUNT, EURO, PERCENT, Chart, bar_chart, format_value, line_chart, month_label
from amiable.reporting.models import StatsRollup
from amiable.reporting.rollup import (
    AGE_BAND,
    AGE_BANDS,
    CHANNEL_CLAIMED,
    CHANNEL_RECOVERED,
    CLAIMED,
    COHORT_CLAIMED,
    COHORT_RECOVERED,
    RECOVERED,
    RECOVERED_MONTH,
    STATUS,
)

MONTHS_SHOWN = 12
# Metrics read per structure (the « par structure » chart); every other metric is read from the totals.
STRUCTURE_METRICS = (CLAIMED, RECOVERED)


@dataclass
class Figures:
    """Sums of rollup rows: (metric, period, dimension) -> [count, amount]."""

    cells: dict = field(default_factory=lambda: defaultdict(lambda: [0, ZERO]))

    def add(self, row: dict) -> None:
        cell = self.cells[(row["metric"], row["period"], row["dimension"])]
        cell[0] += row["count"]
        cell[1] += to_money(row["amount"])

    def count(self, metric: str, period: date | None = None, dimension: str = "") -> int:
        return self.cells.get((metric, period, dimension), [0, ZERO])[0]

    def amount(self, metric: str, period: date | None = None, dimension: str = "") -> Decimal:
        return self.cells.get((metric, period, dimension), [0, ZERO])[1]

    def periods(self, metric: str) -> list[date]:
        return sorted({p for (m, p, _), _cell in self.cells.items() if m == metric and p is not None})


@dataclass
class Dashboard:
    """What a home page shows: the key figures, the charts, and when the figures were computed (None: never)."""

    refreshed_at: datetime | None
    claimed: Decimal = ZERO
    recovered: Decimal = ZERO
    cases: int = 0
    open_cases: int = 0
    balance: Decimal = ZERO
    charts: list[Chart] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        return rate_percent(self.recovered, self.claimed)

    @property
    def available(self) -> bool:
        return self.refreshed_at is not None


def last_months(today: date, count: int = MONTHS_SHOWN) -> list[date]:
    """The first days of the `count` months ending with `today`'s, oldest first."""
    current = today.replace(day=1)
    return [add_months(current, -offset) for offset in range(count - 1, -1, -1)]


def _scope(user) -> tuple[Q | None, bool]:
    """The rollup rows a user may read and whether the totals must be summed from structure rows (a user
    limited to some structures); None when the user sees no figures at all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None, False
    wide = Q(structure__isnull=True) | Q(metric__in=STRUCTURE_METRICS)
    if user.is_agency:
        return wide, False
    if not user.is_creditor_user:
        return None, False
    limits = user.allowed_structure_ids
    if limits is None:
        return Q(creditor_id=user.creditor_id) & wide, False
    return Q(creditor_id=user.creditor_id, structure_id__in=limits), True


def _rate_columns(claimed: list[tuple[int, Decimal]], recovered: list[tuple[int, Decimal]], count_header: str):
    return [
        (count_header, [format_value(c, COUNT) for c, _ in claimed]),
        ("Réclamé", [format_money(a) for _, a in claimed]),
        ("Recouvré", [format_money(a) for _, a in recovered]),
    ]


def _rate(recovered: Decimal, claimed: Decimal) -> Decimal:
    return rate_percent(recovered, claimed) or Decimal("0.0")


def charts_from(figures: Figures, *, months: list[date], structures: list[tuple[str, Figures]]) -> list[Chart]:
    """The dashboard's charts from summed figures: shared by the home pages and the meeting packs."""
    charts = [
        bar_chart(
            title="Montant recouvré par mois",
            labels=[month_label(m) for m in months],
            values=[figures.amount(RECOVERED_MONTH, m) for m in months],
            unit=EURO,
            label_header="Mois",
            value_header="Recouvré",
            extra=[("Mouvements", [format_value(figures.count(RECOVERED_MONTH, m), COUNT) for m in months])],
        )
    ]
    claimed = [(figures.count(COHORT_CLAIMED, m), figures.amount(COHORT_CLAIMED, m)) for m in months]
    recovered = [(figures.count(COHORT_RECOVERED, m), figures.amount(COHORT_RECOVERED, m)) for m in months]
    charts.append(
        line_chart(
            title="Taux de recouvrement par mois de réception",
            labels=[month_label(m) for m in months],
            values=[_rate(r[1], c[1]) for c, r in zip(claimed, recovered, strict=True)],
            unit=PERCENT,
            label_header="Reçus en",
            value_header="Taux de recouvrement",
            extra=_rate_columns(claimed, recovered, "Dossiers reçus"),
        )
    )
    claimed = [(f.count(CLAIMED), f.amount(CLAIMED)) for _, f in structures]
    recovered = [(f.count(RECOVERED), f.amount(RECOVERED)) for _, f in structures]
    charts.append(
        bar_chart(
            title="Taux de recouvrement par structure",
            labels=[label for label, _ in structures],
            values=[_rate(r[1], c[1]) for c, r in zip(claimed, recovered, strict=True)],
            unit=PERCENT,
            label_header="Structure",
            value_header="Taux de recouvrement",
            extra=_rate_columns(claimed, recovered, "Dossiers"),
        )
    )
    channels = [c for c in Channel if figures.count(CHANNEL_CLAIMED, dimension=c.value)]
    claimed = [(figures.count(CHANNEL_CLAIMED, None, c), figures.amount(CHANNEL_CLAIMED, None, c)) for c in channels]
    recovered = [
        (figures.count(CHANNEL_RECOVERED, None, c), figures.amount(CHANNEL_RECOVERED, None, c)) for c in channels
    ]
    charts.append(
        bar_chart(
            title="Taux de recouvrement par canal",
            labels=[c.label for c in channels],
            values=[_rate(r[1], c[1]) for c, r in zip(claimed, recovered, strict=True)],
            unit=PERCENT,
            description="Taux de recouvrement des dossiers touchés au moins une fois par chaque canal.",
            label_header="Canal",
            value_header="Taux de recouvrement",
            extra=_rate_columns(claimed, recovered, "Dossiers touchés"),
        )
    )
    charts.append(
        bar_chart(
            title="Dossiers en cours par ancienneté",
            labels=[label for _, label, _ in AGE_BANDS],
            values=[figures.count(AGE_BAND, None, key) for key, _, _ in AGE_BANDS],
            unit=COUNT,
            description="Dossiers en cours selon le temps écoulé depuis leur réception.",
            label_header="Ancienneté",
            value_header="Dossiers en cours",
            extra=[("Reste dû", [format_money(figures.amount(AGE_BAND, None, key)) for key, _, _ in AGE_BANDS])],
        )
    )
    return charts


def dashboard_for(*, user, today: date | None = None) -> Dashboard:
    """The user's dashboard, read in one query from the rollup (the last 12 months and the current state)."""
    scope, limited = _scope(user)
    if scope is None:
        return Dashboard(refreshed_at=None)
    today = today or timezone.localdate()
    months = last_months(today)
    rows = (
        StatsRollup.objects.filter(scope)
        .filter(Q(period__isnull=True) | Q(period__gte=months[0]))
        .values(
            "creditor_id",
            "creditor__name",
            "structure_id",
            "structure__code",
            "metric",
            "period",
            "dimension",
            "count",
            "amount",
            "refreshed_at",
        )
        .order_by("creditor__name", "creditor_id", "structure__code", "structure_id", "metric", "period", "dimension")
    )
    totals, per_structure, names, refreshed = Figures(), {}, {}, []
    creditors = set()
    for row in rows:
        refreshed.append(row["refreshed_at"])
        creditors.add(row["creditor_id"])
        if row["structure_id"] is not None:
            key = row["structure_id"]
            names[key] = (row["creditor__name"], row["structure__code"])
            per_structure.setdefault(key, Figures()).add(row)
        if (row["structure_id"] is not None) == limited:
            totals.add(row)
    if not refreshed:
        return Dashboard(refreshed_at=None)
    several = len(creditors) > 1
    structures = [(f"{names[k][0]} — {names[k][1]}" if several else names[k][1], f) for k, f in per_structure.items()]
    return Dashboard(
        refreshed_at=min(refreshed),
        claimed=totals.amount(CLAIMED),
        recovered=totals.amount(RECOVERED),
        cases=totals.count(CLAIMED),
        open_cases=sum(totals.count(AGE_BAND, None, key) for key, _, _ in AGE_BANDS),
        balance=sum((totals.amount(STATUS, None, d) for (m, _, d) in list(totals.cells) if m == STATUS), ZERO),
        charts=charts_from(totals, months=months, structures=structures),
    )
