"""Automatic assignment of new cases (per creditor, `ContractTerms.auto_assignment`): when a batch is imported,
its cases that nobody follows go to the active agents (role « gestionnaire », not supervisors):

- « tour de rôle »: in the order of the agents' ids, starting after the agent who got the last case of the
  previous round (kept on the terms), one case each in the order of the cases' ids;
- « selon la charge »: each case, in the order of their ids, to the agent with the fewest open cases at that
  moment (the cases just given count), the smaller id first on a tie.

Both are deterministic. The writes are bulk (one UPDATE per agent and slice of ids, one insert of the audit
events), never a query per case: a batch may hold 100,000 lines. Each case gets its « case.assigned » event,
as when a supervisor assigns it."""

import heapq

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.audit.services import SYSTEM_LABEL, audit_rows_write
from amiable.cases.models import OPEN_STATUSES, Case
from amiable.creditors.models import AutoAssignment, ContractTerms

UPDATE_SLICE = 500  # ids per UPDATE: under SQLite's limit of bound parameters


def _assignable_agents() -> list[User]:
    """The agents who receive new cases: active agency staff of the role « gestionnaire », by id."""
    return list(User.objects.filter(role=Role.AGENT, is_active=True).order_by("pk"))


def _round_robin(ids: list[int], agents: list[User], last_pk: int | None) -> list[User]:
    start = next((i for i, agent in enumerate(agents) if last_pk is not None and agent.pk > last_pk), 0)
    return [agents[(start + i) % len(agents)] for i in range(len(ids))]


def _by_load(ids: list[int], agents: list[User]) -> list[User]:
    loads = dict(
        Case.objects.filter(status__in=OPEN_STATUSES, assigned_agent__in=agents)
        .values_list("assigned_agent")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_pk = {agent.pk: agent for agent in agents}
    heap = [(loads.get(agent.pk, 0), agent.pk) for agent in agents]
    heapq.heapify(heap)
    chosen = []
    for _ in ids:
        load, pk = heapq.heappop(heap)
        chosen.append(by_pk[pk])
        heapq.heappush(heap, (load + 1, pk))
    return chosen


@transaction.atomic
def cases_auto_assign(*, creditor, cases: QuerySet[Case], actor=None) -> dict[int, int]:
    """Give the unassigned cases of `cases` (those of a batch just imported) to the agents as the creditor's
    terms say; returns how many cases each agent got (by agent id), empty when the creditor assigns by hand
    or no agent is active. `actor` is who imported the batch (None: the system)."""
    terms = ContractTerms.objects.select_for_update().filter(creditor=creditor).first()
    if terms is None or terms.auto_assignment == AutoAssignment.NONE:
        return {}
    agents = _assignable_agents()
    if not agents:
        return {}
    rows = list(
        cases.filter(creditor=creditor, assigned_agent__isnull=True)
        .order_by("pk")
        .values_list("pk", "reference", "status")
    )
    rows = [(pk, reference) for pk, reference, status in rows if status in OPEN_STATUSES]
    if not rows:
        return {}
    ids = [pk for pk, _ in rows]
    if terms.auto_assignment == AutoAssignment.ROUND_ROBIN:
        chosen = _round_robin(ids, agents, terms.auto_assignment_last_id)
        terms.auto_assignment_last = chosen[-1]
        terms.save(update_fields=["auto_assignment_last"])
    else:
        chosen = _by_load(ids, agents)
    given: dict[int, list[int]] = {}
    for pk, agent in zip(ids, chosen, strict=True):
        given.setdefault(agent.pk, []).append(pk)
    for agent_pk, agent_ids in given.items():
        for start in range(0, len(agent_ids), UPDATE_SLICE):
            Case.objects.filter(pk__in=agent_ids[start : start + UPDATE_SLICE]).update(assigned_agent_id=agent_pk)
    is_user = getattr(actor, "is_authenticated", False)
    now = timezone.now()
    audit_rows_write(
        [
            (
                now,
                actor.pk if is_user else None,
                actor.email if is_user else SYSTEM_LABEL,
                "case.assigned",
                "cases.case",
                str(pk),
                f"Dossier {reference}"[:255],
                pk,
                creditor.pk,
                {"assigned_agent": None},
                {"assigned_agent": agent.pk, "agent": str(agent), "automatic": terms.auto_assignment},
                None,
            )
            for (pk, reference), agent in zip(rows, chosen, strict=True)
        ],
    )
    return {agent_pk: len(agent_ids) for agent_pk, agent_ids in given.items()}
