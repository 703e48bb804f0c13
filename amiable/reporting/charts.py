"""Charts drawn on the server as inline SVG, for the home dashboards and the meeting packs (WeasyPrint draws
the same markup): no JavaScript, and nothing a strict CSP refuses — no `style=` attribute, only SVG
presentation attributes (`fill=`, `x=`, `height=`…) and classes of the static CSS. Each chart is an image
for assistive technologies (`role="img"`, `<title>`, `<desc>`) and comes with its data table, which says
the same figures in text.

    chart = bar_chart(title="Recouvré par mois", labels=["janv. 26", …], values=[Decimal("120.00"), …], unit="€")
    {{ chart.html }}   # the SVG and its table in a <details>; chart.svg, chart.rows for other layouts
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from amiable.core.money import NARROW_NBSP, NBSP, format_money, format_percent, to_money

__all__ = ["Chart", "bar_chart", "format_value", "line_chart", "month_label"]

EURO, PERCENT, COUNT = "€", "%", ""
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 78, 12, 16, 46
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = 4
MAX_LABELS = 12
BAR_FILL, LINE_STROKE, GRID_STROKE, TEXT_FILL = "#1d4e89", "#1d4e89", "#d5dae1", "#1b1f24"
MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]


def _grouped(n: int) -> str:
    """1234567 -> « 1 234 567 » with narrow no-break spaces, as French typography and `format_money` do."""
    sign = "-" if n < 0 else ""
    digits = str(abs(n))
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return sign + NARROW_NBSP.join(groups)


def format_value(value: Decimal | int, unit: str) -> str:
    """A figure of a chart the French way: « 1 234,56 € », « 12,3 % », « 1 234 »."""
    if unit == EURO:
        return format_money(value)
    if unit == PERCENT:
        return format_percent(Decimal(value).quantize(Decimal("0.1")))
    text = _grouped(int(value))
    return f"{text}{NBSP}{unit}" if unit else text


def _tick_label(value: Decimal, unit: str) -> str:
    """An axis graduation: whole numbers only (« 1 500 € », « 25 % »), or one decimal when the step needs it."""
    text = _grouped(int(value)) if value == value.to_integral_value() else f"{value:.1f}".replace(".", ",")
    return f"{text}{NBSP}{unit}" if unit else text


def month_label(month) -> str:
    """The first day of a month -> « janv. 26 »: short enough to sit under a bar."""
    return f"{MONTHS[month.month - 1]} {month:%y}"


def _nice_step(span: Decimal) -> Decimal:
    """The graduation step: 1, 2, 2.5 or 5 times a power of ten, so that TICKS steps cover `span`."""
    raw = span / TICKS
    power = Decimal(1).scaleb(raw.adjusted())
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover — the loop always returns


@dataclass(frozen=True)
class Axis:
    low: Decimal
    high: Decimal
    step: Decimal

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Axis:
        """From zero (or the lowest negative figure) to the highest, rounded out to whole steps."""
        low = min([Decimal(0), *values])
        high = max([Decimal(0), *values])
        if high == low:
            high = low + 1
        step = _nice_step(high - low)
        low = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
        high = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
        return cls(low=low, high=high, step=step)

    def y(self, value: Decimal) -> float:
        """The vertical coordinate of a value (SVG grows downwards); geometry only, never money."""
        return TOP + PLOT_H * float((self.high - value) / (self.high - self.low))

    def ticks(self) -> list[Decimal]:
        out, value = [], self.low
        while value <= self.high:
            out.append(value)
            value += self.step
        return out


def _n(x: float) -> str:
    """A coordinate with two decimals at most: small markup, stable in tests."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Chart:
    """A drawn chart: `svg` (safe markup), and its data table — `headers` and `rows` of formatted text,
    the first cell of each row being the label."""

    title: str
    svg: SafeString
    headers: list[str]
    rows: list[list[str]]
    description: str = ""
    values: list[Decimal] = field(default_factory=list)

    @property
    def html(self) -> SafeString:
        """The chart and its table in a <details> below it (the pages)."""
        return render_to_string("reporting/charts_figure.html", {"chart": self, "details": True})

    @property
    def print_html(self) -> SafeString:
        """The chart and its table shown in full (the PDF packs: nothing to unfold on paper)."""
        return render_to_string("reporting/charts_figure.html", {"chart": self, "details": False})

    def __html__(self) -> str:
        return str(self.html)


def _ident(title: str, labels: Sequence[str], values: Sequence[Decimal]) -> str:
    """An id for the title and description, the same for the same chart (two charts on a page differ)."""
    digest = hashlib.sha256(repr((title, list(labels), [str(v) for v in values])).encode()).hexdigest()
    return f"graphique-{digest[:10]}"


def _clean(values: Sequence[Decimal | int | None], unit: str) -> list[Decimal]:
    out = []
    for value in values:
        if isinstance(value, float):
            raise TypeError("Valeur de graphique en nombre flottant refusée : utilisez Decimal ou un entier.")
        value = Decimal(0) if value is None else Decimal(value)
        out.append(to_money(value) if unit == EURO else value)
    return out


