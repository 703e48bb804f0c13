"""The review queue: a credit assigned to a case becomes its payment, linked to a payment recorded by hand it
pays nothing twice, dismissed it leaves the queue with its reason; each is audited, done once, and refused
to creditor staff. Then the reconciliation of the bank balance with the ledger."""

from datetime import date
from decimal import Decimal

import pytest

from amiable.audit.models import AuditEvent
from amiable.banking.models import BankEntry, EntryStatus
from amiable.banking.selectors import (
    cases_for_reference,
    link_candidates,
    payments_in_transit,
    reconciliation,
    review_queue,
)
from amiable.banking.services import bank_entry_assign, bank_entry_dismiss, bank_entry_link
from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.core.exceptions import ApplicationError
from amiable.payments.models import Payment, PaymentMethod, PaymentSource
from amiable.payments.services import payment_record, payment_reverse
from tests.banking.conftest import import_sample
from tests.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(cases):
    """The camt.053 001.02 sample imported: two credits wait, 30,00 € (no reference) and 80,00 € (two cases)."""
    import_sample("camt053-001.02-agence.xml")
    return BankEntry.objects.get(amount=Decimal("30.00")), BankEntry.objects.get(amount=Decimal("80.00"))


def test_queue_lists_the_credits_nobody_settled(queued):
    assert list(review_queue()) == list(queued)


def test_assign_records_the_payment_on_the_case(queued, cases, users):
    credit, _ = queued
    case = cases["CPAM-2026-00063"]
    bank_entry_assign(entry=credit, case=case, actor=users.agent)

    credit.refresh_from_db()
    assert (credit.status, credit.reviewed_by, credit.review_note) == (
        EntryStatus.MATCHED,
        users.agent,
        "Affecté au dossier CPAM-2026-00063.",
    )
    assert credit.reviewed_at is not None
    payment = credit.payment
    assert (payment.case, payment.amount, payment.collected_on, payment.source, payment.method) == (
        case,
        Decimal("30.00"),
        date(2026, 11, 23),
        PaymentSource.BANK,
        PaymentMethod.TRANSFER,
    )
    assert payment.recorded_by == users.agent
    event = AuditEvent.objects.get(verb="bank_entry.assigned")
    assert (event.actor, event.case_pk, event.after["case"]) == (users.agent, case.pk, "CPAM-2026-00063")
    assert credit not in review_queue()


def test_a_settled_credit_is_refused_a_second_time(queued, cases, users):
    credit, _ = queued
    bank_entry_assign(entry=credit, case=cases["CPAM-2026-00063"], actor=users.agent)
    with pytest.raises(ApplicationError) as caught:
        bank_entry_assign(entry=credit, case=cases["CPAM-2026-00070"], actor=users.supervisor)
    assert caught.value.message == (
        f"Ce mouvement a déjà été traité (rapproché d'un paiement par {users.agent}) : rechargez la page."
    )
    with pytest.raises(ApplicationError, match="déjà été traité"):
        bank_entry_dismiss(entry=credit, reason="Erreur", actor=users.agent)
    assert Payment.objects.filter(case=cases["CPAM-2026-00070"]).count() == 0


def test_debits_and_matched_credits_are_not_in_the_queue_to_settle(queued, users, cases):
    debit = BankEntry.objects.get(is_credit=False)
    matched = BankEntry.objects.get(bank_ref="2026112300001")
    for entry in (debit, matched):
        with pytest.raises(ApplicationError, match="déjà été traité"):
            bank_entry_assign(entry=entry, case=cases["CPAM-2026-00063"], actor=users.agent)


def test_assign_to_a_closed_case_is_refused_and_the_credit_stays(queued, reference, users):
    credit, _ = queued
    case = make_case(structure=reference.csr, reference="CLOS-1")
    case_transition(case=case, to=CaseStatus.RECALLED, actor=users.agent, reason="Rappel")
    case_transition(case=case, to=CaseStatus.CLOSED, actor=users.agent, reason="Clôture")
    with pytest.raises(ApplicationError, match="Le dossier CLOS-1 est clos : paiement refusé."):
        bank_entry_assign(entry=credit, case=case, actor=users.agent)
    credit.refresh_from_db()
    assert (credit.status, credit.reviewed_by, credit.payment) == (EntryStatus.TO_REVIEW, None, None)
    assert not AuditEvent.objects.filter(verb="bank_entry.assigned").exists()


def test_dismiss_needs_a_reason_and_is_audited(queued, users):
    credit, _ = queued
    with pytest.raises(ApplicationError, match="Indiquez pourquoi ce crédit n'est pas un paiement de débiteur."):
        bank_entry_dismiss(entry=credit, reason="   ", actor=users.agent)
    bank_entry_dismiss(entry=credit, reason="  Virement   interne de l'agence ", actor=users.agent)
    credit.refresh_from_db()
    assert (credit.status, credit.review_note, credit.payment) == (
        EntryStatus.IGNORED,
        "Virement interne de l'agence",
        None,
    )
    event = AuditEvent.objects.get(verb="bank_entry.dismissed")
    assert event.after["reason"] == "Virement interne de l'agence"


@pytest.mark.parametrize("role", ["collaborator", "creditor_admin", "approver"])
def test_creditor_staff_may_not_review(queued, cases, users, role):
    credit, _ = queued
    user = getattr(users, role)
    with pytest.raises(ApplicationError, match="Seule l'agence"):
        bank_entry_assign(entry=credit, case=cases["CPAM-2026-00063"], actor=user)
    with pytest.raises(ApplicationError, match="Seule l'agence"):
        bank_entry_dismiss(entry=credit, reason="Non", actor=user)
    credit.refresh_from_db()
    assert credit.status == EntryStatus.TO_REVIEW


