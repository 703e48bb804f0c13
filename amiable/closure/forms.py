"""Forms of the end of cases: each move asks its reason and an explicit confirmation."""

from django import forms
from django.utils import timezone

from amiable.closure.models import IrrecoverableReason
from amiable.closure.services import EVIDENCE_MAX_BYTES
from amiable.core.forms import SizedFileField

EVIDENCE_TYPES = (".pdf", ".jpg", ".jpeg", ".png")


class IrrecoverableForm(forms.Form):
    reason = forms.ChoiceField(label="Motif", choices=[("", "— choisir —"), *IrrecoverableReason.choices])
    evidence = forms.CharField(
        label="Justificatif (démarches, pièces, constats)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    evidence_file = SizedFileField(
        label="Pièce justificative (PDF, JPEG ou PNG, 10 Mo au plus)",
        required=False,
        max_bytes=EVIDENCE_MAX_BYTES,
    )
    confirm = forms.BooleanField(
        label="Je confirme : le dossier est clos sans commission et son certificat est délivré au créancier."
    )

    def clean_evidence_file(self):
        upload = self.cleaned_data.get("evidence_file")
        if upload is None:
            return None
        if not upload.name.lower().endswith(EVIDENCE_TYPES):
            raise forms.ValidationError("Joignez un fichier PDF, JPEG ou PNG.")
        return upload


class BulkCertificatesForm(forms.Form):
    reason = IrrecoverableForm.base_fields["reason"]
    evidence = forms.CharField(
        label="Justificatif commun aux dossiers cochés",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    confirm = forms.BooleanField(
        label="Je confirme : chaque dossier coché est clos sans commission et reçoit son propre certificat."
    )


class MoveForm(forms.Form):
    """A move that needs a reason and a confirmation (lift a suspension, reopen, return at the end of contract)."""

    reason = forms.CharField(label="Motif", widget=forms.Textarea(attrs={"rows": 2}), max_length=300)
    confirm = forms.BooleanField(label="Je confirme.")


class ReturnForm(forms.Form):
    returned_on = forms.DateField(label="Restituées le", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Précisions (mode de remise, destinataire…)", max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["returned_on"].initial = timezone.localdate()
