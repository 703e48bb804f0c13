"""Tests for amiable.core.money: exact cents, half-up rounding, no floats, French display."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amiable.core.money import (
    ZERO,
    format_count,
    format_money,
    format_percent,
    rate_percent,
    split_by_weights,
    split_evenly,
    sum_money,
    to_money,
)

NNBSP = "\u202f"  # narrow no-break space (thousands)
NBSP = "\u00a0"  # no-break space (before €)

# Two-place amounts, including negatives and large values.
money_values = st.decimals(
    min_value=Decimal(-1000000000),
    max_value=Decimal(1000000000),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
non_negative_money = st.decimals(min_value=Decimal(0), max_value=Decimal(10000000), places=2)


# --- to_money -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (Decimal("12.3"), Decimal("12.30")),
        (42, Decimal("42.00")),
        ("1234.56", Decimal("1234.56")),
        ("1234,56", Decimal("1234.56")),
        ("  -7,5 ", Decimal("-7.50")),
        ("1 234,56", Decimal("1234.56")),
        (f"1{NNBSP}234{NNBSP}567,89", Decimal("1234567.89")),
        (f"1{NBSP}234,56", Decimal("1234.56")),
        ("+3", Decimal("3.00")),
    ],
)
def test_to_money_accepts_decimal_int_and_strings(raw, expected):
    result = to_money(raw)
    assert result == expected
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.675", Decimal("2.68")),
        ("0.005", Decimal("0.01")),
        ("-0.005", Decimal("-0.01")),
        ("2.665", Decimal("2.67")),  # half-even would give 2.66
        ("0.004", Decimal("0.00")),
        (Decimal("1.125"), Decimal("1.13")),
    ],
)
def test_to_money_rounds_half_up(raw, expected):
    assert to_money(raw) == expected


def test_to_money_never_returns_negative_zero():
    result = to_money("-0.001")
    assert result == ZERO
    assert not result.is_signed()


@pytest.mark.parametrize("raw", [0.1, 1.0, float("nan")])
def test_to_money_refuses_floats_with_french_message(raw):
    with pytest.raises(TypeError) as excinfo:
        to_money(raw)
    assert str(excinfo.value) == "Montant en nombre flottant refusé : utilisez Decimal ou une chaîne."


@pytest.mark.parametrize("raw", [True, False])
def test_to_money_refuses_booleans(raw):
    with pytest.raises(TypeError):
        to_money(raw)


def test_to_money_refuses_other_types():
    with pytest.raises(TypeError):
        to_money(None)


@pytest.mark.parametrize("raw", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_to_money_refuses_non_finite_decimals(raw):
    with pytest.raises(ValueError, match="Montant invalide"):
        to_money(raw)


@pytest.mark.parametrize("raw", ["", "abc", "1.234,56", "12,34,56", "1e3", "NaN", "Infinity", "12 €", ".5"])
def test_to_money_refuses_unparsable_strings_and_names_them(raw):
    with pytest.raises(ValueError, match="Montant illisible") as excinfo:
        to_money(raw)
    assert repr(raw) in str(excinfo.value)


def test_to_money_refuses_values_too_large_for_decimal_context():
    with pytest.raises(ValueError, match="Montant invalide"):
        to_money(Decimal("1E+40"))


@given(money_values)
def test_to_money_round_trips_through_dot_and_comma_strings(amount):
    assert to_money(str(amount)) == amount
    assert to_money(str(amount).replace(".", ",")) == amount
    assert to_money(amount) == amount


@given(money_values)
def test_to_money_reads_back_french_formatting_without_euro_sign(amount):
    shown = format_money(amount).removesuffix(f"{NBSP}€")
    assert to_money(shown) == amount


# --- split_evenly -------------------------------------------------------------


def test_split_evenly_last_instalment_absorbs_remainder():
    assert split_evenly(Decimal("100.00"), 3) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert split_evenly("0.05", 3) == [Decimal("0.01"), Decimal("0.01"), Decimal("0.03")]


def test_split_evenly_exact_division_and_single_part():
    assert split_evenly(90, 3) == [Decimal("30.00")] * 3
    assert split_evenly("12.34", 1) == [Decimal("12.34")]
    assert split_evenly(0, 4) == [ZERO] * 4


@pytest.mark.parametrize("parts", [0, -1])
def test_split_evenly_refuses_fewer_than_one_part(parts):
    with pytest.raises(ValueError, match="au moins 1"):
        split_evenly(Decimal(10), parts)


def test_split_evenly_refuses_non_integer_parts():
    with pytest.raises(TypeError):
        split_evenly(Decimal(10), 2.0)


def test_split_evenly_refuses_negative_total():
    with pytest.raises(ValueError, match="négatif"):
        split_evenly(Decimal("-10.00"), 2)


def test_split_evenly_refuses_float_total():
    with pytest.raises(TypeError):
        split_evenly(10.0, 2)


@given(non_negative_money, st.integers(min_value=1, max_value=120))
def test_split_evenly_properties(total, parts):
    result = split_evenly(total, parts)
    assert len(result) == parts
    assert sum(result) == total
    assert all(part >= 0 for part in result)
    assert all(part.as_tuple().exponent == -2 for part in result)
    # All instalments but the last are identical.
    assert len(set(result[:-1])) <= 1
    # The last one only carries the leftover cents: fewer than `parts` cents more.
    remainder = result[-1] - result[0]
    assert Decimal(0) <= remainder < Decimal(parts) * Decimal("0.01")


# --- split_by_weights ---------------------------------------------------------


def test_split_by_weights_largest_remainder():
    # 100 / 3 -> 33.333.. each; one leftover cent goes to the first (tie -> earliest).
    assert split_by_weights(Decimal(100), [Decimal(1)] * 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    # 10.00 split 2:1 -> 6.666.. / 3.333..: the larger fractional part wins the cent.
    assert split_by_weights("10", [Decimal(2), Decimal(1)]) == [Decimal("6.67"), Decimal("3.33")]


def test_split_by_weights_zero_weight_gets_nothing():
    assert split_by_weights("1.00", [Decimal(0), Decimal(1), Decimal(1), Decimal(1)]) == [
        ZERO,
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]


def test_split_by_weights_negative_total_mirrors_positive():
    weights = [Decimal("0.7"), Decimal("0.2"), Decimal("0.1")]
    positive = split_by_weights("99.99", weights)
    assert split_by_weights("-99.99", weights) == [-p for p in positive]


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ([], ValueError),
        ([Decimal(0), Decimal(0)], ValueError),
        ([Decimal(-1), Decimal(2)], ValueError),
        ([Decimal("NaN")], ValueError),
        ([0.5, 0.5], TypeError),
        ([True], TypeError),
    ],
)
def test_split_by_weights_refuses_bad_weights(weights, error):
    with pytest.raises(error):
        split_by_weights("10", weights)


@given(
    money_values,
    st.lists(
        st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=3),
        min_size=1,
        max_size=15,
    ).filter(lambda ws: sum(ws) > 0),
)
def test_split_by_weights_sums_exactly_and_stays_within_a_cent(total, weights):
    result = split_by_weights(total, weights)
    assert len(result) == len(weights)
    assert sum(result) == total
    weight_sum = sum(weights)
    for share, weight in zip(result, weights, strict=True):
        assert share.as_tuple().exponent == -2
        ideal = total * weight / weight_sum
        assert abs(share - ideal) < Decimal("0.01")
        if weight == 0:
            assert share == 0


# --- sum_money ----------------------------------------------------------------


def test_sum_money_adds_mixed_inputs_exactly():
    assert sum_money([Decimal("0.10"), "0,20", 1, "1 000.005"]) == Decimal("1001.31")
    assert sum_money([]) == ZERO


def test_sum_money_refuses_floats():
    with pytest.raises(TypeError):
        sum_money([Decimal(1), 0.1])


# --- format_money -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.56"), f"1{NNBSP}234,56{NBSP}€"),
        (Decimal("-1234.56"), f"-1{NNBSP}234,56{NBSP}€"),
        (Decimal(0), f"0,00{NBSP}€"),
        (Decimal(5), f"5,00{NBSP}€"),
        ("999.999", f"1{NNBSP}000,00{NBSP}€"),
        (1234567, f"1{NNBSP}234{NNBSP}567,00{NBSP}€"),
        ("-0.5", f"-0,50{NBSP}€"),
        ("123456.7", f"123{NNBSP}456,70{NBSP}€"),
    ],
)
def test_format_money_french_typography(value, expected):
    assert format_money(value) == expected


def test_format_money_uses_the_exact_space_characters():
    text = format_money(Decimal("1234.56"))
    assert [hex(ord(c)) for c in text] == [
        "0x31",
        "0x202f",
        "0x32",
        "0x33",
        "0x34",
        "0x2c",
        "0x35",
        "0x36",
        "0xa0",
        "0x20ac",
    ]
    assert " " not in text


def test_format_money_refuses_floats():
    with pytest.raises(TypeError):
        format_money(1.5)


# --- rate_percent, format_percent ---------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        ("40.00", "120.50", Decimal("33.2")),
        ("90.00", "1300.00", Decimal("6.9")),
        ("0.00", "100.00", Decimal("0.0")),
        ("100.00", "100.00", Decimal("100.0")),
        ("1.00", "8.00", Decimal("12.5")),  # 12,5 exactly
        ("1.00", "800.00", Decimal("0.1")),  # 0,125 rounds half-up
        (None, "10.00", Decimal("0.0")),
    ],
)
def test_rate_percent_one_decimal_half_up(part, whole, expected):
    assert rate_percent(part, whole) == expected


@pytest.mark.parametrize("whole", [None, "0", ZERO])
def test_rate_percent_without_a_whole_is_none_not_zero(whole):
    assert rate_percent("10.00", whole) is None


def test_rate_percent_refuses_floats():
    with pytest.raises(TypeError):
        rate_percent(0.1, "10.00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.3"), f"12,3{NBSP}%"),
        (Decimal("100"), f"100,0{NBSP}%"),
        (Decimal("0.0"), f"0,0{NBSP}%"),
        (None, "—"),
    ],
)
def test_format_percent_french_typography(value, expected):
    assert format_percent(value) == expected


def test_format_count_sets_thousands_apart():
    assert [format_count(n) for n in (0, 999, 1000, 10001, 1_000_000)] == [
        "0",
        "999",
        "1\u202f000",
        "10\u202f001",
        "1\u202f000\u202f000",
    ]
