"""Forms of the collaborative interface: comments, requests, decisions, recall, meeting slots."""

from django import forms

from amiable.approvals.models import ApprovalKind
from amiable.creditor_requests.models import RequestKind


class CommentForm(forms.Form):
    body = forms.CharField(label="Votre message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    internal = forms.BooleanField(label="Note interne (jamais visible du créancier)", required=False)


class CaseRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label="Demande",
        choices=[
            (RequestKind.QUESTION, RequestKind.QUESTION.label),
            (RequestKind.STATEMENT, RequestKind.STATEMENT.label),
        ],
    )
    body = forms.CharField(
        label="Précisions", widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000
    )

    def __init__(self, *args, terms=None, **kwargs):
        """With the creditor's contract terms, the statement's choice says its delay (C34)."""
        super().__init__(*args, **kwargs)
        if terms is not None:
            self.fields["kind"].choices = [
                (RequestKind.QUESTION, RequestKind.QUESTION.label),
                (RequestKind.STATEMENT, f"Décompte financier (sous {terms.statement_hours} h)"),
            ]


class MeetingRequestForm(forms.Form):
    body = forms.CharField(
        label="Objet de la réunion et disponibilités",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(label="Réponse", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)


class SlotsForm(forms.Form):
    slot1 = forms.DateTimeField(label="Créneau 1", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    slot2 = forms.DateTimeField(
        label="Créneau 2", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    slot3 = forms.DateTimeField(
        label="Créneau 3", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def slots(self) -> list:
        return [self.cleaned_data[k] for k in ("slot1", "slot2", "slot3") if self.cleaned_data.get(k)]


class ApprovalAskForm(forms.Form):
    kind = forms.ChoiceField(
        label="Objet",
        choices=[
            (ApprovalKind.COURT_ACTION, ApprovalKind.COURT_ACTION.label),
            (ApprovalKind.EXCHANGE, ApprovalKind.EXCHANGE.label),
        ],
    )
    proposal = forms.CharField(
        label="Proposition soumise au créancier", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    due_on = forms.DateField(
        label="Réponse souhaitée pour le", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Décision", choices=[("accept", "J'accepte"), ("refuse", "Je refuse")], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label="Commentaire (obligatoire en cas de refus)", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class RecallForm(forms.Form):
    reason = forms.CharField(label="Motif du retrait", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    confirm = forms.BooleanField(
        label="Je confirme le retrait immédiat de ce dossier : l'agence cesse toute action de recouvrement.",
    )


class PreferenceForm(forms.Form):
    email_urgent = forms.BooleanField(
        label="Recevoir immédiatement par e-mail les notifications urgentes", required=False
    )
    email_digest = forms.BooleanField(label="Recevoir un récapitulatif quotidien par e-mail", required=False)
