"""Automatic assignment of an imported batch's cases (per creditor): none, round-robin, by load."""

import pytest

from amiable.accounts.models import User
from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.cases.services_assignment import cases_auto_assign
from amiable.creditors.models import ContractTerms
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from tests.factories import make_case, make_user


def _set(creditor, mode):
    ContractTerms.objects.filter(creditor=creditor).update(auto_assignment=mode)


@pytest.fixture
def agents(reference, users):
    """Three active agents (the fixture's and two more), a deactivated one; supervisors never get cases."""
    extra = [make_user("agent"), make_user("agent")]
    gone = make_user("agent")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    return sorted([users.agent, *extra], key=lambda u: u.pk)


def _new_cases(reference, count, prefix):
    made = [make_case(structure=reference.csr, reference=f"{prefix}-{n}") for n in range(count)]
    return Case.objects.filter(pk__in=[c.pk for c in made])


def _owners(qs):
    return [c.assigned_agent_id for c in qs.order_by("pk")]


def test_nothing_is_assigned_without_the_creditors_choice(reference, agents):
    cases = _new_cases(reference, 3, "RIEN")
    assert cases_auto_assign(creditor=reference.cpam, cases=cases) == {}
    assert _owners(cases) == [None, None, None]


def test_round_robin_goes_on_where_the_last_batch_stopped(reference, agents, users):
    _set(reference.cpam, "round_robin")
    a, b, c = (agent.pk for agent in agents)
    first = _new_cases(reference, 4, "TOUR1")
    assert cases_auto_assign(creditor=reference.cpam, cases=first, actor=users.supervisor) == {a: 2, b: 1, c: 1}
    assert _owners(first) == [a, b, c, a]
    second = _new_cases(reference, 2, "TOUR2")
    cases_auto_assign(creditor=reference.cpam, cases=second)
    assert _owners(second) == [b, c]
    # Each case has its audit event, as when a supervisor assigns it, marked automatic.
    event = AuditEvent.objects.filter(verb="case.assigned", case_pk=first.order_by("pk")[0].pk).get()
    assert event.after["assigned_agent"] == a and event.after["automatic"] == "round_robin"
    assert event.actor == users.supervisor


def test_by_load_fills_the_least_loaded_agents_first(reference, agents):
    _set(reference.cpam, "load")
    a, b, c = agents
    for n in range(3):
        make_case(structure=reference.cdop, reference=f"CHARGE-A-{n}", assigned_agent=a)
    make_case(structure=reference.cdop, reference="CHARGE-B", assigned_agent=b)
    cases = _new_cases(reference, 4, "CHARGE")
    cases_auto_assign(creditor=reference.cpam, cases=cases)
    # Loads 3, 1, 0: c (0), then b and c tie at 1 (b, the smaller id), c (1), then b and c tie at 2 (b).
    assert _owners(cases) == [c.pk, b.pk, c.pk, b.pk]
    loads = {agent.pk: Case.objects.filter(assigned_agent=agent).count() for agent in agents}
    assert loads == {a.pk: 3, b.pk: 3, c.pk: 2}


def test_cases_already_assigned_or_of_another_creditor_are_left(reference, agents, users):
    _set(reference.cpam, "round_robin")
    kept = make_case(structure=reference.csr, reference="DEJA", assigned_agent=users.supervisor)
    other = make_case(structure=reference.other_structure, reference="AILLEURS")
    cases_auto_assign(creditor=reference.cpam, cases=Case.objects.filter(pk__in=[kept.pk, other.pk]))
    assert Case.objects.get(pk=kept.pk).assigned_agent == users.supervisor
    assert Case.objects.get(pk=other.pk).assigned_agent is None


CSV = (
    b"reference;structure;nom;prenom;solde;adresse1;code_postal;ville\n"
    b"AUTO-1;CDOP;Martin;Lise;12,00;1 rue A;75011;Paris\n"
    b"AUTO-2;CDOP;Roux;Paul;20,00;2 rue B;75012;Paris\n"
    b"AUTO-3;CSR;Blanc;Anne;30,00;3 rue C;75013;Paris\n"
)


def test_an_imported_batch_is_assigned_by_round_robin(reference, agents, users, gnupg_home):
    _set(reference.cpam, "round_robin")
    outcome = batch_import(
        creditor=reference.cpam, content=CSV, filename="lot.csv", source=BatchSource.CREDITOR_UPLOAD, actor=None
    )
    assert outcome.status == "accepted", outcome.error
    cases = Case.objects.filter(batch_line__batch=outcome.batch).order_by("batch_line__line")
    assert [c.assigned_agent_id for c in cases] == [agent.pk for agent in agents]
    assert ContractTerms.objects.get(creditor=reference.cpam).auto_assignment_last_id == agents[-1].pk
