from django import forms

from amiable.creditors.models import Creditor, Structure


class BatchUploadForm(forms.Form):
    """Upload of a batch file; agency staff choose the creditor, creditor staff upload for their own."""

    creditor = forms.ModelChoiceField(label="Créancier", queryset=Creditor.objects.none(), empty_label=None)
    file = forms.FileField(
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

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.xlsx,.gpg,.pgp,.asc"
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).filter(is_active=True).order_by("name")
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user)
            .filter(is_active=True)
            .select_related("creditor")
            .order_by("creditor__name", "code")
        )
        if user.is_creditor_user:
            del self.fields["creditor"]
            self.creditor = user.creditor

    def clean(self):
        data = super().clean()
        creditor = data.get("creditor") or getattr(self, "creditor", None)
        structure = data.get("structure")
        if creditor and structure and structure.creditor_id != creditor.pk:
            self.add_error("structure", f"Cette structure n'appartient pas à {creditor.name}.")
        data["creditor"] = creditor
        return data