def test_link_to_a_payment_recorded_by_hand(queued, cases, users):
    credit, _ = queued
    case = cases["CPAM-2026-00063"]
    cheque = payment_record(
        case=case, amount="30.00", collected_on=date(2026, 11, 20), method=PaymentMethod.CHEQUE, actor=users.agent
    )
    other = payment_record(
        case=case, amount="31.00", collected_on=date(2026, 11, 20), method=PaymentMethod.CHEQUE, actor=users.agent
    )
    assert link_candidates(entries=[credit]) == {credit.pk: [cheque]}
    with pytest.raises(ApplicationError, match="n'ont pas le même montant"):
        bank_entry_link(entry=credit, payment=other, actor=users.agent)
    bank_entry_link(entry=credit, payment=cheque, actor=users.agent)
    credit.refresh_from_db()
    assert (credit.status, credit.payment) == (EntryStatus.MATCHED, cheque)
    assert Payment.objects.filter(case=case).count() == 2  # nothing paid twice
    assert AuditEvent.objects.get(verb="bank_entry.linked").after["payment"] == cheque.pk
    assert list(payments_in_transit()) == [other]


def test_link_refuses_direct_reversed_or_already_matched_payments(queued, cases, users):
    credit, two_cases = queued
    case = cases["CPAM-2026-00063"]
    direct = payment_record(
        case=case, amount="30.00", collected_on=date(2026, 11, 20), method=PaymentMethod.DIRECT, actor=users.agent
    )
    with pytest.raises(ApplicationError, match="paiement direct au créancier"):
        bank_entry_link(entry=credit, payment=direct, actor=users.agent)
    bounced = payment_record(
        case=case, amount="30.00", collected_on=date(2026, 11, 20), method=PaymentMethod.CHEQUE, actor=users.agent
    )
    payment_reverse(payment=bounced, reversed_on=date(2026, 11, 21), reason="Chèque impayé", actor=users.agent)
    with pytest.raises(ApplicationError, match="a été rejeté"):
        bank_entry_link(entry=credit, payment=bounced, actor=users.agent)
    matched = BankEntry.objects.get(bank_ref="2026112300001").payment
    with pytest.raises(ApplicationError, match="est déjà rapproché d.un autre mouvement bancaire"):
        bank_entry_link(entry=credit, payment=matched, actor=users.agent)
    assert link_candidates(entries=[credit, two_cases]) == {credit.pk: [], two_cases.pk: []}


def test_cases_for_reference_in_any_case_of_letters(cases, reference):
    assert cases_for_reference(reference="cpam-2026-00063") == [cases["CPAM-2026-00063"]]
    twin = make_case(structure=reference.other_structure, reference="CPAM-2026-00063")
    assert set(cases_for_reference(reference="CPAM-2026-00063")) == {cases["CPAM-2026-00063"], twin}
    assert cases_for_reference(reference="CPAM-2026-00063", creditor=reference.other) == [twin]
    assert cases_for_reference(reference="  ") == [] and cases_for_reference(reference="INCONNUE") == []


def test_reconciliation_explains_the_difference(queued, cases, users):
    assert reconciliation().statement is not None
    # A cheque recorded by hand on the 22nd, not yet on a statement; one after the statement's date is left out.
    payment_record(
        case=cases["CPAM-2026-00088"],
        amount="50.00",
        collected_on=date(2026, 11, 22),
        method=PaymentMethod.CHEQUE,
        actor=users.agent,
    )
    payment_record(
        case=cases["CPAM-2026-00088"],
        amount="7.00",
        collected_on=date(2026, 11, 24),
        method=PaymentMethod.CHEQUE,
        actor=users.agent,
    )
    credit, _ = queued
    bank_entry_dismiss(entry=credit, reason="Virement interne", actor=users.agent)
    r = reconciliation()
    assert r.at == date(2026, 11, 23)
    assert r.bank_balance == Decimal("1396.50")
    assert r.ledger_balance == Decimal("215.50")  # 165,50 matched by the import + 50,00 by hand
    assert (r.queued_count, r.queued_total) == (1, Decimal("80.00"))
    assert (r.dismissed_count, r.dismissed_total) == (1, Decimal("30.00"))
    assert (r.in_transit_count, r.in_transit_total) == (1, Decimal("50.00"))
    assert (r.debits_count, r.debits_total) == (1, Decimal("12.00"))
    assert r.difference == Decimal("1181.00")
    assert r.opening_balance == Decimal("1133.00")  # the account before the first statement: not in the ledger
    assert (r.in_transit_effect, r.debits_effect) == (Decimal("-50.00"), Decimal("-12.00"))
    assert r.explained == Decimal("1181.00")
    assert r.unexplained == Decimal("0.00")


def test_reconciliation_shows_a_missing_statement_as_unexplained(cases):
    import_sample("camt053-001.02-agence.xml")  # 23/11
    import_sample("cfonb120-banque-a.txt")  # 26/11: the statement of the 24th is missing
    r = reconciliation()
    assert (r.at, r.first.closing_on) == (date(2026, 11, 26), date(2026, 11, 23))
    # The 24th: +60,00 +25,00 -250,00 never imported.
    assert r.unexplained == Decimal("-165.00")
    import_sample("camt053-001.08-agence.xml")
    r = reconciliation()
    # Imported now, the 24th pays CPAM-2026-00041 (60,00), queues 25,00 and records the 250,00 debit.
    assert r.unexplained == Decimal("0.00")


def test_reconciliation_without_statement(reference):
    r = reconciliation()
    assert r.statement is None and r.difference == Decimal("0")
