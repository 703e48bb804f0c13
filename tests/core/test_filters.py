"""Tests for the ``french`` template library (euros, date_fr, datetime_fr)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from amiable.core.templatetags.french import date_fr, datetime_fr, euros, pluriel, taux

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def paris_timezone():
    with timezone.override(ZoneInfo("Europe/Paris")):
        yield


def render(source: str, **context) -> str:
    return Template("{% load french %}" + source).render(Context(context))


# --- euros --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.56"), f"1{NNBSP}234,56{NBSP}€"),
        (1500, f"1{NNBSP}500,00{NBSP}€"),
        ("1234,5", f"1{NNBSP}234,50{NBSP}€"),
        (Decimal("-0.5"), f"-0,50{NBSP}€"),
        (None, ""),
        ("", ""),  # a figure missing from a report's summary: the page shows nothing rather than failing
    ],
)
def test_euros_filter_function(value, expected):
    assert euros(value) == expected


def test_euros_in_template():
    assert render("{{ amount|euros }}", amount=Decimal("1234567.891")) == f"1{NNBSP}234{NNBSP}567,89{NBSP}€"
    assert render("[{{ amount|euros }}]", amount=None) == "[]"


def test_euros_refuses_float_loudly():
    with pytest.raises(TypeError, match="flottant"):
        render("{{ amount|euros }}", amount=12.5)


# --- date_fr ------------------------------------------------------------------


def test_date_fr_with_date():
    assert date_fr(date(2026, 11, 27)) == "27/11/2026"
    assert render("{{ d|date_fr }}", d=date(2026, 1, 5)) == "05/01/2026"


def test_date_fr_converts_datetime_to_local_date_first():
    # 23:30 UTC on 27/11 is already 28/11 in Paris.
    assert render("{{ d|date_fr }}", d=datetime(2026, 11, 27, 23, 30, tzinfo=UTC)) == "28/11/2026"


def test_date_fr_none_is_empty():
    assert date_fr(None) == ""
    assert render("[{{ d|date_fr }}]", d=None) == "[]"


# --- datetime_fr --------------------------------------------------------------


def test_datetime_fr_in_local_time():
    moment = datetime(2026, 11, 27, 13, 5, tzinfo=UTC)
    assert datetime_fr(moment) == "27/11/2026 à 14:05"
    assert render("{{ m|datetime_fr }}", m=moment) == "27/11/2026 à 14:05"


def test_datetime_fr_dst_day():
    assert render("{{ m|datetime_fr }}", m=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == "29/03/2026 à 03:30"


def test_datetime_fr_none_is_empty():
    assert datetime_fr(None) == ""


@pytest.mark.parametrize(("count", "expected"), [(0, ""), (1, ""), (2, "s"), (25, "s"), (-3, "s"), ("x", "")])
def test_pluriel_follows_french_rule_for_zero_and_one(count, expected):
    assert pluriel(count) == expected


# --- taux -----------------------------------------------------------------------


def test_taux_renders_a_french_percentage_or_a_dash():
    assert taux(Decimal("12.3")) == f"12,3{NBSP}%"
    assert render("{{ rate|taux }}", rate=Decimal("6.9")) == f"6,9{NBSP}%"
    assert render("{{ rate|taux }}", rate=None) == "—"
