"""French display filters, so templates never format amounts or dates by hand.

Usage: ``{% load french %}`` then ``{{ montant|euros }}``, ``{{ jour|date_fr }}``,
``{{ horodatage|datetime_fr }}``. ``None`` renders as an empty string (an
optional field left blank); anything else that is invalid — notably a float
amount — raises, because a wrong figure shown silently is worse than an error
caught in tests.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template

from amiable.core.dates import format_date, format_datetime
from amiable.core.money import format_money

register = template.Library()


@register.filter(name="euros")
def euros(value: Decimal | int | str | None) -> str:
    """``Decimal("1234.5")`` -> ``"1 234,50 €"`` (narrow no-break spaces, see ``format_money``)."""
    if value is None:
        return ""
    return format_money(value)


@register.filter(name="date_fr")
def date_fr(value: date | datetime | None) -> str:
    """Date or aware datetime -> ``"27/11/2026"``; datetimes are converted to local time first."""
    if value is None:
        return ""
    return format_date(value)


@register.filter(name="datetime_fr")
def datetime_fr(value: datetime | None) -> str:
    """Aware datetime -> ``"27/11/2026 à 14:05"`` in local (Paris) time."""
    if value is None:
        return ""
    return format_datetime(value)


@register.filter(name="pluriel")
def pluriel(value: int, suffix: str = "s") -> str:
    """French plural mark: ``0`` and ``1`` take the singular (« 0 dossier trouvé »), 2 and more the plural;
    Django's ``pluralize`` puts zero in the plural, as English does."""
    try:
        return suffix if abs(int(value)) >= 2 else ""
    except (TypeError, ValueError):
        return ""
