"""French display filters, so templates never format amounts or dates by hand.

Usage: ``{% load french %}`` then ``{{ montant|euros }}``, ``{{ jour|date_fr }}``,
``{{ horodatage|datetime_fr }}``, ``{{ taux_recouvrement|taux }}``. ``None`` renders as an empty string (an
optional field left blank; a rate without a base, « — »); anything else that is invalid — notably a float
amount — raises, because a wrong figure shown silently is worse than an error
caught in tests.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template

from amiable.core.dates import format_date, format_datetime
from amiable.core.money import format_count, format_money, format_percent

register = template.Library()


@register.filter(name="euros")
def euros(value: Decimal | int | str | None) -> str:
    """``Decimal("1234.5")`` -> ``"1 234,50 €"`` (narrow no-break spaces, see ``format_money``). Nothing (None,
    or the empty string a template gives for a figure missing from a dict) -> ``""``."""
    if value is None or value == "":
        return ""
    return format_money(value)


@register.filter(name="taux")
def taux(value: Decimal | None) -> str:
    """A percentage (``Decimal("12.3")``) -> ``"12,3 %"``; None (nothing to divide by) -> ``"—"``."""
    return format_percent(value)


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


@register.filter(name="milliers")
def milliers(value: int | None) -> str:
    """A count with its thousands apart, the French way: ``10000`` -> ``"10 000"`` (narrow no-break space)."""
    if value is None:
        return ""
    return format_count(value)


@register.filter(name="delai")
def delai(value: datetime | None) -> str:
    """Time left before a deadline, or how late it is: « reste 1 j 4 h », « en retard de 3 h »."""
    if value is None:
        return ""
    from django.utils import timezone

    seconds = int((value - timezone.now()).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        text_ = f"{days} j {hours} h" if hours else f"{days} j"
    elif hours:
        text_ = f"{hours} h {mins:02d}" if mins else f"{hours} h"
    else:
        text_ = f"{mins} min"
    return f"en retard de {text_}" if late else f"reste {text_}"
