"""The maintained case counters (`CaseCounter`): the database's triggers keep them equal to a count of the cases
whatever writes the cases, and the home pages and totals read them."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, CaseCounter, CaseStatus
from amiable.cases.selectors import case_counters_drift, case_totals, counter_figures, counter_total
from amiable.cases.services import case_assign, case_transition
from amiable.payments.services import payment_record
from tests.factories import make_case, pay_in_full


def _counter(case: Case) -> CaseCounter:
    return CaseCounter.objects.get(
        creditor_id=case.creditor_id,
        structure_id=case.structure_id,
        status=case.status,
        agent_id=case.assigned_agent_id or 0,
    )


def test_a_new_case_is_counted_with_its_amounts(reference):
    case = make_case(structure=reference.csr, principal="120.50")
    counter = _counter(case)
    assert (counter.cases, counter.claimed_cents, counter.recovered_cents, counter.balance_cents) == (
        1,
        12050,
        0,
        12050,
    )
    assert case_counters_drift() == []


def test_payments_transitions_assignment_bulk_updates_and_deletions_keep_the_counters_exact(reference, users):
    cases = [make_case(structure=reference.csr, principal=f"{100 + n}.10") for n in range(4)]
    cases.append(make_case(structure=reference.other_structure, principal="80.00"))
    payment_record(
        case=cases[0], amount=Decimal("30.05"), collected_on=date(2026, 11, 20), method="transfer", actor=users.agent
    )
    pay_in_full(cases[1], actor=users.agent)
    case_assign(case=cases[2], agent=users.agent, actor=users.supervisor)
    case_transition(case=cases[3], to=CaseStatus.IN_PROGRESS, actor=users.agent)
    # Writes that no service makes, as an SQL script or the intake's bulk writes would: the triggers still count.
    Case.objects.filter(pk=cases[4].pk).update(status=CaseStatus.IN_PROGRESS, assigned_agent=users.agent)
    Case.objects.filter(pk=cases[2].pk).update(received_on=date(2026, 1, 5))  # not counted: changes nothing
    assert case_counters_drift() == []

    paid = _counter(Case.objects.get(pk=cases[1].pk))
    assert paid.status == CaseStatus.PAID and paid.cases == 1 and paid.balance_cents == 0
    assert paid.recovered_cents == 10110

    Case.objects.filter(pk=cases[4].pk).delete()
    assert case_counters_drift() == []
    assert not CaseCounter.objects.filter(creditor_id=reference.other.pk, cases__gt=0).exists()


def test_totals_and_figures_match_a_count_of_the_cases(reference, users):
    for _ in range(3):
        case = make_case(structure=reference.csr, principal="100.00")
        case_assign(case=case, agent=users.agent, actor=users.supervisor)
    payment_record(
        case=Case.objects.filter(assigned_agent=users.agent).first(),
        amount=Decimal("25.00"),
        collected_on=date(2026, 11, 20),
        method="transfer",
        actor=users.agent,
    )
    make_case(structure=reference.cdop, principal="50.00")
    make_case(structure=reference.other_structure, principal="70.00")

    totals = case_totals(user=users.supervisor)
    assert totals["count"] == Case.objects.count() == 5
    assert totals["amount"] == Decimal("420.00")
    assert totals["recovered"] == Decimal("25.00")
    assert totals["balance"] == Decimal("395.00")

    mine = counter_total(user=users.supervisor, agent_id=users.agent.pk)
    assert (mine["open_count"], mine["claimed"], mine["recovered"], mine["balance"]) == (
        3,
        Decimal("300.00"),
        Decimal("25.00"),
        Decimal("275.00"),
    )
    assert mine["rate"] == Decimal("8.3")

    # A creditor's staff count only their creditor's cases, and a user limited to a structure only its own.
    assert case_totals(user=users.collaborator)["count"] == 4
    assert case_totals(user=users.csr_only)["count"] == 3
    assert case_totals(user=users.other_admin)["count"] == 1
    by_structure = counter_figures(user=users.collaborator, by="structure_id")
    assert set(by_structure) == {reference.csr.pk, reference.cdop.pk}


def test_the_daily_check_finds_a_drift_and_counts_again(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    call_command("check_case_counters")  # exact: says so, raises nothing
    CaseCounter.objects.filter(status=case.status).update(cases=7, balance_cents=1)
    with pytest.raises(CommandError, match="1 écart"):
        call_command("check_case_counters")
    call_command("check_case_counters", "--repair")
    assert case_counters_drift() == []
    assert _counter(case).cases == 1
    assert AuditEvent.objects.filter(verb="case_counters.rebuilt").count() == 1
