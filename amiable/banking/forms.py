from django import forms

from amiable.core.forms import SizedFileField
from amiable.creditors.models import Creditor


class StatementUploadForm(forms.Form):
    """A statement file received from the bank, as the bank sent it."""

    file = SizedFileField(
        label="Relevé bancaire",
        help_text="Relevé du compte des fonds de tiers au format camt.053 (XML, versions 001.02 à 001.08) ou "
        "CFONB 120 (relevé de compte 120 caractères).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".xml,.txt,.dat,.cfonb,.120"


class AssignForm(forms.Form):
    """The case a credit of the review queue pays, by its reference (and its creditor when two share it)."""

    reference = forms.CharField(label="Référence du dossier", max_length=64)
    creditor = forms.ModelChoiceField(
        label="Créancier (si plusieurs dossiers ont cette référence)",
        queryset=Creditor.objects.order_by("name"),
        required=False,
        empty_label="—",
    )


class LinkForm(forms.Form):
    payment = forms.IntegerField(label="Paiement déjà saisi", min_value=1)


class DismissForm(forms.Form):
    reason = forms.CharField(
        label="Motif",
        max_length=300,
        help_text="Pourquoi ce crédit n'est pas un paiement de débiteur (correction de la banque, virement interne…).",
    )
