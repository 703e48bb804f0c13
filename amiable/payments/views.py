"""Pages of the money: the forms of the « Paiements » card of a case page, and the « Fonds de tiers » page.
Thin: parse a form, call one service, go back to the case page with a French message. A refused submission
comes back on a page of its own that shows the card with what was typed and the error beside its field.
Every case URL answers 404 for a case the person may not see; agency forms answer 403 to creditor staff."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amiable.accounts.permissions import can_view_client_funds
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import agency_case
from amiable.cases.models import Case
from amiable.cases.selectors import case_get
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money, sum_money, to_money
from amiable.ledger.models import LedgerAccount, LedgerEntry
from amiable.ledger.selectors import ledger_balance, ledger_entries, ledger_held_per_structure, ledger_owed_per_case
from amiable.payments.forms import (
    ClientFundsForm,
    DirectPaymentForm,
    PaymentForm,
    RefundForm,
    ReversalForm,
    default_period,
    payment_card,
    show_refusal,
)
from amiable.payments.models import Payment, PaymentMethod, PaymentSource
from amiable.payments.selectors import case_money
from amiable.payments.services import payment_record, payment_reverse, refund_record

JOURNAL_PAGE_SIZE = 50
OWED_PAGE_SIZE = 50


def _back(case: Case) -> HttpResponse:
    return redirect(reverse("case_detail", args=[case.pk]) + "#paiements")


def _refused(request: HttpRequest, case: Case, form: forms.Form) -> HttpResponse:
    """The card again, on its own page, with the refused form as it was typed."""
    money = case_money(case=case)
    access_log_record(
        user=request.user,
        kind=AccessKind.CASE_VIEW,
        label=f"Paiements du dossier {case.reference}",
        case_pk=case.pk,
        creditor_pk=case.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    context = {
        "case": case,
        "money": money,
        "payment_card": payment_card(case=case, user=request.user, money=money, bound=form),
    }
    return render(request, "payments/case_payments.html", context)


def _submit(
    request: HttpRequest, case: Case, form: forms.Form, action: Callable[[dict], Any], success: Callable[[Any], str]
) -> HttpResponse:
    if form.is_valid():
        try:
            result = action(form.cleaned_data)
        except ApplicationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, success(result))
            return _back(case)
    return _refused(request, case, form)


def _after(case: Case) -> str:
    text = f"Reste dû : {format_money(case.balance)}."
    if case.overpaid_amount > ZERO:
        text += f" Trop-perçu à rembourser au débiteur : {format_money(case.overpaid_amount)}."
    return text


@require_POST
@login_required
def record(request: HttpRequest, pk: int) -> HttpResponse:
    """« Enregistrer un paiement » (agency staff)."""
    case = agency_case(request, pk)
    return _submit(
        request,
        case,
        PaymentForm(request.POST),
        lambda data: payment_record(case=case, actor=request.user, source=PaymentSource.AGENT, **data),
        lambda p: (
            f"Paiement de {format_money(p.amount)} enregistré ({p.get_method_display().lower()}). {_after(p.case)}"
        ),
    )


@require_POST
@login_required
def declare(request: HttpRequest, pk: int) -> HttpResponse:
    """« Déclarer un paiement reçu directement » (the case's creditor staff, C22)."""
    try:
        case = case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc
    if not getattr(request.user, "is_creditor_user", False):
        raise PermissionDenied(
            "Réservé au créancier : l'agence enregistre un paiement direct avec « Enregistrer un paiement »."
        )
    return _submit(
        request,
        case,
        DirectPaymentForm(request.POST),
        lambda data: payment_record(
            case=case, actor=request.user, method=PaymentMethod.DIRECT, source=PaymentSource.CREDITOR, **data
        ),
        lambda p: f"Paiement direct de {format_money(p.amount)} déclaré : l'agence en est informée. {_after(p.case)}",
    )


@require_POST
@login_required
def reverse_payment(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """« Rejeter » a payment (agency staff)."""
    case = agency_case(request, pk)
    payment = get_object_or_404(Payment, pk=payment_pk, case=case)
    return _submit(
        request,
        case,
        ReversalForm(request.POST, payment=payment),
        lambda data: payment_reverse(payment=payment, actor=request.user, **data),
        lambda r: f"Paiement de {format_money(payment.amount)} rejeté. {_after(r.case)}",
    )


@require_POST
@login_required
def refund(request: HttpRequest, pk: int) -> HttpResponse:
    """« Rembourser » the overpayment to the debtor (agency staff)."""
    case = agency_case(request, pk)
    return _submit(
        request,
        case,
        RefundForm(request.POST, overpaid=case.overpaid_amount),
        lambda data: refund_record(case=case, actor=request.user, **data),
        lambda r: (
            f"Remboursement de {format_money(r.amount)} enregistré. "
            f"Trop-perçu restant à rembourser : {format_money(r.case.overpaid_amount)}."
        ),
    )


# --- « Fonds de tiers » ---------------------------------------------------------------------------------


@dataclass
class JournalRow:
    """One entry of the journal as the page shows it: what it moved on each account, as the holder reads it
    (money in the bank, money held for the creditors, money held for debtors)."""

    entry: LedgerEntry
    bank: Decimal
    creditors: Decimal
    debtors: Decimal


def _journal_row(entry: LedgerEntry) -> JournalRow:
    sums = {account: ZERO for account in LedgerAccount.values}
    for line in entry.lines.all():
        sums[line.account] += line.amount
    return JournalRow(
        entry=entry,
        bank=sums[LedgerAccount.BANK],
        creditors=-sums[LedgerAccount.CREDITOR_FUNDS] + ZERO,
        debtors=-sums[LedgerAccount.DEBTOR_REFUNDS] + ZERO,
    )


def _query_without(request: HttpRequest, name: str) -> str:
    query = request.GET.copy()
    query.pop(name, None)
    return query.urlencode()


@require_GET
@login_required
def client_funds(request: HttpRequest) -> HttpResponse:
    """The client-funds account at a date (C15): held per creditor and structure, owed back to debtors, the
    bank balance, and the journal of a period. Supervisors and agency admins only."""
    if not can_view_client_funds(request.user):
        if not getattr(request.user, "is_agency", False):
            raise Http404("Page introuvable.")
        raise PermissionDenied("Réservé aux superviseurs et aux administrateurs de l'agence.")
    form = ClientFundsForm(request.GET)
    if form.is_valid():
        at, start = form.cleaned_data["at"], form.cleaned_data["start"]
        form = ClientFundsForm(initial={"at": at, "start": start})
    else:
        at, start = default_period()
    bank = ledger_balance(account=LedgerAccount.BANK, at=at)
    held = ledger_held_per_structure(at=at)
    held_total = sum_money(row["held"] for row in held)  # the structures' rows already hold it: no second sum
    owed_total = ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS, at=at)
    journal = Paginator(ledger_entries(start=start, end=at), JOURNAL_PAGE_SIZE).get_page(request.GET.get("page"))
    owed = Paginator(ledger_owed_per_case(at=at), OWED_PAGE_SIZE).get_page(request.GET.get("trop_percus"))
    return render(
        request,
        "payments/client_funds.html",
        {
            "form": form,
            "at": at,
            "start": start,
            "held": held,
            "held_total": held_total,
            "owed_total": owed_total,
            "bank": bank,
            "gap": to_money(bank - held_total - owed_total),  # to the cent: SQLite sums in floats
            "owed": owed,
            "owed_query": _query_without(request, "trop_percus"),
            "journal": journal,
            "journal_rows": [_journal_row(entry) for entry in journal.object_list],
            "journal_query": _query_without(request, "page"),
        },
    )
