"""Forms of the shell: login by e-mail and the case search filters."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from amiable.cases.models import CaseStatus
from amiable.cases.search import MAX_QUERY, search_problem
from amiable.cases.selectors import CASE_SORTS
from amiable.creditors.models import Creditor, Structure


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form with the French wording of a personal e-mail login."""

    username = forms.EmailField(
        label="Adresse e-mail",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        "invalid_login": "Adresse e-mail ou mot de passe incorrect. Après plusieurs échecs, le compte est "
        "temporairement bloqué.",
        "inactive": "Ce compte est désactivé.",
    }


SORT_LABELS = {
    "recu": "Reçus le plus récemment",
    "recu_asc": "Reçus le plus anciennement",
    "reference": "Référence",
    "montant": "Reste dû décroissant",
    "debiteur": "Nom du débiteur",
}


class CaseFilterForm(forms.Form):
    """Search and filters of the case list; choices limited to what the user may see."""

    # No `max_length`: Django's own message would not say what to do; `clean_q` refuses with ours.
    q = forms.CharField(
        label="Rechercher (référence, nom, téléphone ou e-mail)",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": MAX_QUERY}),
    )
    creditor = forms.ModelChoiceField(
        label="Créancier", queryset=Creditor.objects.none(), required=False, empty_label="Tous"
    )
    structure = forms.ModelChoiceField(
        label="Structure", queryset=Structure.objects.none(), required=False, empty_label="Toutes"
    )
    status = forms.ChoiceField(label="Statut", required=False, choices=[("", "Tous")] + list(CaseStatus.choices))
    sort = forms.ChoiceField(label="Trier par", required=False, choices=[(k, SORT_LABELS[k]) for k in CASE_SORTS])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).order_by("name", "pk")
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user).select_related("creditor").order_by("creditor__name", "code", "pk")
        )
        if user.is_creditor_user:
            del self.fields["creditor"]

    def clean_q(self) -> str:
        """Refuse a query too long or with nothing to search, rather than listing every case (`cases.search`)."""
        problem = search_problem(self.cleaned_data["q"])
        if problem:
            self.fields["q"].widget.attrs["aria-describedby"] = self["q"].auto_id + "_error"
            raise forms.ValidationError(problem)
        return self.cleaned_data["q"]
