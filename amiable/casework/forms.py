"""Forms of the case work: the « Actions » card of a case page and the « Ma journée » page. They only parse;
the rules live in `amiable.casework.services` and `amiable.contact.services`."""

from datetime import date
from decimal import Decimal

from django import forms

from amiable.cases.models import ContactPoint, EventKind, Task
from amiable.contact.models import CallDirection, CallOutcome
from amiable.core.dates import format_date
from amiable.core.forms import EXAMPLE, MoneyField
from amiable.core.money import format_money

OTHER_NUMBER = ""
DATE_WIDGET = {"type": "date"}


class CallForm(forms.Form):
    number_choice = forms.ChoiceField(label="Numéro appelé", required=False)
    number_other = forms.CharField(
        label="Autre numéro", required=False, max_length=30, help_text="Si le numéro n'est pas dans la liste."
    )
    # No default: an agent who forgets to choose must not record an outbound call that was an inbound one.
    direction = forms.ChoiceField(
        label="Sens",
        choices=[("", "— choisir —"), *CallDirection.choices],
        error_messages={"required": "Choisissez le sens de l'appel."},
    )
    outcome = forms.ChoiceField(label="Résultat", choices=CallOutcome.choices)
    promise_amount = MoneyField(
        label="Promesse de paiement : montant (€)",
        required=False,
        help_text=f"Avec le résultat « {CallOutcome.PROMISE.label} » ; par exemple : {EXAMPLE}.",
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

    def __init__(
        self,
        *args,
        phones: list[ContactPoint] = (),
        balance: Decimal | None = None,
        today: date | None = None,
        latest_due_on: tuple[date, int] | None = None,
        **kwargs,
    ):
        """With the case's balance, today and the contract's latest promise date (`promise_latest_due_on`), the
        promise is checked here too, so that every error is shown at once beside its field; the service
        `call_record` applies the same rules to every caller."""
        super().__init__(*args, **kwargs)
        choices = [(p.value or p.raw_value, f"{p.display} ({p.get_quality_display().lower()})") for p in phones]
        self.fields["number_choice"].choices = [*choices, (OTHER_NUMBER, "Autre numéro (à saisir)")]
        if choices:
            self.fields["number_choice"].initial = choices[0][0]
        self.balance, self.today, self.latest_due_on = balance, today, latest_due_on
        if latest_due_on is not None:
            limit, months = latest_due_on
            self.fields[
                "promise_due_on"
            ].help_text = (
                f"Au plus tard le {format_date(limit)} ({months} mois, durée maximale d'un plan prévue au contrat)."
            )
            if today is not None:
                self.fields["promise_due_on"].widget.attrs.update({"min": today.isoformat(), "max": limit.isoformat()})

    def clean(self):
        data = super().clean()
        number = (data.get("number_other") or "").strip() or data.get("number_choice") or ""
        if number:
            data["number"] = number
        elif "number_other" not in self.errors:  # beside the number typed, and the promise is checked as well
            self.add_error("number_other", "Choisissez le numéro appelé ou saisissez-en un.")
        self._clean_promise(data)
        return data

    def _clean_promise(self, data: dict) -> None:
        amount, due_on = data.get("promise_amount"), data.get("promise_due_on")
        promised = amount is not None or due_on is not None
        if "promise_amount" in self.errors or "promise_due_on" in self.errors:
            return
        if data.get("outcome") != CallOutcome.PROMISE:
            if promised and "outcome" not in self.errors:
                self.add_error(
                    "outcome",
                    f"Une promesse de paiement s'enregistre avec le résultat « {CallOutcome.PROMISE.label} ».",
                )
            return
        if amount is None:
            self.add_error("promise_amount", "Indiquez le montant promis.")
        elif self.balance is not None and amount > self.balance:
            self.add_error(
                "promise_amount",
                f"Le montant promis ({format_money(amount)}) dépasse le reste dû ({format_money(self.balance)}).",
            )
        if due_on is None:
            self.add_error("promise_due_on", "Indiquez la date promise.")
        elif self.today is not None and due_on < self.today:
            self.add_error("promise_due_on", "La date promise est déjà passée.")
        elif self.latest_due_on is not None and due_on > self.latest_due_on[0]:
            limit, months = self.latest_due_on
            self.add_error(
                "promise_due_on",
                f"La date promise dépasse la durée maximale d'un plan prévue au contrat ({months} mois) : "
                f"au plus tard le {format_date(limit)}.",
            )


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
