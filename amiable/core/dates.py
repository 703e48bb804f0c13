"""Calendar helpers for a French business (Europe/Paris).

"Today" must always be the local date in Paris, never the server's date
(``date.today()``) nor a naive datetime: around midnight UTC the two differ
and a payment would land in the wrong day, week or quarter. Everything here
therefore relies on Django's time-zone machinery (``TIME_ZONE`` is
Europe/Paris) and refuses naive datetimes.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays
from django.utils import timezone

__all__ = [
    "add_business_days",
    "add_months",
    "format_date",
    "format_datetime",
    "holiday_name",
    "is_business_day",
    "is_public_holiday",
    "month_bounds",
    "next_business_day",
    "previous_week",
    "quarter_bounds",
    "quarter_bounds_of",
    "quarter_of",
    "today",
    "week_bounds",
    "weekday_on_or_after",
]

_ONE_DAY = timedelta(days=1)


def today() -> date:
    """Current date in the active (Paris) time zone, not the server's."""
    return timezone.localdate()


def _as_date(value: date) -> date:
    """Reduce a date or an aware datetime to a local calendar date.

    A datetime is a ``date`` subclass, so without this it would slip through
    and produce datetimes (or UTC dates) where a day is expected.
    """
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            raise ValueError(f"Date et heure sans fuseau horaire refusée : {value!r}.")
        return timezone.localdate(value)
    if not isinstance(value, date):
        raise TypeError(f"Une date est attendue, reçu : {type(value).__name__}.")
    return value


def week_bounds(d: date) -> tuple[date, date]:
    """(Monday, Sunday) of the week containing ``d`` — French weeks start on Monday."""
    d = _as_date(d)
    monday = d - timedelta(days=d.weekday())
    return monday, monday + timedelta(days=6)


def previous_week(d: date) -> tuple[date, date]:
    """(Monday, Sunday) of the week before the one containing ``d`` (weekly reports)."""
    return week_bounds(_as_date(d) - timedelta(days=7))


def month_bounds(d: date) -> tuple[date, date]:
    """First and last day of the month containing ``d``."""
    d = _as_date(d)
    last_day = calendar.monthrange(d.year, d.month)[1]
    return d.replace(day=1), d.replace(day=last_day)


def quarter_of(d: date) -> int:
    """Calendar quarter (1 to 4) of ``d``, as used for tax returns."""
    return (_as_date(d).month - 1) // 3 + 1


def quarter_bounds_of(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of ``quarter`` (1 to 4) of ``year``."""
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        raise ValueError(f"Trimestre invalide : {quarter!r} (attendu : 1 à 4).")
    first_month = 3 * (quarter - 1) + 1
    last_month = first_month + 2
    return (
        date(year, first_month, 1),
        date(year, last_month, calendar.monthrange(year, last_month)[1]),
    )


def quarter_bounds(d: date) -> tuple[date, date]:
    """First and last day of the quarter containing ``d``."""
    d = _as_date(d)
    return quarter_bounds_of(d.year, quarter_of(d))


def add_months(d: date, n: int) -> date:
    """The same day ``n`` months later (``n`` may be negative), clamped to month end.

    31 January + 1 month = 28 (or 29) February: a monthly due date must stay
    in the intended month rather than overflow into the next one.
    """
    d = _as_date(d)
    month_index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(month_index, 12)
    month = month0 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


@lru_cache(maxsize=64)
def _holidays_of_year(year: int) -> Mapping[date, str]:
    """French metropolitan public holidays of ``year``, computed once per year.

    Metropolitan France only (no subdivision): Alsace-Moselle's extra days
    (Good Friday, 26 December) are not included. The result is read-only
    because it is shared by every caller through the cache.
    """
    calendar_fr = holidays.France(years=year, language="fr")
    return MappingProxyType({day: name for day, name in calendar_fr.items() if day.year == year})


def is_public_holiday(d: date) -> bool:
    """True if ``d`` is a public holiday (jour férié) in metropolitan France."""
    d = _as_date(d)
    return d in _holidays_of_year(d.year)


def holiday_name(d: date) -> str | None:
    """French name of the public holiday on ``d`` (e.g. "Fête nationale"), or None."""
    d = _as_date(d)
    return _holidays_of_year(d.year).get(d)


def is_business_day(d: date) -> bool:
    """Monday to Friday and not a public holiday (jour ouvré)."""
    d = _as_date(d)
    return d.weekday() < 5 and not is_public_holiday(d)


def add_business_days(d: date, n: int) -> date:
    """Move ``n`` business days from ``d`` (backwards if ``n`` < 0).

    Counting starts the day after ``d``, so ``d`` itself need not be a
    business day: Saturday + 1 business day = Monday (or Tuesday if the
    Monday is a holiday). ``n == 0`` returns ``d`` unchanged.
    """
    d = _as_date(d)
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        d += step
        if is_business_day(d):
            remaining -= 1
    return d


def next_business_day(d: date) -> date:
    """``d`` itself if it is a business day, otherwise the following one."""
    d = _as_date(d)
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def weekday_on_or_after(d: date, weekday: int) -> date:
    """First date on or after ``d`` falling on ``weekday`` (0 = Monday … 6 = Sunday).

    Used for remittance days ("every Thursday"): if ``d`` already is that
    weekday, it is returned as-is.
    """
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValueError(f"Jour de la semaine invalide : {weekday!r} (attendu : 0 = lundi à 6 = dimanche).")
    d = _as_date(d)
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def format_date(d: date) -> str:
    """French numeric date ``27/11/2026``; aware datetimes are converted to local time first."""
    d = _as_date(d)
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def format_datetime(dt: datetime) -> str:
    """``27/11/2026 à 14:05`` in local (Paris) time; naive datetimes are refused.

    Conversion goes through ``timezone.localtime`` so DST transitions are
    handled by zoneinfo rather than by a fixed offset.
    """
    if not isinstance(dt, datetime):
        raise TypeError(f"Une date et heure est attendue, reçu : {type(dt).__name__}.")
    if timezone.is_naive(dt):
        raise ValueError(f"Date et heure sans fuseau horaire refusée : {dt!r}.")
    local = timezone.localtime(dt)
    return f"{format_date(local.date())} à {local.hour:02d}:{local.minute:02d}"
