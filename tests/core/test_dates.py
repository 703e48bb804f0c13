"""Tests for amiable.core.dates: Paris calendar, French holidays, business days, formatting."""

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from amiable.core import dates
from amiable.core.dates import (
    add_business_days,
    add_months,
    format_date,
    format_datetime,
    holiday_name,
    is_business_day,
    is_public_holiday,
    month_bounds,
    next_business_day,
    previous_week,
    quarter_bounds,
    quarter_bounds_of,
    quarter_of,
    today,
    week_bounds,
    weekday_on_or_after,
)

PARIS = ZoneInfo("Europe/Paris")
some_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@pytest.fixture(autouse=True)
def paris_timezone():
    """Pin the active time zone so these tests do not depend on another test's activation."""
    with timezone.override(PARIS):
        yield


# --- today --------------------------------------------------------------------


def test_today_is_the_paris_date_not_the_utc_date(monkeypatch):
    # 23:30 UTC on 31 Dec is already 1 Jan in Paris (UTC+1 in winter).
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert today() == date(2027, 1, 1)
    assert type(today()) is date


# --- weeks, months, quarters ----------------------------------------------------


def test_week_bounds_on_a_sunday_is_the_week_ending_that_day():
    assert week_bounds(date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_week_bounds_on_a_monday_and_midweek():
    assert week_bounds(date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert week_bounds(date(2026, 11, 27)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_week_bounds_across_year_end():
    assert week_bounds(date(2027, 1, 1)) == (date(2026, 12, 28), date(2027, 1, 3))


def test_previous_week():
    assert previous_week(date(2026, 11, 27)) == (date(2026, 11, 16), date(2026, 11, 22))
    assert previous_week(date(2026, 11, 29)) == (date(2026, 11, 16), date(2026, 11, 22))
    assert previous_week(date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_week_bounds_of_aware_datetime_uses_paris_date():
    # Sunday 22:30 UTC = Monday 00:30 in Paris (next week).
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert week_bounds(moment) == (date(2026, 11, 30), date(2026, 12, 6))


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="sans fuseau horaire"):
        week_bounds(datetime.fromisoformat("2026-11-27T12:00"))  # naive on purpose


@given(some_dates)
def test_week_bounds_properties(d):
    monday, sunday = week_bounds(d)
    assert monday.weekday() == 0
    assert sunday - monday == timedelta(days=6)
    assert monday <= d <= sunday
    prev_monday, prev_sunday = previous_week(d)
    assert prev_sunday == monday - timedelta(days=1)
    assert prev_monday.weekday() == 0


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2028, 2, 1), (date(2028, 2, 1), date(2028, 2, 29))),
        (date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
        (date(2026, 4, 30), (date(2026, 4, 1), date(2026, 4, 30))),
    ],
)
def test_month_bounds(d, expected):
    assert month_bounds(d) == expected


@pytest.mark.parametrize(
    ("d", "quarter"),
    [
        (date(2026, 1, 1), 1),
        (date(2026, 3, 31), 1),
        (date(2026, 4, 1), 2),
        (date(2026, 6, 30), 2),
        (date(2026, 7, 1), 3),
        (date(2026, 9, 30), 3),
        (date(2026, 10, 1), 4),
        (date(2026, 12, 31), 4),
    ],
)
def test_quarter_of(d, quarter):
    assert quarter_of(d) == quarter


@pytest.mark.parametrize(
    ("quarter", "expected"),
    [
        (1, (date(2026, 1, 1), date(2026, 3, 31))),
        (2, (date(2026, 4, 1), date(2026, 6, 30))),
        (3, (date(2026, 7, 1), date(2026, 9, 30))),
        (4, (date(2026, 10, 1), date(2026, 12, 31))),
    ],
)
def test_quarter_bounds_of(quarter, expected):
    assert quarter_bounds_of(2026, quarter) == expected


def test_quarter_bounds_of_date():
    assert quarter_bounds(date(2026, 11, 27)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert quarter_bounds(date(2026, 2, 28)) == (date(2026, 1, 1), date(2026, 3, 31))


@pytest.mark.parametrize("quarter", [0, 5, -1, True])
def test_quarter_bounds_of_refuses_invalid_quarter(quarter):
    with pytest.raises(ValueError, match="Trimestre invalide"):
        quarter_bounds_of(2026, quarter)


@given(some_dates)
def test_quarter_bounds_contain_the_date(d):
    first, last = quarter_bounds(d)
    assert first <= d <= last
    assert first.day == 1
    assert quarter_of(first) == quarter_of(last) == quarter_of(d)
    # The day after a quarter ends is the first day of the next quarter.
    following = last + timedelta(days=1)
    assert quarter_bounds(following)[0] == following
    assert quarter_of(following) == quarter_of(d) % 4 + 1


# --- add_months -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 10), -1, date(2025, 12, 10)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
    ],
)
def test_add_months_clamps_to_month_end(d, n, expected):
    assert add_months(d, n) == expected


@given(some_dates, st.integers(min_value=-120, max_value=120))
def test_add_months_properties(d, n):
    result = add_months(d, n)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == n
    last_day = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(d.day, last_day)


# --- holidays -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "name"),
    [
        (date(2026, 7, 14), "Fête nationale"),
        (date(2026, 4, 6), "Lundi de Pâques"),
        (date(2026, 5, 14), "Ascension"),
        (date(2026, 5, 25), "Lundi de Pentecôte"),
        (date(2026, 1, 1), "Jour de l'an"),
        (date(2026, 12, 25), "Noël"),
    ],
)
def test_french_public_holidays(d, name):
    assert is_public_holiday(d)
    assert holiday_name(d) == name
    assert not is_business_day(d)


