"""Forms of the « Plan d'apurement » card: propose a plan (regular or custom schedule), record another proposal
of the debtor (C19). They parse only: the rules are those of `payments.plans`."""

import re
from datetime import date

from django import forms

from amiable.core.money import to_money
from amiable.payments.models import PlanRhythm
from amiable.payments.plans import MAX_INSTALMENTS

# « 15/04/2026 ; 40,00 », « 15/04/2026 40 € », « 2026-04-15;40.00 »
_LINE = re.compile(
    r"(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})\s*[;\t ]\s*([0-9][0-9\s\u00a0\u202f]*(?:[.,]\d{1,2})?)\s*€?"
)


def _parse_date(text: str) -> date:
    if "/" in text:
        day, month, year = (int(p) for p in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)


def parse_schedule(text: str) -> list[tuple[date, object]]:
    """The lines of a custom schedule, one instalment a line: a date (JJ/MM/AAAA) then an amount."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise forms.ValidationError(
                f"Ligne {number} illisible : « {line} » (attendu : une date JJ/MM/AAAA puis un montant, "
                "par exemple « 15/04/2026 ; 40,00 »)."
            )
        try:
            due_on = _parse_date(match.group(1))
        except ValueError as exc:
            raise forms.ValidationError(f"Ligne {number} : la date « {match.group(1)} » n'existe pas.") from exc
        try:
            amount = to_money(match.group(2))
        except ValueError as exc:
            raise forms.ValidationError(f"Ligne {number} : montant illisible « {match.group(2)} ».") from exc
        lines.append((due_on, amount))
    return lines


class PlanForm(forms.Form):
    count = forms.IntegerField(label="Nombre d'échéances", min_value=1, max_value=MAX_INSTALMENTS, required=False)
    rhythm = forms.ChoiceField(label="Rythme", choices=PlanRhythm.choices, initial=PlanRhythm.MONTHLY)
    first_due_on = forms.DateField(
        label="Date de la première échéance", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    custom = forms.CharField(
        label="Ou échéancier détaillé",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Une échéance par ligne : la date puis le montant, par exemple « 15/04/2026 ; 40,00 ». Les montants "
            "doivent totaliser exactement le reste dû. Rempli, il remplace le nombre et la date ci-dessus."
        ),
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if (data.get("custom") or "").strip():
            try:
                data["instalments"] = parse_schedule(data["custom"])
            except forms.ValidationError as exc:
                self.add_error("custom", exc)
                return data
            if not data["instalments"]:
                self.add_error("custom", "Aucune échéance dans l'échéancier détaillé.")
        else:
            data["instalments"] = None
            if data.get("count") is None:
                self.add_error("count", "Indiquez le nombre d'échéances (ou un échéancier détaillé).")
            if data.get("first_due_on") is None:
                self.add_error("first_due_on", "Indiquez la date de la première échéance.")
        return data

    def schedule(self) -> dict:
        """The keyword arguments of `plan_schedule` / `plan_propose`."""
        data = self.cleaned_data
        if data["instalments"]:
            return {"rhythm": data["rhythm"], "instalments": data["instalments"]}
        return {"rhythm": data["rhythm"], "count": data["count"], "first_due_on": data["first_due_on"]}


class SettlementProposalForm(forms.Form):
    proposal = forms.CharField(
        label="Proposition du débiteur",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Ce que le débiteur propose au lieu d'un paiement immédiat : règlement par un tiers, somme réduite, report…"
        ),
    )
    amount = forms.CharField(label="Montant proposé (facultatif)", required=False, max_length=20)
    dates = forms.CharField(
        label="Date(s) proposée(s) (facultatif)",
        required=False,
        max_length=300,
        help_text="Par exemple « le 15 de chaque mois à partir de mai » ou « 30/06/2026 ».",
    )

    def clean_amount(self):
        amount = self.cleaned_data["amount"].strip()
        if not amount:
            return None
        try:
            return to_money(amount.replace("€", "").strip())
        except ValueError as exc:
            raise forms.ValidationError(f"Montant illisible : « {amount} ».") from exc
