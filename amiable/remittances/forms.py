"""Forms of the remittance pages: the filters of the list (agency and creditor) and the date the transfer
was executed. They only parse; the rules (dates, who may) live in `amiable.remittances.execution`."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from amiable.creditors.models import Creditor, Structure
from amiable.remittances.models import RemittanceStatus

DATE_WIDGET = {"type": "date"}


def _date(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"), **kwargs)


class RemittanceFilterForm(forms.Form):
    """Filters of a remittance list; the creditor and structure choices are those the person may see, and a
    creditor's staff (one creditor) get no creditor filter."""

    creditor = forms.ModelChoiceField(
        label="Créancier", queryset=Creditor.objects.none(), required=False, empty_label="Tous"
    )
    structure = forms.ModelChoiceField(
        label="Structure", queryset=Structure.objects.none(), required=False, empty_label="Toutes"
    )
    status = forms.ChoiceField(label="État", required=False, choices=[("", "Tous")] + list(RemittanceStatus.choices))
    start = _date("Semaines depuis le", required=False)
    end = _date("jusqu'au", required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).order_by("name", "pk")
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user).select_related("creditor").order_by("creditor__name", "code", "pk")
        )
        if not user.is_agency:
            del self.fields["creditor"]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("La première date doit précéder la seconde.")
        return data

    def filters(self) -> dict:
        """The selector's keyword arguments from a valid form (none from an invalid one)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "creditor_id": data["creditor"].pk if data.get("creditor") else None,
            "structure_id": data["structure"].pk if data.get("structure") else None,
            "status": data.get("status") or "",
            "start": data.get("start"),
            "end": data.get("end"),
        }


class ExecutedForm(forms.Form):
    """The day the bank executed the transfer, as its statement shows it."""

    executed_on = _date("Date d'exécution du virement", initial=timezone.localdate)