@pytest.mark.parametrize(
    "d",
    [
        date(2026, 11, 27),
        date(2026, 4, 3),  # Good Friday: only a holiday in Alsace-Moselle
        date(2026, 12, 26),  # St Stephen: only in Alsace-Moselle
        date(2026, 4, 5),  # Easter Sunday itself is just a Sunday
    ],
)
def test_ordinary_days_are_not_holidays(d):
    assert not is_public_holiday(d)
    assert holiday_name(d) is None


def test_holiday_calendar_is_cached_per_year():
    dates._holidays_of_year.cache_clear()
    is_public_holiday(date(2031, 7, 14))
    is_public_holiday(date(2031, 8, 15))
    holiday_name(date(2031, 11, 11))
    info = dates._holidays_of_year.cache_info()
    assert info.misses == 1
    assert info.hits == 2


def test_holiday_calendar_cannot_be_mutated_by_callers():
    with pytest.raises(TypeError):
        dates._holidays_of_year(2026)[date(2026, 11, 27)] = "Faux férié"


# --- business days --------------------------------------------------------------


def test_is_business_day():
    assert is_business_day(date(2026, 11, 27))  # Friday
    assert not is_business_day(date(2026, 11, 28))  # Saturday
    assert not is_business_day(date(2026, 11, 29))  # Sunday
    assert not is_business_day(date(2026, 5, 1))  # Friday, Fête du Travail


def test_add_business_days_skips_weekends_and_holidays():
    assert add_business_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    assert add_business_days(date(2026, 11, 28), 1) == date(2026, 11, 30)  # Sat -> Mon
    assert add_business_days(date(2026, 4, 3), 1) == date(2026, 4, 7)  # Fri -> Tue (Easter Monday)
    assert add_business_days(date(2026, 5, 13), 2) == date(2026, 5, 18)  # skips Ascension + weekend
    assert add_business_days(date(2026, 11, 23), 5) == date(2026, 11, 30)


def test_add_business_days_zero_and_negative():
    assert add_business_days(date(2026, 11, 28), 0) == date(2026, 11, 28)
    assert add_business_days(date(2026, 11, 30), -1) == date(2026, 11, 27)
    assert add_business_days(date(2026, 4, 7), -1) == date(2026, 4, 3)


@given(some_dates, st.integers(min_value=1, max_value=30))
def test_add_business_days_properties(d, n):
    result = add_business_days(d, n)
    assert is_business_day(result)
    assert result > d
    days_after = (d + timedelta(days=i) for i in range(1, (result - d).days + 1))
    assert sum(is_business_day(day) for day in days_after) == n


def test_next_business_day():
    assert next_business_day(date(2026, 11, 27)) == date(2026, 11, 27)
    assert next_business_day(date(2026, 11, 28)) == date(2026, 11, 30)
    assert next_business_day(date(2026, 7, 14)) == date(2026, 7, 15)
    assert next_business_day(date(2026, 12, 25)) == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("d", "weekday", "expected"),
    [
        (date(2026, 11, 27), 4, date(2026, 11, 27)),  # Friday on a Friday: same day
        (date(2026, 11, 27), 3, date(2026, 12, 3)),  # next Thursday
        (date(2026, 11, 27), 0, date(2026, 11, 30)),
        (date(2026, 11, 29), 6, date(2026, 11, 29)),
    ],
)
def test_weekday_on_or_after(d, weekday, expected):
    assert weekday_on_or_after(d, weekday) == expected


@pytest.mark.parametrize("weekday", [-1, 7])
def test_weekday_on_or_after_refuses_invalid_weekday(weekday):
    with pytest.raises(ValueError, match="Jour de la semaine invalide"):
        weekday_on_or_after(date(2026, 11, 27), weekday)


# --- formatting -----------------------------------------------------------------


def test_format_date():
    assert format_date(date(2026, 11, 27)) == "27/11/2026"
    assert format_date(date(2026, 1, 5)) == "05/01/2026"


def test_format_date_converts_aware_datetime_to_paris_first():
    assert format_date(datetime(2026, 11, 27, 23, 30, tzinfo=UTC)) == "28/11/2026"


def test_format_datetime():
    moment = datetime(2026, 11, 27, 13, 5, tzinfo=UTC)  # winter: UTC+1
    assert format_datetime(moment) == "27/11/2026 à 14:05"


def test_format_datetime_is_dst_safe():
    # Clocks jump from 02:00 to 03:00 (Paris) on 29/03/2026 at 01:00 UTC.
    assert format_datetime(datetime(2026, 3, 29, 0, 30, tzinfo=UTC)) == "29/03/2026 à 01:30"
    assert format_datetime(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == "29/03/2026 à 03:30"
    # And back from 03:00 to 02:00 on 25/10/2026 at 01:00 UTC.
    assert format_datetime(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "25/10/2026 à 02:30"
    assert format_datetime(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "25/10/2026 à 02:30"


def test_format_datetime_with_other_zone_input():
    moment = datetime(2026, 11, 27, 8, 5, tzinfo=ZoneInfo("America/New_York"))
    assert format_datetime(moment) == "27/11/2026 à 14:05"


def test_format_datetime_refuses_naive_and_plain_dates():
    with pytest.raises(ValueError, match="sans fuseau horaire"):
        format_datetime(datetime.fromisoformat("2026-11-27T14:05"))  # naive on purpose
    with pytest.raises(TypeError):
        format_datetime(date(2026, 11, 27))
