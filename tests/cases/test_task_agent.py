"""`Task.agent`, the case's agent carried on its tasks for « Ma journée »: the database's triggers keep it equal to
the case's whatever writes the tasks or the cases, and the daily check finds and repairs a drift."""

import importlib
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, Task, TaskKind, TaskStatus
from amiable.cases.selectors import task_agents_drift
from amiable.cases.services import case_assign, task_open, tasks_cancel_open
from amiable.cases.services_assignment import cases_auto_assign
from amiable.creditors.models import ContractTerms
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from tests.factories import make_case, make_user

MIGRATION = importlib.import_module("amiable.cases.migrations.0018_task_agent")


def _agents(*tasks) -> list:
    return [Task.objects.get(pk=task.pk).agent_id for task in tasks]


def _open(case, kind=TaskKind.CALL):
    return task_open(case=case, kind=kind, reason="Test", due_on=date(2026, 11, 20))[0]


def test_a_task_takes_its_cases_agent_and_follows_it_when_the_case_changes_hands(reference, users):
    case = make_case(structure=reference.csr)
    unassigned = _open(case)
    assert _agents(unassigned) == [None]
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    later = _open(case, TaskKind.REVIEW)
    closed = _open(case, TaskKind.CALLBACK)
    tasks_cancel_open(case=case, kinds=[TaskKind.CALLBACK], actor=users.agent)
    assert _agents(unassigned, later, closed) == [users.agent.pk] * 3
    other = make_user("agent")
    case_assign(case=case, agent=other, actor=users.supervisor)
    assert _agents(unassigned, later, closed) == [other.pk] * 3
    case_assign(case=case, agent=None, actor=users.supervisor)
    assert _agents(unassigned, later, closed) == [None] * 3
    assert task_agents_drift() == []


def test_bulk_and_raw_writes_of_cases_hand_their_tasks_over(reference, users):
    cases = [make_case(structure=reference.csr, reference=f"VRAC-{n}") for n in range(4)]
    tasks = [_open(case) for case in cases]
    other = make_user("agent")
    # A bulk update, as the automatic assignment makes one per agent and slice of ids.
    Case.objects.filter(pk__in=[cases[0].pk, cases[1].pk]).update(assigned_agent=users.agent)
    Case.objects.filter(pk=cases[1].pk).update(received_on=date(2026, 1, 5))  # not the agent: nothing moves
    # An SQL script written by hand.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET assigned_agent_id = %s WHERE id IN (%s, %s)", [other.pk, cases[2].pk, cases[3].pk]
        )
    assert _agents(*tasks) == [users.agent.pk, users.agent.pk, other.pk, other.pk]
    assert task_agents_drift() == []


def test_the_automatic_assignment_hands_the_tasks_over(reference, users):
    ContractTerms.objects.filter(creditor=reference.cpam).update(auto_assignment="round_robin")
    cases = [make_case(structure=reference.csr, reference=f"AUTO-{n}") for n in range(3)]
    tasks = [_open(case) for case in cases]
    given = cases_auto_assign(creditor=reference.cpam, cases=Case.objects.filter(pk__in=[c.pk for c in cases]))
    assert sum(given.values()) == 3
    assert _agents(*tasks) == [Case.objects.get(pk=c.pk).assigned_agent_id for c in cases]
    assert None not in _agents(*tasks)
    assert task_agents_drift() == []


def test_tasks_written_in_bulk_or_by_hand_take_their_cases_agent(reference, users):
    assigned = make_case(structure=reference.csr, reference="A-1")
    case_assign(case=assigned, agent=users.agent, actor=users.supervisor)
    free = make_case(structure=reference.csr, reference="A-2")
    other = make_user("agent")
    # As the scenarios write them: bulk_create, no agent given (or a wrong one).
    made = Task.objects.bulk_create(
        [
            Task(case=assigned, kind=TaskKind.CALL, due_on=date(2026, 11, 20)),
            Task(case=free, kind=TaskKind.CALL, due_on=date(2026, 11, 20), agent=other),
        ]
    )
    assert _agents(*made) == [users.agent.pk, None]
    # A task saved whole from a stale copy, or its agent set by hand: the case's agent wins.
    stale = Task.objects.get(pk=made[0].pk)
    case_assign(case=assigned, agent=other, actor=users.supervisor)
    stale.reason = "Relu"
    stale.save()
    Task.objects.filter(pk=made[1].pk).update(agent=users.agent)
    assert _agents(*made) == [other.pk, None]
    # A task moved to another case takes that case's agent.
    Task.objects.filter(pk=made[1].pk).update(case=assigned, kind=TaskKind.REVIEW)
    assert _agents(made[1]) == [other.pk]
    assert task_agents_drift() == []


CSV = (
    b"reference;structure;nom;prenom;solde;adresse1;code_postal;ville\n"
    b"SANS-1;CDOP;Martin;Lise;12,00;;;\n"
    b"SANS-2;CSR;Roux;Paul;20,00;;;\n"
)


def test_an_imported_batchs_investigations_take_the_agents_given_by_the_automatic_assignment(
    reference, users, gnupg_home
):
    ContractTerms.objects.filter(creditor=reference.cpam).update(auto_assignment="round_robin")
    outcome = batch_import(
        creditor=reference.cpam, content=CSV, filename="lot.csv", source=BatchSource.CREDITOR_UPLOAD, actor=None
    )
    assert outcome.status == "accepted", outcome.error
    tasks = Task.objects.filter(case__batch_line__batch=outcome.batch, kind=TaskKind.ADDRESS_INVESTIGATION)
    assert tasks.count() == 2
    pairs = [(t.agent_id, t.case.assigned_agent_id) for t in tasks]
    assert all(agent == owner and agent is not None for agent, owner in pairs), pairs
    assert task_agents_drift() == []


def _without_triggers(write):
    """Run `write` with the triggers dropped, as an edit by hand that bypassed them would, then put them back."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for sql in MIGRATION.PG_DROP if postgres else MIGRATION.SQLITE_DROP:
            cursor.execute(sql)
        write()
        for sql in MIGRATION.PG_CREATE if postgres else MIGRATION.SQLITE_CREATE:
            cursor.execute(sql)


def test_the_daily_check_finds_a_task_whose_agent_drifted_and_repairs_it(reference, users):
    case = make_case(structure=reference.csr)
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    task, kept = _open(case), _open(case, TaskKind.REVIEW)
    free = _open(make_case(structure=reference.csr, reference="LIBRE"))
    call_command("check_case_counters")  # exact: says so, raises nothing
    other = make_user("agent")

    def drift():
        Task.objects.filter(pk=task.pk).update(agent=other)
        Task.objects.filter(pk=free.pk).update(agent=users.agent)

    _without_triggers(drift)
    assert task_agents_drift() == [task.pk, free.pk]
    with pytest.raises(CommandError, match="tâches : 2 écart"):
        call_command("check_case_counters")
    call_command("check_case_counters", "--repair")
    assert task_agents_drift() == []
    assert _agents(task, kept, free) == [users.agent.pk, users.agent.pk, None]
    assert AuditEvent.objects.filter(verb="task_agents.repaired").count() == 1
    assert AuditEvent.objects.filter(verb="case_counters.rebuilt").count() == 0  # the counters were right
    # The triggers put back still work.
    case_assign(case=case, agent=other, actor=users.supervisor)
    assert _agents(task, kept) == [other.pk, other.pk]
    assert Task.objects.filter(status=TaskStatus.OPEN, agent=other).count() == 2
