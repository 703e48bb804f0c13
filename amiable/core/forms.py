"""Form fields shared by the apps: an amount typed the French way."""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from amiable.core.money import CENT, NARROW_NBSP, format_money, to_money

MAX_AMOUNT = Decimal("9999999999.99")  # what the amount columns hold (12 digits, 2 decimals)
TOO_PRECISE = re.compile(r"[.,]\d{3,}\s*$")
EXAMPLE = f"1{NARROW_NBSP}234,56"  # as amounts are shown everywhere; any space typed is accepted


class MoneyField(forms.Field):
    """An amount typed the French way (« 1 234,56 », or « 1234.56 »): a Decimal of two places, at least
    0,01 €. Rounding a third decimal silently would record another amount than the one typed: refused."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "maxlength": "30"})
    default_error_messages = {
        "invalid": f"Montant illisible : saisissez par exemple « {EXAMPLE} ».",
        "precision": "Deux décimales au plus : saisissez les centimes, par exemple « 12,35 ».",
        "min": f"Le montant doit être d'au moins {format_money(CENT)}.",
        "max": f"Le montant ne peut pas dépasser {format_money(MAX_AMOUNT)}.",
    }

    def to_python(self, value):
        value = str(value).strip() if value is not None else ""
        if not value:
            return None
        if len(value) > 30:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if TOO_PRECISE.search(value):
            raise ValidationError(self.error_messages["precision"], code="precision")
        try:
            amount = to_money(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if amount < CENT:
            raise ValidationError(self.error_messages["min"], code="min")
        if amount > MAX_AMOUNT:
            raise ValidationError(self.error_messages["max"], code="max")
        return amount
