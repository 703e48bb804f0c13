"""Forms of the shell: login by e-mail and the case search filters."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from amiable.cases.models import CaseStatus
from amiable.cases.search import MAX_QUERY, search_problem
from amiable.cases.selectors import CASE_SORTS, DEFAULT_SORT, OPEN_CASES
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
    "reference": "Référence (A → Z)",
    "-reference": "Référence (Z → A)",
    "debiteur": "Nom du débiteur (A → Z)",
    "-debiteur": "Nom du débiteur (Z → A)",
    "structure": "Structure (A → Z)",
    "-structure": "Structure (Z → A)",
    "montant": "Reste dû décroissant",
    "solde": "Reste dû croissant",
    "statut": "Statut (du nouveau au terminé)",
    "-statut": "Statut (du terminé au nouveau)",
    "action": "Prochaine action la plus proche",
    "-action": "Prochaine action la plus lointaine",
    "gestionnaire": "Gestionnaire (A → Z)",
    "-gestionnaire": "Gestionnaire (Z → A)",
}
# Orders on what only the agency sees (its tasks and agents).
AGENCY_SORTS = frozenset({"action", "-action", "gestionnaire", "-gestionnaire"})
AGE_LABELS = {
    "moins-3-mois": "Moins de 3 mois",
    "3-6-mois": "De 3 à 6 mois",
    "6-12-mois": "De 6 à 12 mois",
    "plus-12-mois": "Plus de 12 mois",
}
BALANCE_LABELS = {
    "moins-100": "Moins de 100 €",
    "100-500": "De 100 à 500 €",
    "500-2000": "De 500 à 2 000 €",
    "plus-2000": "2 000 € et plus",
}
# The agent filter's values besides an agent's id.
MINE, UNASSIGNED = "moi", "aucun"
# The filters of the list: with none of them in the address, an agent sees « Mes dossiers ».
FILTER_NAMES = frozenset({"q", "creditor", "structure", "status", "agent", "age", "solde", "a_traiter"})


class CaseFilterForm(forms.Form):
    """Search and filters of the case list; choices limited to what the user may see. Agency users also
    filter by agent (« Mes dossiers », « Non attribués » or one person) and by what is due today."""

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
    status = forms.ChoiceField(
        label="Statut", required=False, choices=[("", "Tous"), (OPEN_CASES, "Ouverts (tous)"), *CaseStatus.choices]
    )
    agent = forms.ChoiceField(label="Gestionnaire", required=False)
    age = forms.ChoiceField(
        label="Reçu depuis", required=False, choices=[("", "Toute ancienneté"), *AGE_LABELS.items()]
    )
    solde = forms.ChoiceField(label="Reste dû", required=False, choices=[("", "Tout montant"), *BALANCE_LABELS.items()])
    a_traiter = forms.BooleanField(
        label="À traiter aujourd'hui",
        required=False,
        help_text="Une tâche ouverte à faire aujourd'hui, en retard ou sans date.",
    )
    sort = forms.ChoiceField(label="Trier par", required=False, choices=[(k, SORT_LABELS[k]) for k in CASE_SORTS])

    def __init__(self, *args, user, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.visible_to(user).order_by("name", "pk")
        self.fields["structure"].queryset = (
            Structure.objects.visible_to(user).select_related("creditor").order_by("creditor__name", "code", "pk")
        )
        if user.is_creditor_user:
            del self.fields["creditor"]
        if user.is_agency:
            people = [(str(person.pk), str(person)) for person in (agents or [])]
            self.fields["agent"].choices = [
                ("", "Tous les dossiers"),
                (MINE, "Mes dossiers"),
                (UNASSIGNED, "Non attribués"),
                *people,
            ]
        else:
            for name in ("agent", "a_traiter"):
                del self.fields[name]
            self.fields["sort"].choices = [
                (k, label) for k, label in self.fields["sort"].choices if k not in AGENCY_SORTS
            ]

    def case_list_arguments(self, user) -> dict:
        """The keyword arguments of `case_list` for the filters given; an invalid one (an unknown agent, a
        structure out of reach) filters nothing."""
        self.is_valid()
        data = self.cleaned_data  # the fields that are valid, even when another is not
        creditor = data.get("creditor")
        structure = data.get("structure")
        agent = data.get("agent", "")
        return {
            "search": data.get("q", ""),
            "creditor_id": creditor.pk if creditor else None,
            "structure_id": structure.pk if structure else None,
            "status": data.get("status", ""),
            "agent_id": user.pk if agent == MINE else int(agent) if agent.isdigit() else None,
            "unassigned": agent == UNASSIGNED,
            "age_band": data.get("age", ""),
            "balance_band": data.get("solde", ""),
            "due_today": bool(data.get("a_traiter")),
            "sort": data.get("sort") or DEFAULT_SORT,
        }

    def clean_q(self) -> str:
        """Refuse a query too long or with nothing to search, rather than listing every case (`cases.search`)."""
        problem = search_problem(self.cleaned_data["q"])
        if problem:
            self.fields["q"].widget.attrs["aria-describedby"] = self["q"].auto_id + "_error"
            raise forms.ValidationError(problem)
        return self.cleaned_data["q"]
