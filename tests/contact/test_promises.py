"""Promises that make sense (`call_record`): only with the outcome « promesse de paiement », for a date from the
day of the call to the contract's plan limit (`ContractTerms.max_plan_months`), for at most what remains due.
Each refusal names the field of the call form it is about, and writes nothing."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from amiable.cases.models import Action
from amiable.contact.models import CallRecord, PromiseToPay
from amiable.contact.selectors import promise_latest_due_on
from amiable.contact.services import call_record
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.creditors.models import ContractTerms
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=PARIS)  # the call's day: 7 July 2026
PHONE = "+33612345678"


@pytest.fixture
def case(reference, users):
    """300,00 € due; calls are inbound (the debtor called), so that only the promise rules are at stake."""
    return make_case(structure=reference.cdop, reference="PROM-0001", assigned_agent=users.agent, principal="300.00")


def promise(case, users, *, outcome="promise", amount="50.00", due_on=date(2026, 7, 20)):
    return call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        direction="in",
        outcome=outcome,
        promise_amount=amount,
        promise_due_on=due_on,
        at=TUESDAY_11,
    )


def refusal(case, users, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as error:
        promise(case, users, **kwargs)
    assert not CallRecord.objects.exists() and not PromiseToPay.objects.exists() and not Action.objects.exists()
    return error.value


def test_a_promise_is_recorded_with_the_outcome_promise(case, users):
    call = promise(case, users)
    assert call.outcome == "promise" and call.get_outcome_display() == "Promesse de paiement"
    assert PromiseToPay.objects.get().amount == Decimal("50.00")


@pytest.mark.parametrize("outcome", ["reached", "no_answer", "refused"])
def test_a_promise_with_another_outcome_is_refused(case, users, outcome):
    error = refusal(case, users, outcome=outcome)
    assert error.message == "Une promesse de paiement s'enregistre avec le résultat « Promesse de paiement »."
    assert error.extra == {"field": "outcome"}


def test_the_outcome_promise_needs_an_amount_and_a_date(case, users):
    error = refusal(case, users, amount=None)
    assert (error.message, error.extra) == (
        "Une promesse de paiement demande un montant et une date.",
        {"field": "promise_amount"},
    )
    error = refusal(case, users, due_on=None)
    assert error.extra == {"field": "promise_due_on"}


def test_the_amount_may_not_exceed_the_balance_and_the_message_is_french(case, users, reference):
    big = make_case(structure=reference.cdop, assigned_agent=users.agent, principal="1234.56")
    error = refusal(big, users, amount="1234.57")
    assert error.message == (
        f"Le montant promis ({format_money('1234.57')}) dépasse le reste dû ({format_money('1234.56')})."
    )
    assert "1\u202f234,56\xa0€" in error.message
    assert error.extra == {"field": "promise_amount"}
    promise(big, users, amount="1234.56")  # the whole balance is fine
    assert PromiseToPay.objects.get().amount == Decimal("1234.56")


def test_the_amount_must_be_at_least_one_cent(case, users):
    error = refusal(case, users, amount="0")
    assert error.message == f"Le montant promis doit être d'au moins {format_money('0.01')}."
    assert "0,01\xa0€" in error.message


def test_the_date_runs_from_the_day_of_the_call_to_the_contract_plan_limit(case, users):
    ContractTerms.objects.filter(creditor=case.creditor).update(max_plan_months=4)
    assert promise_latest_due_on(case=case, day=date(2026, 7, 7)) == (date(2026, 11, 7), 4)

    error = refusal(case, users, due_on=date(2026, 11, 8))
    assert error.message == (
        "La date promise dépasse la durée maximale d'un plan prévue au contrat (4 mois) : au plus tard le 07/11/2026."
    )
    assert error.extra == {"field": "promise_due_on"}
    error = refusal(case, users, due_on=date(2026, 7, 6))
    assert (error.message, error.extra) == ("La date promise est antérieure à l'appel.", {"field": "promise_due_on"})

    promise(case, users, due_on=date(2026, 11, 7))  # the limit itself, and the day of the call, are accepted
    promise(case, users, due_on=date(2026, 7, 7), amount="10.00")
    assert sorted(PromiseToPay.objects.values_list("due_on", flat=True)) == [date(2026, 7, 7), date(2026, 11, 7)]
