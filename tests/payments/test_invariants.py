"""Property tests (S5): over random sequences of payments of every method, reversals, refunds, payment plans,
bank statements (each imported twice) and a recall,
the balance is the claim less net payments and never below zero, an excess is tracked as an overpayment,
the allocation explains every euro, and the client-funds ledger equals what was collected less what was
refunded (remittances come later and debit it the same way)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amiable.banking.models import BankEntry
from amiable.banking.services import statement_import
from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, to_money
from amiable.ledger.models import LedgerAccount, LedgerLine
from amiable.ledger.selectors import ledger_balance
from amiable.letters.services import letter_issue
from amiable.payments.models import (
    Allocation,
    Component,
    Payment,
    PaymentMethod,
    PaymentReversal,
    Plan,
    PlanRhythm,
    PlanStatus,
    Receipt,
    Refund,
)
from amiable.payments.plans import plan_propose
from amiable.payments.services import payment_record, payment_reverse, refund_record
from tests.banking.records import balance, cfonb, movement
from tests.factories import make_case

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=1, max_value=40_000).map(lambda c: Decimal(c) / 100)
operation = st.one_of(
    st.tuples(st.just("pay"), st.sampled_from(sorted(set(PaymentMethod) - {PaymentMethod.CASH})), cents),
    st.tuples(st.just("cash"), st.just(PaymentMethod.CASH), cents),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), st.just(ZERO)),
    st.tuples(st.just("refund"), st.just(""), st.integers(min_value=1, max_value=100).map(Decimal)),
    st.tuples(st.just("recall"), st.just(""), st.just(ZERO)),
    st.tuples(st.just("bank"), st.integers(min_value=0, max_value=2), cents),
    st.tuples(st.just("plan"), st.integers(min_value=1, max_value=4), st.just(ZERO)),
)


class Rollback(Exception):
    pass


def _apply(case, op, users):
    kind, arg, amount = op
    today = timezone.localdate()
    if kind in ("pay", "cash"):
        payment_record(
            case=case, amount=amount, collected_on=today, method=arg, actor=users.agent, cash_reason="Non-résident"
        )
    elif kind == "reverse":
        open_payments = list(Payment.objects.filter(case=case, reversal__isnull=True).order_by("pk"))
        if open_payments:
            payment_reverse(
                payment=open_payments[arg % len(open_payments)], reversed_on=today, reason="Impayé", actor=users.agent
            )
    elif kind == "refund":
        case.refresh_from_db()
        if case.overpaid_amount:
            part = (case.overpaid_amount * amount / 100).quantize(Decimal("0.01")) or case.overpaid_amount
            refund_record(case=case, amount=part, refunded_on=today, method=PaymentMethod.TRANSFER, actor=users.agent)
    elif kind == "bank":
        # A statement whose one credit names the case (or not: arg 2), then the same statement again.
        label = (f"VIR {case.reference.lower()}", f"Dossier {case.reference} solde", "VIREMENT SANS REFERENCE")[arg]
        day = f"{today:%d%m%y}"
        content = cfonb(
            balance("01", "0", day=day),
            movement(str(amount), label, ref=f"B{BankEntry.objects.count()}", day=day),
            balance("07", str(amount), day=day),
        )
        statement_import(content=content, filename="releve.txt", actor=users.agent)
        before = _snapshot(case)
        assert statement_import(content=content, filename="releve-bis.txt", actor=users.agent).status == "duplicate"
        assert _snapshot(case) == before
    elif kind == "plan":
        plan_propose(
            case=case, rhythm=PlanRhythm.MONTHLY, count=arg, first_due_on=today + timedelta(days=7), actor=users.agent
        )
    elif kind == "recall" and case.status in CaseStatus.OPEN:
        case_transition(case=case, to=CaseStatus.RECALLED, actor=users.agent, reason="Rappel")


def _snapshot(case) -> tuple:
    case.refresh_from_db()
    return (
        case.paid_amount,
        Payment.objects.count(),
        LedgerLine.objects.count(),
        BankEntry.objects.count(),
        Receipt.objects.count(),
    )


def _sum(queryset, **filters) -> Decimal:
    return to_money(queryset.filter(**filters).aggregate(total=Sum("amount"))["total"] or ZERO)


def _check(case):
    case.refresh_from_db()
    paid = _sum(Payment.objects.filter(case=case))
    reversed_ = _sum(Payment.objects.filter(case=case, reversal__isnull=False))
    refunded = _sum(Refund.objects.filter(case=case))
    net = paid - reversed_ - refunded
    assert case.paid_amount == net >= ZERO
    assert case.balance == max(case.claimed_amount - net, ZERO)
    assert case.overpaid_amount == max(net - case.claimed_amount, ZERO)
    # The allocation explains every euro: per component never above its claim, an excess only once all is paid.
    parts = {
        row["component"]: to_money(row["total"])
        for row in Allocation.objects.filter(case=case).values("component").annotate(total=Sum("amount"))
    }
    assert sum(parts.values(), ZERO) == net
    claimed = {
        Component.PRINCIPAL: case.principal_amount,
        Component.INTEREST: case.interest_amount,
        Component.OTHER: case.other_amount,
    }
    for component, value in claimed.items():
        assert ZERO <= parts.get(component, ZERO) <= value
    assert parts.get(Component.OVERPAYMENT, ZERO) == case.overpaid_amount
    # The ledger: collected through the agency − reversed − refunded (direct payments never enter it).
    agency = Payment.objects.filter(case=case).exclude(method=PaymentMethod.DIRECT)
    bank = _sum(agency) - _sum(agency.filter(reversal__isnull=False)) - refunded
    assert ledger_balance(account=LedgerAccount.BANK) == bank
    held = ledger_balance(account=LedgerAccount.CREDITOR_FUNDS, structure_id=case.structure_id)
    owed = ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS)
    assert held + owed == bank
    assert owed == case.overpaid_amount
    for entry_lines in LedgerLine.objects.values("entry_id").annotate(total=Sum("amount")):
        assert to_money(entry_lines["total"]) == ZERO
    # A case that was open is « Soldé » exactly when nothing is due, unless it was recalled.
    if case.status != CaseStatus.RECALLED:
        assert (case.status == CaseStatus.PAID) == (case.balance == ZERO)
    # Receipt numbers run without a gap in each series, even though refused operations rolled back.
    for prefix in ("RC", "AN"):
        numbers = Receipt.objects.filter(number__startswith=prefix).values_list("number", flat=True)
        ranks = sorted(int(number.rsplit("-", 1)[1]) for number in numbers)
        assert ranks == list(range(1, len(ranks) + 1)), ranks
    assert Receipt.objects.filter(kind="receipt").count() == Payment.objects.count()
    # A plan's instalments sum to its total; what they show paid is what the payments paid of it.
    for plan in Plan.objects.filter(case=case, status__in=[PlanStatus.ACTIVE, PlanStatus.COMPLETED]):
        instalments = list(plan.instalments.all())
        assert sum((i.amount for i in instalments), ZERO) == plan.total
        assert sum((to_money(i.paid_amount) for i in instalments), ZERO) == min(
            max(plan.total - case.balance, ZERO), plan.total
        )
    if case.status == CaseStatus.PAYMENT_PLAN:
        assert Plan.objects.filter(case=case, status=PlanStatus.ACTIVE).exists()
    assert (
        PaymentReversal.objects.filter(case=case).count()
        == Payment.objects.filter(case=case, reversal__isnull=False).count()
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    principal=st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100),
    interest=st.integers(min_value=0, max_value=3_000).map(lambda c: Decimal(c) / 100),
    operations=st.lists(operation, min_size=1, max_size=12),
)
def test_money_invariants_hold_over_any_sequence(reference, users, principal, interest, operations):
    try:
        with transaction.atomic():
            case = make_case(structure=reference.csr, principal=str(principal), interest_amount=interest)
            case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=users.agent)
            letter_issue(case=case, kind="first", actor=users.agent)  # a plan follows the first letter
            for op in operations:
                try:
                    with transaction.atomic():
                        _apply(case, op, users)
                except ApplicationError:
                    pass  # a refused operation leaves everything as it was: checked below
                _check(case)
            raise Rollback
    except Rollback:
        pass
