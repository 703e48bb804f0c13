"""Recording money on a case: payments, reversals and refunds. Each one, in one transaction, allocates the
amount to the claim's components, keeps the case's paid amount (and so its balance) exact, posts the
client-funds ledger, moves the case to « Soldé » or back, keeps the promises it answers, tells the creditor
and issues the receipt (C15, C17, C18, C22, L3, L4, S5)."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import case_lock, case_transition
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.contact.services import promise_keep_by_payment
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money, to_money
from amiable.creditors.selectors import terms_for
from amiable.ledger.models import EntryKind, LedgerAccount
from amiable.ledger.services import Line, ledger_post
from amiable.notifications.selectors import agency_contacts, creditor_staff
from amiable.notifications.services import notify
from amiable.payments.allocation import allocate_in, allocate_out, component_order
from amiable.payments.models import (
    Allocation,
    Component,
    Payment,
    PaymentMethod,
    PaymentReversal,
    PaymentSource,
    Refund,
)
from amiable.payments.plans import plan_apply_payment, plan_apply_reversal, plan_for_reversal, plan_running
from amiable.payments.receipts import receipt_cancel, receipt_issue
from amiable.payments.selectors import paid_by_component

# CMF L112-6 and D112-3: cash is limited to 1,000 € per debt for a debtor whose tax residence is in France.
CASH_LIMIT = Decimal("1000.00")
MAX_REASON = 300
# Which input a refusal is about, so that a form shows the message beside that field (`ApplicationError.extra`).
AMOUNT = {"field": "amount"}


def _claimed_by_component(case: Case) -> dict[str, Decimal]:
    return {
        Component.PRINCIPAL: case.principal_amount,
        Component.INTEREST: case.interest_amount or ZERO,
        Component.OTHER: case.other_amount or ZERO,
    }


def _post(*, kind: str, source: str, case: Case, on: date, memo: str, cash: Decimal, shares: dict, actor) -> None:
    """The ledger follows the allocation: the cash moves the bank account, the overpayment share is held
    for the debtor, the rest for the creditor's structure. A direct payment moves no cash: only a transfer
    between what is held for the debtor and for the creditor, when a reversal takes back an overpayment."""
    over = shares.get(Component.OVERPAYMENT, ZERO)
    lines = [
        Line(account=LedgerAccount.BANK, amount=cash, case_id=case.pk),
        Line(account=LedgerAccount.DEBTOR_REFUNDS, amount=-over, case_id=case.pk, creditor_id=case.creditor_id),
        Line(
            account=LedgerAccount.CREDITOR_FUNDS,
            amount=-(cash - over),
            case_id=case.pk,
            creditor_id=case.creditor_id,
            structure_id=case.structure_id,
        ),
    ]
    if any(line.amount for line in lines):
        ledger_post(kind=kind, source=source, posted_on=on, memo=memo, lines=lines, actor=actor)


def _save_shares(case: Case, shares: dict[str, Decimal], **movement) -> None:
    Allocation.objects.bulk_create(
        [Allocation(case=case, component=c, amount=a, **movement) for c, a in shares.items() if a]
    )


def _apply(case: Case, delta: Decimal) -> Case:
    """The new paid amount is computed here, on the locked row, not by the database: SQLite would add
    decimals as floats and 1.72 − 1.14 − 0.58 would fall below zero."""
    Case.objects.filter(pk=case.pk).update(paid_amount=to_money(case.paid_amount) + delta)
    case.refresh_from_db(fields=["paid_amount", "balance", "overpaid_amount", "status"])
    return case


def _settle_status(case: Case, *, actor, reason: str) -> None:
    """Balance at zero: an open case becomes « Soldé » by itself; a balance back above zero reopens a
    case that was « Soldé » (on its plan if one still runs)."""
    if case.balance == ZERO and case.status in CaseStatus.OPEN:
        case_transition(case=case, to=CaseStatus.PAID, actor=actor, reason=reason)
    elif case.balance > ZERO and case.status == CaseStatus.PAID:
        to = CaseStatus.PAYMENT_PLAN if plan_running(case) else CaseStatus.IN_PROGRESS
        case_transition(case=case, to=to, actor=actor, reason=reason)
    case.refresh_from_db(fields=["status"])


def _check_actor(*, actor, case: Case, method: str, source: str) -> None:
    if source == PaymentSource.BANK:
        return  # a bank statement imported by the agency, or by the system
    if can_work_cases(actor):
        return
    require(
        source == PaymentSource.CREDITOR
        and method == PaymentMethod.DIRECT
        and getattr(actor, "is_creditor_user", False)
        and Case.objects.visible_to(actor).filter(pk=case.pk).exists(),
        "Seule l'agence enregistre les paiements ; le créancier déclare ceux reçus directement.",
    )


def _keep_promises(case: Case, payment: Payment, actor) -> None:
    """Pending (or already flagged broken) promises of the case that the payments since they were made now
    cover are kept, oldest first: `check_promises` leaves them alone."""
    promises = list(
        PromiseToPay.objects.filter(case=case, status__in=[PromiseStatus.PENDING, PromiseStatus.BROKEN]).order_by(
            "due_on", "pk"
        )
    )
    if not promises:
        return
    since = min(p.created_at for p in promises)
    payments = list(
        Payment.objects.filter(case=case, recorded_at__gte=since, reversal__isnull=True).values_list(
            "recorded_at", "amount"
        )
    )
    used = ZERO
    for promise in promises:
        paid = sum((amount for at, amount in payments if at >= promise.created_at), ZERO) - used
        if paid >= promise.amount:
            promise_keep_by_payment(promise=promise, payment_label=str(payment), actor=actor)
            used += promise.amount
            if payment.promise_id is None:
                payment.promise = promise
                payment.save(update_fields=["promise"])


def _tell_creditor(case: Case, payment: Payment, *, plan_known: bool, actor) -> None:
    """C18 / L5: every payment, even partial, unless it is an instalment of a plan the creditor knows."""
    if plan_known or payment.source == PaymentSource.CREDITOR:
        return
    recipients = [
        user for user in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id) if user != actor
    ]
    notify(
        recipients=recipients,
        kind="payment_recorded",
        title=f"Paiement de {format_money(payment.amount)} sur le dossier {case.reference}",
        body=(
            f"{payment.get_method_display()}, encaissé le {format_date(payment.collected_on)}. "
            f"Reste dû : {format_money(case.balance)}."
        ),
        url=f"/dossiers/{case.pk}/",
        case_pk=case.pk,
    )


def _tell_agency(case: Case, payment: Payment, *, actor) -> None:
    """C22: a payment the creditor declares it received directly reaches the case's agent and the creditor's
    référent at the agency, who stop asking the debtor for what is paid."""
    if payment.source != PaymentSource.CREDITOR:
        return
    who = (actor.get_full_name() or actor.email) if getattr(actor, "is_authenticated", False) else "le créancier"
    notify(
        recipients=agency_contacts(case=case),
        kind="payment_declared",
        title=f"Paiement direct de {format_money(payment.amount)} déclaré sur le dossier {case.reference}",
        body=(
            f"Déclaré par {who} ({case.creditor.name}) : reçu le {format_date(payment.collected_on)}"
            + (f", référence {payment.reference}" if payment.reference else "")
            + f". Reste dû : {format_money(case.balance)}."
        ),
        url=f"/dossiers/{case.pk}/#paiements",
        case_pk=case.pk,
    )


@transaction.atomic
def payment_record(
    *,
    case: Case,
    amount: Decimal | str,
    collected_on: date,
    method: str,
    actor,
    reference: str = "",
    cash_reason: str = "",
    source: str = PaymentSource.AGENT,
    key: str | None = None,
) -> Payment:
    """Record a payment on a case. `key` (a form's token, a bank entry's identity) makes a repeated
    submission return the payment already recorded instead of a second one."""
    if key:
        existing = Payment.objects.filter(key=key).first()
        if existing is not None:
            if existing.case_id != case.pk:
                raise ApplicationError("Ce formulaire a déjà servi pour un autre dossier : rechargez la page.")
            return existing
    if method not in PaymentMethod.values:
        raise ApplicationError(f"Moyen de paiement inconnu : « {method} ».", extra={"field": "method"})
    if source not in PaymentSource.values:
        raise ApplicationError(f"Origine de paiement inconnue : « {source} ».")
    _check_actor(actor=actor, case=case, method=method, source=source)
    try:
        amount = to_money(amount)
    except (TypeError, ValueError) as exc:
        raise ApplicationError(f"Montant du paiement illisible : « {amount} ».", extra=AMOUNT) from exc
    if amount <= ZERO:
        raise ApplicationError("Le montant du paiement doit être supérieur à 0,00 €.", extra=AMOUNT)
    today = timezone.localdate()
    if collected_on > today:
        raise ApplicationError(
            f"La date d'encaissement ({format_date(collected_on)}) est dans le futur.", extra={"field": "collected_on"}
        )
    reference, cash_reason = reference.strip()[:140], " ".join(cash_reason.split())[:MAX_REASON]
    case = case_lock(case)
    if not case.accepts_payments:
        raise ApplicationError(f"Le dossier {case.reference} est clos : paiement refusé.")
    if method == PaymentMethod.DIRECT and amount > case.balance:
        raise ApplicationError(
            f"Le paiement direct déclaré ({format_money(amount)}) dépasse le reste dû ({format_money(case.balance)}) : "
            "l'excédent reçu par le créancier est à lui rembourser au débiteur ; déclarez au plus le reste dû.",
            extra=AMOUNT,
        )
    if method == PaymentMethod.CASH:
        cash_before = (
            Payment.objects.filter(case=case, method=PaymentMethod.CASH, reversal__isnull=True).aggregate(
                total=Sum("amount")
            )["total"]
            or ZERO
        )
        if cash_before + amount > CASH_LIMIT and not cash_reason:
            raise ApplicationError(
                f"Paiement en espèces de {format_money(cash_before + amount)} au total pour cette dette, au-delà du "
                f"plafond de {format_money(CASH_LIMIT)} (articles L112-6 et D112-3 du code monétaire et financier) : "
                "indiquez le motif (débiteur sans domicile fiscal en France…).",
                extra={"field": "cash_reason"},
            )
    if key:  # a second submission racing the first waits for the case lock, then finds it
        existing = Payment.objects.filter(key=key).first()
        if existing is not None:
            return existing
    terms = terms_for(case.creditor_id)
    order = component_order(terms.allocation_order)
    shares = allocate_in(amount, claimed=_claimed_by_component(case), paid=paid_by_component(case), order=order)
    balance_before = case.balance
    payment = Payment.objects.create(
        case=case,
        method=method,
        amount=amount,
        collected_on=collected_on,
        reference=reference,
        cash_reason=cash_reason if method == PaymentMethod.CASH else "",
        source=source,
        key=key or None,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _save_shares(case, shares, payment=payment)
    case = _apply(case, amount)
    if method != PaymentMethod.DIRECT:
        _post(
            kind=EntryKind.PAYMENT,
            source=f"payment:{payment.pk}",
            case=case,
            on=collected_on,
            memo=f"{payment.get_method_display()} — dossier {case.reference}",
            cash=amount,
            shares=shares,
            actor=actor,
        )
    audit_record(
        actor=actor,
        verb="payment.recorded",
        target=payment,
        before={"balance": balance_before},
        after={
            "amount": amount,
            "method": method,
            "collected_on": collected_on,
            "source": source,
            "reference": reference,
            "cash_reason": payment.cash_reason,
            "allocation": {c: str(a) for c, a in shares.items()},
            "balance": case.balance,
            "overpaid": case.overpaid_amount,
        },
    )
    plan = plan_running(case)
    if plan is not None:
        plan_apply_payment(plan=plan, payment=payment, actor=actor)
    # The promises the payment covers are kept before a settled case ends, which cancels those still pending.
    _keep_promises(case, payment, actor)
    _settle_status(case, actor=actor, reason=f"Solde payé ({payment})")
    _tell_creditor(case, payment, plan_known=plan is not None, actor=actor)
    _tell_agency(case, payment, actor=actor)
    receipt_issue(payment=payment, actor=actor)
    return payment


@transaction.atomic
def payment_reverse(*, payment: Payment, reversed_on: date, reason: str, actor) -> PaymentReversal:
    """A payment that did not hold is reversed: the balance is restored, a case « Soldé » reopens, the
    receipt is cancelled; the payment stays on record. Reversing twice returns the first reversal."""
    require(can_work_cases(actor), "Seule l'agence enregistre le rejet d'un paiement.")
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise ApplicationError(
            "Indiquez le motif du rejet (chèque impayé, rétrofacturation, erreur de saisie…).",
            extra={"field": "reason"},
        )
    if reversed_on > timezone.localdate():
        raise ApplicationError(
            f"La date du rejet ({format_date(reversed_on)}) est dans le futur.", extra={"field": "reversed_on"}
        )
    case = case_lock(payment.case)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    existing = PaymentReversal.objects.filter(payment=payment).first()
    if existing is not None:
        return existing
    if reversed_on < payment.collected_on:
        raise ApplicationError(
            "Le rejet ne peut pas précéder l'encaissement du paiement.", extra={"field": "reversed_on"}
        )
    if payment.amount > case.paid_amount:
        raise ApplicationError(
            f"Ce rejet ({format_money(payment.amount)}) dépasse ce que le débiteur a payé net "
            f"({format_money(case.paid_amount)}), un trop-perçu ayant déjà été remboursé : voyez avec le superviseur."
        )
    terms = terms_for(case.creditor_id)
    shares = allocate_out(payment.amount, paid=paid_by_component(case), order=component_order(terms.allocation_order))
    balance_before = case.balance
    reversal = PaymentReversal.objects.create(
        payment=payment, case=case, reversed_on=reversed_on, reason=reason, recorded_by=actor
    )
    _save_shares(case, shares, reversal=reversal)
    case = _apply(case, -payment.amount)
    _post(
        kind=EntryKind.REVERSAL,
        source=f"reversal:{reversal.pk}",
        case=case,
        on=reversed_on,
        memo=f"Rejet du paiement {payment.pk} — dossier {case.reference}",
        cash=ZERO if payment.is_direct else -payment.amount,
        shares=shares,
        actor=actor,
    )
    audit_record(
        actor=actor,
        verb="payment.reversed",
        target=reversal,
        before={"balance": balance_before},
        after={
            "payment": payment.pk,
            "amount": payment.amount,
            "reason": reason,
            "allocation": {c: str(a) for c, a in shares.items()},
            "balance": case.balance,
        },
    )
    plan = plan_for_reversal(case)  # the active plan, or the one this payment had completed
    if plan is not None:
        plan_apply_reversal(plan=plan, payment=payment, actor=actor)
    _settle_status(case, actor=actor, reason=f"Paiement rejeté : {reason}")
    notify(
        recipients=creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id),
        kind="payment_reversed",
        title=f"Paiement de {format_money(payment.amount)} rejeté sur le dossier {case.reference}",
        body=f"{reason}. Reste dû : {format_money(case.balance)}.",
        url=f"/dossiers/{case.pk}/",
        case_pk=case.pk,
    )
    receipt_cancel(reversal=reversal, actor=actor)
    return reversal


@transaction.atomic
def refund_record(
    *,
    case: Case,
    amount: Decimal | str,
    refunded_on: date,
    method: str,
    actor,
    reference: str = "",
    key: str | None = None,
) -> Refund:
    """Pay back to the debtor (part of) an overpayment, from the client-funds account: the overpayment is
    tracked until it is refunded, never kept (L3)."""
    require(can_work_cases(actor), "Seule l'agence rembourse un trop-perçu.")
    if key:
        existing = Refund.objects.filter(key=key).first()
        if existing is not None:
            return existing
    try:
        amount = to_money(amount)
    except (TypeError, ValueError) as exc:
        raise ApplicationError(f"Montant du remboursement illisible : « {amount} ».", extra=AMOUNT) from exc
    if amount <= ZERO:
        raise ApplicationError("Le montant du remboursement doit être supérieur à 0,00 €.", extra=AMOUNT)
    if method not in (PaymentMethod.TRANSFER, PaymentMethod.CHEQUE):
        raise ApplicationError("Un trop-perçu se rembourse par virement ou par chèque.", extra={"field": "method"})
    if refunded_on > timezone.localdate():
        raise ApplicationError(
            f"La date du remboursement ({format_date(refunded_on)}) est dans le futur.", extra={"field": "refunded_on"}
        )
    case = case_lock(case)
    if amount > case.overpaid_amount:
        raise ApplicationError(
            f"Le remboursement ({format_money(amount)}) dépasse le trop-perçu du dossier "
            f"({format_money(case.overpaid_amount)}).",
            extra=AMOUNT,
        )
    refund = Refund.objects.create(
        case=case,
        amount=amount,
        refunded_on=refunded_on,
        method=method,
        reference=reference.strip()[:140],
        key=key or None,
        recorded_by=actor,
    )
    shares = {Component.OVERPAYMENT: -amount}
    _save_shares(case, shares, refund=refund)
    case = _apply(case, -amount)
    _post(
        kind=EntryKind.REFUND,
        source=f"refund:{refund.pk}",
        case=case,
        on=refunded_on,
        memo=f"Remboursement d'un trop-perçu — dossier {case.reference}",
        cash=-amount,
        shares=shares,
        actor=actor,
    )
    audit_record(
        actor=actor,
        verb="refund.recorded",
        target=refund,
        after={"amount": amount, "method": method, "refunded_on": refunded_on, "overpaid": case.overpaid_amount},
    )
    return refund


def payments_mark_remitted(*, payment_ids) -> int:
    """Mark payments put into a remittance, in the remittance's transaction (the remittance is what is audited).
    `payment_ids` is a list or a query of ids: a week's 33,000 ids as a list cost a second of Python to bind
    and parse, the same ids read by a subquery cost nothing."""
    return Payment.objects.filter(pk__in=payment_ids, remitted=False).update(remitted=True)
