"""Payments, reversals and refunds: balance, allocation, ledger, status, promises, creditor notice, L3/L4."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.core.exceptions import ApplicationError
from amiable.ledger.models import LedgerAccount, LedgerEntry
from amiable.ledger.selectors import ledger_balance, ledger_held_per_structure
from amiable.notifications.models import Notification
from amiable.payments.models import Allocation, Component, Payment, PaymentMethod, PaymentSource
from amiable.payments.services import payment_record, payment_reverse, refund_record
from tests.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(reference, users):
    return make_case(
        structure=reference.csr, principal="100.00", interest_amount=Decimal("10.00"), other_amount=Decimal("5.00")
    )


def today():
    return timezone.localdate()


def record(case, amount, actor, method=PaymentMethod.TRANSFER, **kw):
    return payment_record(
        case=case, amount=amount, collected_on=kw.pop("on", today()), method=method, actor=actor, **kw
    )


def by_component(case):
    out = {}
    for a in Allocation.objects.filter(case=case):
        out[a.component] = out.get(a.component, Decimal("0")) + a.amount
    return out


def test_partial_payment_lowers_the_balance_and_fills_principal_first(case, users):
    record(case, "60.00", users.agent)
    case.refresh_from_db()
    assert case.claimed_amount == Decimal("115.00")
    assert case.paid_amount == Decimal("60.00")
    assert case.balance == Decimal("55.00")
    assert case.status == CaseStatus.NEW
    assert by_component(case) == {Component.PRINCIPAL: Decimal("60.00")}
    record(case, "45.00", users.agent)
    assert by_component(case) == {
        Component.PRINCIPAL: Decimal("100.00"),
        Component.INTEREST: Decimal("5.00"),
    }


def test_terms_can_allocate_interest_first(case, users, reference):
    terms = reference.cpam.terms
    terms.allocation_order = "interest,principal,other"
    terms.save()
    record(case, "20.00", users.agent)
    assert by_component(case) == {Component.INTEREST: Decimal("10.00"), Component.PRINCIPAL: Decimal("10.00")}


def test_full_payment_makes_the_case_paid_and_an_excess_is_owed_back(case, users):
    record(case, "120.00", users.agent)
    case.refresh_from_db()
    assert case.balance == Decimal("0.00")
    assert case.overpaid_amount == Decimal("5.00")
    assert case.recovered_amount == Decimal("115.00")
    assert case.status == CaseStatus.PAID
    assert by_component(case)[Component.OVERPAYMENT] == Decimal("5.00")
    # The excess is held for the debtor, never for the creditor.
    assert ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS) == Decimal("5.00")
    assert ledger_balance(account=LedgerAccount.CREDITOR_FUNDS, structure_id=case.structure_id) == Decimal("115.00")
    refund_record(case=case, amount="5.00", refunded_on=today(), method=PaymentMethod.TRANSFER, actor=users.agent)
    case.refresh_from_db()
    assert case.overpaid_amount == Decimal("0.00")
    assert case.balance == Decimal("0.00")
    assert ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS) == Decimal("0.00")
    assert ledger_balance(account=LedgerAccount.BANK) == Decimal("115.00")


def test_refund_cannot_exceed_the_overpayment(case, users):
    record(case, "116.00", users.agent)
    with pytest.raises(ApplicationError, match="dépasse le trop-perçu"):
        refund_record(case=case, amount="2.00", refunded_on=today(), method=PaymentMethod.TRANSFER, actor=users.agent)


def test_reversal_restores_the_balance_and_reopens_a_paid_case(case, users):
    case_transition(case=case, to=CaseStatus.IN_PROGRESS, actor=users.agent)
    payment = record(case, "115.00", users.agent, method=PaymentMethod.CHEQUE, reference="CHQ 1234567")
    case.refresh_from_db()
    assert case.status == CaseStatus.PAID
    reversal = payment_reverse(payment=payment, reversed_on=today(), reason="Chèque impayé", actor=users.agent)
    case.refresh_from_db()
    assert case.balance == Decimal("115.00")
    assert case.status == CaseStatus.IN_PROGRESS
    assert Payment.objects.filter(pk=payment.pk).exists()  # nothing is deleted
    assert by_component(case) == {
        Component.PRINCIPAL: Decimal("0.00"),
        Component.INTEREST: Decimal("0.00"),
        Component.OTHER: Decimal("0.00"),
    }
    assert ledger_balance(account=LedgerAccount.BANK) == Decimal("0.00")
    # Reversing twice changes nothing more.
    assert payment_reverse(payment=payment, reversed_on=today(), reason="encore", actor=users.agent) == reversal
    case.refresh_from_db()
    assert case.balance == Decimal("115.00")


def test_reversal_takes_the_overpayment_back_first(case, users):
    first = record(case, "50.00", users.agent, method=PaymentMethod.DIRECT)
    record(case, "70.00", users.agent)
    case.refresh_from_db()
    assert case.overpaid_amount == Decimal("5.00")
    payment_reverse(payment=first, reversed_on=today(), reason="Chèque reçu par le centre impayé", actor=users.agent)
    case.refresh_from_db()
    assert case.overpaid_amount == Decimal("0.00")
    assert case.balance == Decimal("45.00")
    # The agency holds the 70 € for the creditor now, none for the debtor.
    assert ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS) == Decimal("0.00")
    assert ledger_balance(account=LedgerAccount.CREDITOR_FUNDS) == Decimal("70.00")
    assert ledger_balance(account=LedgerAccount.BANK) == Decimal("70.00")


def test_direct_payment_never_enters_the_ledger(case, users):
    record(case, "40.00", users.collaborator, method=PaymentMethod.DIRECT, source=PaymentSource.CREDITOR)
    case.refresh_from_db()
    assert case.balance == Decimal("75.00")
    assert not LedgerEntry.objects.exists()


def test_creditor_may_declare_only_direct_payments_of_its_own_cases(case, users, reference):
    with pytest.raises(ApplicationError, match="Seule l'agence"):
        record(case, "10.00", users.collaborator, method=PaymentMethod.CHEQUE, source=PaymentSource.CREDITOR)
    with pytest.raises(ApplicationError, match="Seule l'agence"):
        record(case, "10.00", users.other_admin, method=PaymentMethod.DIRECT, source=PaymentSource.CREDITOR)
    other_structure_case = make_case(structure=reference.cdop)
    with pytest.raises(ApplicationError):
        record(
            other_structure_case, "10.00", users.csr_only, method=PaymentMethod.DIRECT, source=PaymentSource.CREDITOR
        )
    assert not Payment.objects.exists()


def test_direct_payment_above_the_balance_is_refused(case, users):
    with pytest.raises(ApplicationError, match="dépasse le reste dû"):
        record(case, "200.00", users.agent, method=PaymentMethod.DIRECT)
    assert not Payment.objects.exists()


def test_cash_over_1000_euros_needs_a_reason(reference, users):
    case = make_case(structure=reference.csr, principal="1500.00")
    record(case, "800.00", users.agent, method=PaymentMethod.CASH)
    with pytest.raises(ApplicationError, match="plafond de 1\u202f000,00\xa0€"):
        record(case, "300.00", users.agent, method=PaymentMethod.CASH)
    assert Payment.objects.count() == 1
    payment = record(
        case, "300.00", users.agent, method=PaymentMethod.CASH, cash_reason="Débiteur résidant à l'étranger"
    )
    assert payment.cash_reason == "Débiteur résidant à l'étranger"


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "supérieur à 0,00"), ("-5", "supérieur à 0,00"), ("abc", "illisible"), ("12,345", None)],
)
def test_bad_amounts(case, users, amount, message):
    if message is None:
        payment = record(case, amount, users.agent)
        assert payment.amount == Decimal("12.35")
        return
    with pytest.raises(ApplicationError, match=message):
        record(case, amount, users.agent)
    assert not Payment.objects.exists()


def test_future_date_and_closed_case_are_refused(case, users):
    with pytest.raises(ApplicationError, match="dans le futur"):
        record(case, "10", users.agent, on=today() + timedelta(days=1))
    case_transition(case=case, to=CaseStatus.RECALLED, actor=users.agent)
    record(case, "10", users.agent)  # a payment after a recall is still the creditor's money
    case_transition(case=case, to=CaseStatus.CLOSED, actor=users.agent)
    with pytest.raises(ApplicationError, match="est clos"):
        record(case, "10", users.agent)


def test_same_key_twice_records_one_payment(case, users):
    first = record(case, "10.00", users.agent, key="form-token-1")
    second = record(case, "10.00", users.agent, key="form-token-1")
    assert first == second
    case.refresh_from_db()
    assert case.paid_amount == Decimal("10.00")
    assert LedgerEntry.objects.count() == 1


def test_payment_keeps_the_promise_it_answers(case, users):
    promise = PromiseToPay.objects.create(case=case, amount=Decimal("30.00"), due_on=today() + timedelta(days=3))
    record(case, "20.00", users.agent)
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.PENDING
    payment = record(case, "10.00", users.agent)
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT
    assert Payment.objects.get(pk=payment.pk).promise == promise
    from amiable.contact.services import promises_check

    assert promises_check(today=today() + timedelta(days=10)) == 0


def test_creditor_is_told_of_every_payment(case, users):
    record(case, "10.00", users.agent)
    titles = list(Notification.objects.filter(recipient=users.collaborator).values_list("title", flat=True))
    assert titles == [f"Paiement de 10,00\xa0€ sur le dossier {case.reference}"]
    assert not Notification.objects.filter(recipient=users.other_admin).exists()


def test_every_movement_is_audited(case, users):
    payment = record(case, "10.00", users.agent)
    payment_reverse(payment=payment, reversed_on=today(), reason="Erreur de saisie", actor=users.agent)
    verbs = list(AuditEvent.objects.filter(case_pk=case.pk).values_list("verb", flat=True))
    assert "payment.recorded" in verbs and "payment.reversed" in verbs


def test_ledger_held_per_structure(reference, users):
    a = make_case(structure=reference.csr, principal="100.00")
    b = make_case(structure=reference.cdop, principal="100.00")
    record(a, "30.00", users.agent, on=date(2026, 11, 2))
    record(b, "20.00", users.agent, on=date(2026, 11, 3))
    rows = {row["structure__code"]: row["held"] for row in ledger_held_per_structure()}
    assert rows == {"CSR": Decimal("30.00"), "CDOP": Decimal("20.00")}
    rows = {row["structure__code"]: row["held"] for row in ledger_held_per_structure(at=date(2026, 11, 2))}
    assert rows == {"CSR": Decimal("30.00")}


def test_ledger_is_append_only(case, users):
    record(case, "10.00", users.agent)
    entry = LedgerEntry.objects.get()
    with pytest.raises(ApplicationError):
        entry.save()
    with pytest.raises(ApplicationError):
        LedgerEntry.objects.all().delete()


def test_a_direct_payment_declared_by_the_creditor_is_told_to_the_agent_and_the_referent(case, users, reference):
    from amiable.cases.services import case_assign
    from amiable.creditors.models import Creditor

    Creditor.objects.filter(pk=reference.cpam.pk).update(referent=users.supervisor)
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    record(
        case, "40.00", users.collaborator, method=PaymentMethod.DIRECT, source=PaymentSource.CREDITOR, reference="Q77"
    )
    told = Notification.objects.filter(kind="payment_declared")
    assert sorted(told.values_list("recipient", flat=True)) == sorted([users.agent.pk, users.supervisor.pk])
    body = told.get(recipient=users.agent).body
    assert f"Déclaré par {users.collaborator.get_full_name()} (Caisse Primaire d'Assurance Maladie de Paris)" in body
    assert "référence Q77" in body and "Reste dû : 75,00\xa0€." in body
    # A payment the agency records itself is not announced back to it.
    record(case, "10.00", users.agent, method=PaymentMethod.DIRECT)
    assert told.count() == 2


def test_a_refusal_names_the_field_it_is_about(case, users):
    with pytest.raises(ApplicationError) as refused:
        record(case, "0", users.agent)
    assert refused.value.extra == {"field": "amount"}
    with pytest.raises(ApplicationError) as refused:
        record(case, "10", users.agent, on=today() + timedelta(days=2))
    assert refused.value.extra == {"field": "collected_on"}
