"""The form that asks for a quarter's statistics: the quarter (the one in progress and those before it, from
the contract's start) and, on the agency's page, the creditor. It only parses; the service decides."""

from django import forms

from amiable.creditors.models import ContractTerms, Creditor
from amiable.reporting.quarterly import recent_quarters


class QuarterForm(forms.Form):
    creditor = forms.ModelChoiceField(label="Créancier", queryset=Creditor.objects.none(), empty_label=None)
    quarter = forms.ChoiceField(label="Trimestre")

    def __init__(self, *args, creditor: Creditor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if creditor is None:
            self.fields["creditor"].queryset = Creditor.objects.filter(is_active=True).order_by("name", "pk")
            since = None
        else:
            del self.fields["creditor"]
            since = ContractTerms.objects.filter(creditor=creditor).values_list("contract_start", flat=True).first()
        quarters = recent_quarters(since=since)
        self.fields["quarter"].choices = [
            (q.label, f"{q.title}{' (en cours)' if index == 0 else ''}") for index, q in enumerate(quarters)
        ]
        if len(quarters) > 1:
            self.fields["quarter"].initial = quarters[1].label  # the last complete quarter
