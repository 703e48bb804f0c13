"""Form fields shared by the apps: an amount typed the French way, an uploaded file bounded in size."""

import re
from decimal import Decimal

from django import forms
from django.conf import settings
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


def file_size_refusal(name: str, size: int, limit_bytes: int) -> str:
    """The French message for a file over its form's limit, naming the file, its size when known, and the limit."""
    received = f" ({size / (1024 * 1024):.1f} Mo)".replace(".", ",") if size else ""
    return f"Le fichier « {name} »{received} dépasse la taille maximale de {limit_bytes // (1024 * 1024)} Mo."


class SizedFileField(forms.FileField):
    """An uploaded file refused on its form when larger than `max_bytes` (default: the upload limit,
    AMIABLE_BATCH_MAX_MB), including one so large that the upload handler kept none of it
    (`amiable.core.uploads`): the form names the size instead of « Ce champ est obligatoire » or « vide »."""

    def __init__(self, *args, max_bytes: int | None = None, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(*args, **kwargs)

    def limit(self) -> int:
        return self.max_bytes or settings.AMIABLE_BATCH_MAX_MB * 1024 * 1024

    def to_python(self, data):
        if getattr(data, "too_large", False):
            raise ValidationError(file_size_refusal(data.name, data.received_size, self.limit()), code="too_large")
        file = super().to_python(data)
        if file is not None and file.size > self.limit():
            raise ValidationError(file_size_refusal(file.name, file.size, self.limit()), code="too_large")
        return file
