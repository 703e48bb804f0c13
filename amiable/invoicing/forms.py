"""Forms of the invoice pages: the filters of the list (agency and creditor) and the date an invoice was paid.
They only parse; the rules (dates, credit notes, who may) live in `amiable.invoicing.settlement`."""

from django import forms
from django.utils import timezone

from amiable.creditors.models import Creditor, Structure
from amiable.invoicing.models import InvoiceKind, InvoiceStatus


class InvoiceFilterForm(forms.Form):
    """Filters of an invoice list; the creditor and structure choices are those the person may see, and a
    creditor's staff (one creditor) get no creditor filter."""

    creditor = forms.ModelChoiceField(
        label="Créancier", queryset=Creditor.objects.none(), required=False, empty_label="Tous"
    )
    structure = forms.ModelChoiceField(
        label="Structure", queryset=Structure.objects.none(), required=False, empty_label="Toutes"
    )
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Tous")] + list(InvoiceKind.choices))
    status = forms.ChoiceField(label="État", required=False, choices=[("", "Tous")] + list(InvoiceStatus.choices))
    month = forms.DateField(
        label="Mois facturé",
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        error_messages={"invalid": "Mois illisible : choisissez un mois, par exemple 2026-11."},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).order_by("name", "pk")
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user).select_related("creditor").order_by("creditor__name", "code", "pk")
        )
        if not user.is_agency:
            del self.fields["creditor"]

    def filters(self) -> dict:
        """The selector's keyword arguments from a valid form (none from an invalid one)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "creditor_id": data["creditor"].pk if data.get("creditor") else None,
            "structure_id": data["structure"].pk if data.get("structure") else None,
            "kind": data.get("kind") or "",
            "status": data.get("status") or "",
            "month": data.get("month"),
        }


class PaidForm(forms.Form):
    """The day the structure's payment reached the agency's account."""

    paid_on = forms.DateField(
        label="Date du paiement",
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
