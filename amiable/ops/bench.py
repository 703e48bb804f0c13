"""What every `bench_*` command measures, in one shape, so that `make bench` can print them side by side and keep
them in `var/bench.json` for the next run to compare with.

A measure is a figure beside its floor — what the same machine does at best for the same work, measured in the
same run (a bare `COPY`, a bare WeasyPrint render, a bare view) — and the target it must meet. A command records
its measures with `record()`: they are printed, and appended as JSON lines to the file named by the environment
variable `AMIABLE_BENCH_OUT` when `make bench` sets it. `bench_report` then reads them all.
"""

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

BENCH_OUT_ENV = "AMIABLE_BENCH_OUT"


@dataclass
class Measure:
    """One figure. `name` is a stable key (« pages.home_agent »), `label` says it in French; `value` and `floor`
    are in `unit` (« ms », « s », « Mo »); `limit` is the target's bound in the same unit, `max_ratio` the bound on
    value ÷ floor; either may be absent. `extra` carries details (query counts, rows, sizes)."""

    name: str
    label: str
    value: float
    unit: str
    floor: float | None = None
    limit: float | None = None
    max_ratio: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.floor is None or not self.floor:
            return None
        return self.value / self.floor

    @property
    def ok(self) -> bool:
        if self.limit is not None and self.value > self.limit:
            return False
        ratio = self.ratio
        return not (self.max_ratio is not None and ratio is not None and ratio > self.max_ratio)

    def target(self) -> str:
        parts = []
        if self.limit is not None:
            parts.append(f"≤ {_figure(self.limit)} {self.unit}")
        if self.max_ratio is not None:
            parts.append(f"≤ {_figure(self.max_ratio)} × plancher")
        return " et ".join(parts) or "—"

    def line(self) -> str:
        floor = f"{_figure(self.floor)} {self.unit}" if self.floor is not None else "—"
        ratio = f"{self.ratio:.1f} ×" if self.ratio is not None else "—"
        verdict = "OK" if self.ok else "HORS CIBLE"
        figure = f"{_figure(self.value)} {self.unit}"
        return f"{self.label} : {figure} ; plancher {floor} ; rapport {ratio} ; cible {self.target()} : {verdict}"

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(ratio=None if self.ratio is None else round(self.ratio, 2), ok=self.ok, target=self.target())
        return data


def _figure(value: float) -> str:
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return text.replace(",", "\u202f").replace(".", ",")


def record(measures: list[Measure], *, write: Callable[[str], None] = print) -> None:
    """Print each measure, and append it to the run's file when `make bench` collects them."""
    out = os.environ.get(BENCH_OUT_ENV)
    for measure in measures:
        write(measure.line())
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            for measure in measures:
                handle.write(json.dumps(measure.as_dict(), ensure_ascii=False) + "\n")


def timed(fn: Callable[[], object], *, runs: int = 1) -> list[float]:
    """The wall times of `runs` calls of `fn`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def peak_memory_mb() -> float:
    """The process's peak resident memory so far (Linux reports it in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
