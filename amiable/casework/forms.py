"""Forms of the case work: the « Actions » card of a case page and the « Ma journée » page. They only parse;
the rules live in `amiable.casework.services` and `amiable.contact.services`."""

from django import forms

from amiable.cases.models import ContactPoint, EventKind, Task
from amiable.contact.models import CallDirection, CallOutcome

OTHER_NUMBER = ""
DATE_WIDGET = {"type": "date"}


class CallForm(forms.Form):
    number_choice = forms.ChoiceField(label="Numéro appelé", required=False)
    number_other = forms.CharField(
        label="Autre numéro", required=False, max_length=30, help_text="Si le numéro n'est pas dans la liste."
    )
    direction = forms.ChoiceField(label="Sens", choices=CallDirection.choices, initial=CallDirection.OUTBOUND)
    outcome = forms.ChoiceField(label="Résultat", choices=CallOutcome.choices)
    promise_amount = forms.DecimalField(
        label="Promesse de paiement : montant (€)", required=False, max_digits=12, decimal_places=2, min_value=0.01
    )
    promise_due_on = forms.DateField(
        label="Promesse de paiement : pour le",
        required=False,
        widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"),
    )
    notes = forms.CharField(
        label="Notes (internes à l'agence)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, phones: list[ContactPoint] = (), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(p.value or p.raw_value, f"{p.display} ({p.get_quality_display().lower()})") for p in phones]
        self.fields["number_choice"].choices = [*choices, (OTHER_NUMBER, "Autre numéro (à saisir)")]
        if choices:
            self.fields["number_choice"].initial = choices[0][0]

    def clean(self):
        data = super().clean()
        number = (data.get("number_other") or "").strip() or data.get("number_choice") or ""
        if not number:
            raise forms.ValidationError("Choisissez le numéro appelé ou saisissez-en un.")
        data["number"] = number
        return data


class EventForm(forms.Form):
    kind = forms.ChoiceField(
        label="Événement", choices=[(k.value, k.label) for k in EventKind if k != EventKind.RETURNED_MAIL]
    )
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"))
    details = forms.CharField(
        label="Précisions", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReturnedMailForm(forms.Form):
    point = forms.ModelChoiceField(label="Adresse du courrier revenu", queryset=ContactPoint.objects.none())

    def __init__(self, *args, addresses=None, **kwargs):
        super().__init__(*args, **kwargs)
        if addresses is not None:
            self.fields["point"].queryset = addresses


class InvestigationForm(forms.Form):
    task = forms.ModelChoiceField(label="Recherche d'adresse", queryset=Task.objects.none())
    sources = forms.CharField(
        label="Sources consultées", max_length=200, help_text="Par exemple : annuaire, créancier, mairie."
    )
    result = forms.CharField(
        label="Résultat de la recherche", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    line1 = forms.CharField(label="Nouvelle adresse", required=False, max_length=200)
    line2 = forms.CharField(label="Complément d'adresse", required=False, max_length=200)
    postal_code = forms.CharField(label="Code postal", required=False, max_length=10)
    city = forms.CharField(label="Ville", required=False, max_length=100)

    def __init__(self, *args, tasks=None, **kwargs):
        super().__init__(*args, **kwargs)
        if tasks is not None:
            self.fields["task"].queryset = tasks

    def new_address(self) -> dict | None:
        address = {k: self.cleaned_data.get(k, "") for k in ("line1", "line2", "postal_code", "city")}
        return address if any(address.values()) else None


class DoNotContactForm(forms.Form):
    value = forms.TypedChoiceField(
        label="Opposition aux contacts",
        choices=[("1", "Ne plus contacter"), ("0", "Contacts autorisés")],
        coerce=lambda v: v == "1",
    )


class DayFilterForm(forms.Form):
    """The filters of « Ma journée »; `agent` (supervisors only) is an agent's id or « none » (no agent)."""

    type = forms.ChoiceField(label="Type", required=False)
    kind = forms.ChoiceField(label="Type de tâche", required=False)
    creditor = forms.ModelChoiceField(label="Créancier", required=False, queryset=None, empty_label="Tous")
    agent = forms.ChoiceField(label="Gestionnaire", required=False)

    def __init__(self, *args, types, kinds, creditors, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "Tout"), *types]
        self.fields["kind"].choices = [("", "Toutes"), *kinds]
        self.fields["creditor"].queryset = creditors
        if agents is None:
            del self.fields["agent"]
        else:
            self.agents = {str(person.pk): person for person in agents}
            people = [(pk, person.get_full_name() or person.email) for pk, person in self.agents.items()]
            self.fields["agent"].choices = [("", "Moi"), (UNASSIGNED_VALUE, "Non attribués"), *people]

    def clean_agent(self):
        """The person whose day is shown, None for « non attribués », or `ME` for one's own day."""
        value = self.cleaned_data.get("agent") or ""
        if value == UNASSIGNED_VALUE:
            return None
        return self.agents[value] if value else ME


UNASSIGNED_VALUE = "none"
ME = object()


class CaseIdsField(forms.MultipleChoiceField):
    """Case ids ticked on the page; the service checks that they exist."""

    def valid_value(self, value) -> bool:
        return str(value).isdigit()

    def clean(self, value) -> list[int]:
        return sorted({int(v) for v in super().clean(value)})


class ReassignForm(forms.Form):
    cases = CaseIdsField(
        label="Dossiers",
        error_messages={
            "required": "Sélectionnez au moins un dossier.",
            "invalid_choice": "Dossier inconnu : %(value)s.",
        },
    )
    agent = forms.ModelChoiceField(
        label="Confier à", queryset=None, error_messages={"invalid_choice": "Gestionnaire inconnu."}
    )

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents
