"""Forms of the contact points card of the case page (agency staff): add, or correct, a phone or an e-mail."""

from django import forms

from amiable.cases.models import ContactKind


class ContactPointAddForm(forms.Form):
    kind = forms.ChoiceField(label="Type", choices=[(ContactKind.PHONE, "Téléphone"), (ContactKind.EMAIL, "E-mail")])
    value = forms.CharField(
        label="Numéro ou e-mail", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    verified = forms.BooleanField(label="Vérifiée auprès du débiteur (sinon : « Non vérifié »)", required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "coordonnee-%s")
        super().__init__(*args, **kwargs)


class ContactPointCorrectForm(forms.Form):
    value = forms.CharField(
        max_length=254, help_text="L'ancienne coordonnée reste dans l'historique, marquée invalide."
    )
    verified = forms.BooleanField(label="Vérifiée auprès du débiteur", required=False)

    def __init__(self, *args, point, **kwargs):
        kwargs.setdefault("auto_id", f"corriger-{point.pk}-%s")
        super().__init__(*args, **kwargs)
        phone = point.kind == ContactKind.PHONE
        self.fields["value"].label = "Numéro correct" if phone else "E-mail correct"
        self.fields["value"].widget.input_type = "tel" if phone else "email"
