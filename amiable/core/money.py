"""Money helpers: every amount in the project goes through here.

Amounts are always ``Decimal`` with exactly two places, rounded ROUND_HALF_UP
(the rounding people expect on an invoice). Floats are refused outright: a
float such as ``0.1`` is already wrong before any computation, and silently
accepting it would let rounding errors leak into accounting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "CENT",
    "ZERO",
    "format_money",
    "format_percent",
    "rate_percent",
    "split_by_weights",
    "split_evenly",
    "sum_money",
    "to_money",
]

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

# Spaces people (and spreadsheets) put between thousands: ASCII space,
# no-break space, narrow no-break space, thin space.
_GROUPING_SPACES = re.compile("[ \u00a0\u202f\u2009]")
# Only a plain number: optional sign, digits, optionally one decimal
# separator (dot or French comma) followed by digits. No exponent, no
# "1.234,56" mixing: that form is ambiguous, so it is refused.
_AMOUNT_RE = re.compile(r"[+-]?\d+(?:[.,]\d+)?")

_FLOAT_MESSAGE = "Montant en nombre flottant refusé : utilisez Decimal ou une chaîne."

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"


def _quantize(value: Decimal, original: object) -> Decimal:
    """Round to cents half-up; -0.00 is normalised so it never shows as "-0,00 €"."""
    try:
        result = value.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # too many digits for the decimal context
        raise ValueError(f"Montant invalide : {original!r}.") from exc
    return ZERO if result == 0 else result


def to_money(value: Decimal | int | str) -> Decimal:
    """Convert a user or database value to a 2-place Decimal.

    Accepts ``Decimal``, ``int`` and strings such as ``"1234.56"``,
    ``"1234,56"`` or ``"1 234,56"`` (grouping spaces, including the
    no-break ones produced by French formatting, are ignored). Floats and
    booleans raise ``TypeError``; NaN, infinities and unparsable strings
    raise ``ValueError``.
    """
    # bool is a subclass of int: True must not silently become 1.00.
    if isinstance(value, bool):
        raise TypeError("Montant booléen refusé : utilisez Decimal ou une chaîne.")
    if isinstance(value, float):
        raise TypeError(_FLOAT_MESSAGE)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"Montant invalide : {value!r} n'est pas un nombre fini.")
        return _quantize(value, value)
    if isinstance(value, int):
        return _quantize(Decimal(value), value)
    if isinstance(value, str):
        cleaned = _GROUPING_SPACES.sub("", value.strip())
        if not _AMOUNT_RE.fullmatch(cleaned):
            raise ValueError(f"Montant illisible : {value!r}.")
        return _quantize(Decimal(cleaned.replace(",", ".")), value)
    raise TypeError(f"Type de montant non pris en charge : {type(value).__name__}.")


def _to_cents(amount: Decimal) -> int:
    """Exact integer number of cents of an already-quantized amount."""
    return int(amount.scaleb(2))


def _from_cents(cents: int) -> Decimal:
    """Inverse of ``_to_cents``; always two places."""
    return _quantize(Decimal(cents).scaleb(-2), cents)


def split_evenly(total: Decimal | int | str, parts: int) -> list[Decimal]:
    """Split ``total`` into ``parts`` instalments whose sum is exactly ``total``.

    All instalments are equal (rounded down to the cent) except the LAST one,
    which absorbs the leftover cents: 100,00 / 3 -> 33,33 + 33,33 + 33,34.
    Putting the remainder at the end keeps the first payments "round" and
    makes the schedule easy to explain to the client.
    """
    if isinstance(parts, bool) or not isinstance(parts, int):
        raise TypeError("Le nombre d'échéances doit être un entier.")
    if parts < 1:
        raise ValueError(f"Le nombre d'échéances doit être au moins 1 (reçu : {parts}).")
    amount = to_money(total)
    if amount < 0:
        raise ValueError(f"Impossible d'échelonner un montant négatif : {amount}.")
    quotient, remainder = divmod(_to_cents(amount), parts)
    instalment = _from_cents(quotient)
    return [instalment] * (parts - 1) + [_from_cents(quotient + remainder)]


def _to_weight(weight: object) -> Decimal:
    """Validate one weight: Decimal or int, finite, non-negative; never float."""
    if isinstance(weight, bool):
        raise TypeError("Poids booléen refusé : utilisez Decimal ou un entier.")
    if isinstance(weight, float):
        raise TypeError("Poids en nombre flottant refusé : utilisez Decimal ou un entier.")
    if isinstance(weight, int):
        weight = Decimal(weight)
    if not isinstance(weight, Decimal):
        raise TypeError(f"Type de poids non pris en charge : {type(weight).__name__}.")
    if not weight.is_finite() or weight < 0:
        raise ValueError(f"Poids invalide : {weight!r} (un nombre fini positif ou nul est attendu).")
    return weight


def split_by_weights(total: Decimal | int | str, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` proportionally to ``weights``; the parts sum exactly to ``total``.

    Uses the largest remainder method on cents: each share is first rounded
    down, then the missing cents go one by one to the shares with the largest
    fractional part (ties: earliest position first, so the result is
    deterministic). A zero weight therefore always gets 0,00. A negative
    total (e.g. a reversal) is split like its absolute value, then negated,
    so a reversal mirrors the original split exactly.
    """
    checked = [_to_weight(w) for w in weights]
    if not checked:
        raise ValueError("Impossible de répartir un montant sans aucun poids.")
    weight_sum = sum(checked, Decimal(0))
    if weight_sum == 0:
        raise ValueError("Impossible de répartir un montant : la somme des poids est nulle.")
    amount = to_money(total)
    sign = -1 if amount < 0 else 1
    cents = abs(_to_cents(amount))
    # Fractions keep the proportional shares exact (no decimal context limits).
    exact = [Fraction(cents) * Fraction(w) / Fraction(weight_sum) for w in checked]
    floors = [int(share) for share in exact]  # shares are >= 0, so int() floors
    missing = cents - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in order[:missing]:
        floors[index] += 1
    return [_from_cents(sign * c) for c in floors]