def _frame(*, ident: str, title: str, description: str, axis: Axis, unit: str, kind: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg chart-{kind}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{ident}-titre {ident}-desc" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
        f'<title id="{ident}-titre">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    for tick in axis.ticks():
        y = _n(axis.y(tick))
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{GRID_STROKE}" '
            'stroke-width="1"/>'
        )
        parts.append(
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'fill="{TEXT_FILL}">{escape(_tick_label(tick, unit))}</text>'
        )
    zero = _n(axis.y(Decimal(0)))
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero}" y2="{zero}" stroke="{TEXT_FILL}" '
        'stroke-width="1"/>'
    )
    return parts


def _label(x: float, text: str, slot: float, index: int, count: int) -> str:
    """The label under a bar or point, on two lines when it is too wide for its slot (« janv. » over « 26 »),
    shortened if still too wide (the full text is in the table and the tooltip); beyond MAX_LABELS bars, only
    every few bars are labelled (a contract's months since its start)."""
    every = -(-count // MAX_LABELS)
    if index % every:
        return ""
    room = max(int(slot * every / 6.5), 3)
    lines = [text]
    if len(text) > room and " " in text:
        lines = text.rsplit(" ", 1)
    lines = [line if len(line) <= room else line[: room - 1] + "…" for line in lines]
    spans = "".join(
        f'<tspan x="{_n(x)}" dy="{0 if number == 0 else 12}">{escape(line)}</tspan>'
        for number, line in enumerate(lines)
    )
    return (
        f'<text class="chart-label" x="{_n(x)}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
        f'fill="{TEXT_FILL}">{spans}</text>'
    )


def _table(
    *, labels: Sequence[str], values: list[Decimal], unit: str, label_header: str, value_header: str, extra
) -> tuple[list[str], list[list[str]]]:
    extra = list(extra or [])
    headers = [label_header, value_header, *[name for name, _ in extra]]
    rows = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        rows.append([label, format_value(value, unit), *[column[index] for _, column in extra]])
    return headers, rows


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal | int | None],
    unit: str = COUNT,
    description: str = "",
    label_header: str = "",
    value_header: str = "",
    extra: Sequence[tuple[str, Sequence[str]]] = (),
) -> Chart:
    """Columns, one per label, from the zero line: the height is proportional to the value. `unit` is « € »,
    « % » or empty (a count); `extra` adds already-formatted columns to the data table (« Réclamé »…)."""
    if len(labels) != len(values):
        raise ValueError("Autant de libellés que de valeurs sont attendus.")
    clean = _clean(values, unit)
    axis = Axis.of(clean)
    ident = _ident(title, labels, clean)
    description = description or f"Graphique en barres : {title}. Les valeurs figurent dans le tableau de données."
    parts = _frame(ident=ident, title=title, description=description, axis=axis, unit=unit, kind="bar")
    slot = PLOT_W / max(len(clean), 1)
    bar_w = slot * 0.6
    zero = axis.y(Decimal(0))
    for index, (label, value) in enumerate(zip(labels, clean, strict=True)):
        x = LEFT + slot * index + (slot - bar_w) / 2
        top = axis.y(value)
        y, height = (top, zero - top) if value >= 0 else (zero, top - zero)
        parts.append(
            f'<rect class="chart-bar" x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(height)}" '
            f'fill="{BAR_FILL}"><title>{escape(label)} : {escape(format_value(value, unit))}</title></rect>'
        )
        parts.append(_label(x + bar_w / 2, label, slot, index, len(clean)))
    parts.append("</svg>")
    headers, rows = _table(
        labels=labels,
        values=clean,
        unit=unit,
        label_header=label_header or "Libellé",
        value_header=value_header or title,
        extra=extra,
    )
    return Chart(
        title=title, svg=mark_safe("".join(parts)), headers=headers, rows=rows, description=description, values=clean
    )


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal | int | None],
    unit: str = COUNT,
    description: str = "",
    label_header: str = "",
    value_header: str = "",
    extra: Sequence[tuple[str, Sequence[str]]] = (),
) -> Chart:
    """A line through one point per label (a month, a cohort), each point marked; same axis and table as
    `bar_chart`."""
    if len(labels) != len(values):
        raise ValueError("Autant de libellés que de valeurs sont attendus.")
    clean = _clean(values, unit)
    axis = Axis.of(clean)
    ident = _ident(title, labels, clean)
    description = description or f"Graphique en courbe : {title}. Les valeurs figurent dans le tableau de données."
    parts = _frame(ident=ident, title=title, description=description, axis=axis, unit=unit, kind="line")
    slot = PLOT_W / max(len(clean), 1)
    points = [(LEFT + slot * index + slot / 2, axis.y(value)) for index, value in enumerate(clean)]
    if len(points) > 1:
        parts.append(
            '<polyline class="chart-line" fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                LINE_STROKE, " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
            )
        )
    for index, ((x, y), label, value) in enumerate(zip(points, labels, clean, strict=True)):
        parts.append(
            f'<circle class="chart-point" cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{LINE_STROKE}">'
            f"<title>{escape(label)} : {escape(format_value(value, unit))}</title></circle>"
        )
        parts.append(_label(x, label, slot, index, len(clean)))
    parts.append("</svg>")
    headers, rows = _table(
        labels=labels,
        values=clean,
        unit=unit,
        label_header=label_header or "Libellé",
        value_header=value_header or title,
        extra=extra,
    )
    return Chart(
        title=title, svg=mark_safe("".join(parts)), headers=headers, rows=rows, description=description, values=clean
    )
