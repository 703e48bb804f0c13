"""Forms of the money pages: the « Paiements » card of a case (payment, reversal, refund, the creditor's
declaration of a direct payment) and the « Fonds de tiers » page. They only parse what was typed; the rules
(cash ceiling, overpayment, dates) live in `amiable.payments.services`, whose refusals name the field they
are about so that the form shows them beside it."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django import forms
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases
from amiable.core.forms import EXAMPLE, MoneyField
from amiable.core.money import ZERO, format_money
from amiable.core.views import show_refusal  # noqa: F401 (the payments views import it from here)
from amiable.payments.models import Payment, PaymentMethod
from amiable.payments.selectors import CaseMoney
from amiable.payments.services import CASH_LIMIT

DATE_WIDGET = {"type": "date"}
PREFIXES = {"payment": "paiement", "direct": "direct", "refund": "remboursement"}


def new_key() -> str:
    """A one-time token put in a form when it is shown: the service records one payment per token, so a
    double click or a resubmitted page records nothing twice."""
    return uuid.uuid4().hex


def _date_field(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label, initial=timezone.localdate, widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"), **kwargs
    )


def _key_field() -> forms.CharField:
    return forms.CharField(required=False, max_length=64, initial=new_key, widget=forms.HiddenInput)


class PaymentForm(forms.Form):
    """« Enregistrer un paiement » (agency staff)."""

    amount = MoneyField(label="Montant (€)", help_text=f"Par exemple : {EXAMPLE}")
    method = forms.ChoiceField(label="Moyen de paiement", choices=PaymentMethod.choices, initial=PaymentMethod.TRANSFER)
    collected_on = _date_field("Encaissé le")
    reference = forms.CharField(
        label="Référence", required=False, max_length=140, help_text="Numéro du chèque, libellé du virement…"
    )
    cash_reason = forms.CharField(
        label="Motif du paiement en espèces au-delà du plafond",
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    key = _key_field()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", PREFIXES["payment"])
        super().__init__(*args, **kwargs)

    def tell_cash_received(self, cash: Decimal) -> None:
        """The L4 warning beside the reason: what this debt already received in cash, and the ceiling."""
        self.fields["cash_reason"].help_text = (
            f"Espèces déjà reçues pour cette dette : {format_money(cash)}. Au-delà de "
            f"{format_money(CASH_LIMIT)} cumulés (articles L112-6 et D112-3 du code monétaire et financier), "
            "le motif est obligatoire : par exemple, débiteur sans domicile fiscal en France."
        )


class DirectPaymentForm(forms.Form):
    """« Déclarer un paiement reçu directement » (creditor staff, C22)."""

    amount = MoneyField(label="Montant reçu (€)", help_text=f"Par exemple : {EXAMPLE}")
    collected_on = _date_field("Reçu le")
    reference = forms.CharField(
        label="Référence", required=False, max_length=140, help_text="Numéro de quittance, de chèque…"
    )
    key = _key_field()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", PREFIXES["direct"])
        super().__init__(*args, **kwargs)


class ReversalForm(forms.Form):
    """« Rejeter » one payment (bounced cheque, chargeback, entry made by mistake)."""

    reversed_on = _date_field("Date du rejet")
    reason = forms.CharField(
        label="Motif du rejet", max_length=300, help_text="Chèque impayé, rétrofacturation, erreur de saisie…"
    )

    def __init__(self, *args, payment: Payment, **kwargs):
        kwargs.setdefault("prefix", f"rejet-{payment.pk}")
        super().__init__(*args, **kwargs)


class RefundForm(forms.Form):
    """« Rembourser » (part of) the overpayment to the debtor."""

    amount = MoneyField(label="Montant remboursé (€)")
    method = forms.ChoiceField(
        label="Moyen",
        choices=[(PaymentMethod.TRANSFER, "Virement"), (PaymentMethod.CHEQUE, "Chèque")],
        initial=PaymentMethod.TRANSFER,
    )
    refunded_on = _date_field("Remboursé le")
    reference = forms.CharField(label="Référence", required=False, max_length=140)
    key = _key_field()

    def __init__(self, *args, overpaid: Decimal = ZERO, **kwargs):
        kwargs.setdefault("prefix", PREFIXES["refund"])
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = f"Au plus le trop-perçu : {format_money(overpaid)}."
        if overpaid > ZERO:
            self.fields["amount"].initial = format_money(overpaid).removesuffix("\xa0€")


@dataclass
class PaymentCard:
    """The forms of the « Paiements » card that this person may use on this case, each unbound (with a new
    token) unless a submission came back refused; `rows` pairs every payment with its « Rejeter » form."""

    payment_form: PaymentForm | None = None
    direct_form: DirectPaymentForm | None = None
    refund_form: RefundForm | None = None
    rows: list[tuple[Payment, ReversalForm | None]] = field(default_factory=list)
    cash_received: Decimal = ZERO


def payment_card(*, case, user, money: CaseMoney, bound: forms.Form | None = None) -> PaymentCard:
    """What the card offers: agency staff record, reverse and refund; the case's creditor staff declare what
    they received directly. A closed case takes no payment: only its payments can still be reversed."""
    agency = can_work_cases(user)
    held = {p.pk: p for p in money.payments if not hasattr(p, "reversal")}
    cash = (p.amount for p in held.values() if p.method == PaymentMethod.CASH)
    card = PaymentCard(cash_received=sum(cash, ZERO))

    def refused(form_class) -> bool:  # a refused form comes back, even where the card would not offer it
        return type(bound) is form_class

    def pick(form_class, **kwargs):
        return bound if refused(form_class) else form_class(**kwargs)

    if agency and (case.accepts_payments or refused(PaymentForm)):
        card.payment_form = pick(PaymentForm)
        card.payment_form.tell_cash_received(card.cash_received)
    if agency and (case.overpaid_amount > ZERO or refused(RefundForm)):
        card.refund_form = pick(RefundForm, overpaid=case.overpaid_amount)
    creditor = getattr(user, "is_creditor_user", False)
    if creditor and ((case.accepts_payments and case.balance > ZERO) or refused(DirectPaymentForm)):
        card.direct_form = pick(DirectPaymentForm)
    for payment in money.payments:
        form = None
        if agency and payment.pk in held:
            mine = type(bound) is ReversalForm and bound.prefix == f"rejet-{payment.pk}"
            form = bound if mine else ReversalForm(payment=payment)
        card.rows.append((payment, form))
    return card


class ClientFundsForm(forms.Form):
    """The date of the balances and the period of the journal of the « Fonds de tiers » page."""

    at = _date_field("Soldes au", required=False)
    start = forms.DateField(
        label="Journal depuis le",
        required=False,
        help_text="Par défaut : le premier jour du mois de la date des soldes.",
        widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"),
    )

    def clean(self):
        data = super().clean()
        at, start = default_period(at=data.get("at"), start=data.get("start"))
        if start > at:
            self.add_error("start", "Le début du journal doit précéder la date des soldes.")
        data["at"], data["start"] = at, start
        return data


def default_period(*, at: date | None = None, start: date | None = None) -> tuple[date, date]:
    """The date of the balances (today by default) and the start of the journal (the first of that month)."""
    at = at or timezone.localdate()
    return at, start or at.replace(day=1)