def sum_money(values: Iterable[Decimal | int | str]) -> Decimal:
    """Sum amounts, each validated by ``to_money`` (so floats are refused too)."""
    total = ZERO
    for value in values:
        total += to_money(value)
    return _quantize(total, total)


def format_money(value: Decimal | int | str) -> str:
    """Format an amount the French way: ``1 234,56 €``.

    Thousands are separated by U+202F (narrow no-break space, the French
    typographic standard) and the euro sign is preceded by U+00A0 (no-break
    space) so a line never breaks inside an amount. Negatives: ``-1 234,56 €``.
    """
    amount = to_money(value)
    cents = abs(_to_cents(amount))
    units, hundredths = divmod(cents, 100)
    digits = str(units)
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    sign = "-" if amount < 0 else ""
    return f"{sign}{NARROW_NBSP.join(groups)},{hundredths:02d}{NBSP}€"


def rate_percent(part: Decimal | int | str | None, whole: Decimal | int | str | None) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to one decimal, rounded half-up: the recovery rate is what was
    recovered of what was claimed, by amount. None when there is no ``whole`` to divide by (no rate, not 0 %)."""
    whole = to_money(whole or ZERO)
    if whole <= 0:
        return None
    return (to_money(part or ZERO) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def format_count(value: int) -> str:
    """A count with its thousands apart, the French way: ``10000`` → ``10 000`` (narrow no-break space)."""
    return f"{int(value):,}".replace(",", "\u202f")


def format_percent(value: Decimal | None) -> str:
    """A percentage the French way, ``12,3 %`` (no-break space before the sign); « — » when there is none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        raise TypeError("Pourcentage en nombre flottant refusé : utilisez Decimal.")
    return f"{value:.1f}".replace(".", ",") + f"{NBSP}%"
