"""The filters of the « Échéances » pages: the creditor (agency only) and the kind of clock."""

from django import forms

from amiable.creditors.models import Creditor
from amiable.reporting.clocks import KINDS


class ClockFilterForm(forms.Form):
    creditor = forms.ModelChoiceField(
        label="Créancier", queryset=Creditor.objects.none(), required=False, empty_label="Tous"
    )
    kind = forms.ChoiceField(label="Échéance", required=False, choices=[("", "Toutes"), *KINDS.items()])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).order_by("name", "pk")
        if not user.is_agency:
            del self.fields["creditor"]
            # The agency's own invoicing is not a clock of the creditor's page.
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] != "invoice"]

    def filters(self) -> dict:
        """The selectors' keyword arguments from a valid form (none from an invalid one)."""
        if not self.is_valid():
            return {"creditor_id": None, "kind": ""}
        creditor = self.cleaned_data.get("creditor")
        return {"creditor_id": creditor.pk if creditor else None, "kind": self.cleaned_data.get("kind") or ""}
