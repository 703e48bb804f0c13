from django import forms

from amiable.core.forms import SizedFileField
from amiable.creditors.models import Creditor, Structure


class BatchUploadForm(forms.Form):
    """Upload of a batch file; agency staff choose the creditor, creditor staff upload for their own."""

    creditor = forms.ModelChoiceField(label="Créancier", queryset=Creditor.objects.none(), empty_label=None)
    # Refused on the form past AMIABLE_BATCH_MAX_MB, the field's default limit.
    file = SizedFileField(
        label="Fichier de créances",
        help_text="CSV (séparateur ; , ou tabulation) ou classeur XLSX, chiffré (OpenPGP) ou non selon les "
        "exigences du créancier indiquées sur cette page.",
    )
    structure = forms.ModelChoiceField(
        label="Structure (si le fichier n'a pas de colonne « structure »)",
        queryset=Structure.objects.none(),
        required=False,
        empty_label="Indiquée dans le fichier",
    )

    def __init__(self, *args, user, creditor: Creditor | None = None, **kwargs):
        """The structure list holds only the structures of the creditor transmitting: the person's own for
        creditor staff; for agency staff, the creditor posted, else the one chosen on the page (`creditor`),
        else the first of the list (the one the creditor field shows)."""
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.xlsx,.gpg,.pgp,.asc"
        creditors = Creditor.objects.visible_to(user).filter(is_active=True).order_by("name")
        self.fields["creditor"].queryset = creditors
        if user.is_creditor_user:
            del self.fields["creditor"]
            self.creditor = user.creditor
        else:
            posted = self.data.get("creditor") if self.is_bound else None
            chosen = creditors.filter(pk=posted).first() if posted and str(posted).isdigit() else None
            self.creditor = chosen or creditor or creditors.first()
            if self.creditor is not None:
                self.fields["creditor"].initial = self.creditor.pk
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user)
            .filter(is_active=True, creditor=self.creditor)
            .select_related("creditor")
            .order_by("code")
        )

    def clean(self):
        data = super().clean()
        creditor = data.get("creditor") or getattr(self, "creditor", None)
        structure = data.get("structure")
        if creditor and structure and structure.creditor_id != creditor.pk:
            self.add_error("structure", f"Cette structure n'appartient pas à {creditor.name}.")
        data["creditor"] = creditor
        return data
