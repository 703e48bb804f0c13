"""Reads on cases, always through `visible_to` so that no page can leak another creditor's rows."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import event_details, internal_verbs, verb_label
from amiable.cases.models import STOPPING_EVENTS, Case, CaseEvent, CaseStatus, ContactPoint, Task, TaskStatus
from amiable.cases.search import search_filter
from amiable.core.money import ZERO, rate_percent, to_money

CASE_SORTS = {
    "recu": ("-received_on", "-pk"),
    "recu_asc": ("received_on", "pk"),
    "reference": ("reference", "pk"),
    "montant": ("-balance", "-pk"),  # what the list shows: the remaining balance
    "debiteur": ("debtor__last_name", "debtor__first_name", "pk"),
}


def case_list(
    *,
    user,
    search: str = "",
    creditor_id: int | None = None,
    structure_id: int | None = None,
    status: str = "",
    agent_id: int | None = None,
    sort: str = "recu",
) -> QuerySet[Case]:
    """Cases the user may see, filtered; the search forgives accents, case and writings (`cases.search`)."""
    qs = Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent")
    qs = search_filter(qs, search)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if structure_id:
        qs = qs.filter(structure_id=structure_id)
    if status:
        qs = qs.filter(status=status)
    if agent_id:
        qs = qs.filter(assigned_agent_id=agent_id)
    return qs.order_by(*CASE_SORTS.get(sort, CASE_SORTS["recu"]))


def case_get(*, user, pk: int) -> Case:
    """One case the user may see, or Case.DoesNotExist (the view turns it into a 404)."""
    return Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent").get(pk=pk)


def case_stopping_event(*, case: Case) -> CaseEvent | None:
    """The latest event after which no recovery action may be taken (a death, an admissible over-indebtedness
    file), or None: the contact rule, promises and investigations all ask it."""
    return CaseEvent.objects.filter(case=case, kind__in=STOPPING_EVENTS).order_by("-occurred_on", "-pk").first()


def case_open_tasks(*, case: Case) -> QuerySet[Task]:
    return Task.objects.filter(case=case, status=TaskStatus.OPEN).order_by("due_on", "pk")


def case_contact_points(*, case: Case) -> QuerySet[ContactPoint]:
    return ContactPoint.objects.filter(debtor_id=case.debtor_id).order_by("kind", "-is_primary", "-created_at", "pk")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    verb: str
    label: str
    details: str


def case_timeline(*, case: Case, include_internal: bool) -> list[TimelineEntry]:
    """What happened on a case, oldest first, from the audit trail; labels and descriptions come from the
    verbs each app declares (`audit.timeline`), internal ones only for the agency."""
    events = AuditEvent.objects.for_case(case.pk)
    if not include_internal:
        events = events.exclude(verb__in=internal_verbs())
    entries = []
    for event in events:
        entries.append(
            TimelineEntry(
                at=event.at,
                actor=event.actor_label,
                verb=event.verb,
                label=verb_label(event.verb),
                details=event_details(event),
            )
        )
    return entries


def recovered_sum(prefix: str = "") -> Sum:
    """The sum of what was recovered of the claims, in SQL: the net payments less any excess owed back to the
    debtor (`Case.recovered_amount`), so that totals over many cases are one aggregate. `prefix` reaches the
    cases through a relation (« cases__ »)."""
    return Sum(F(f"{prefix}paid_amount") - F(f"{prefix}overpaid_amount"))


def money_figures(qs: QuerySet[Case], **extra) -> dict:
    """Claimed, recovered and remaining amounts of the cases of `qs` in one aggregate query, with the
    recovery rate (recovered ÷ claimed, by amount); `extra` aggregates ride along in the same query."""
    row = qs.aggregate(claimed=Sum("claimed_amount"), recovered=recovered_sum(), balance=Sum("balance"), **extra)
    for key in ("claimed", "recovered", "balance"):
        row[key] = to_money(row[key] or ZERO)  # SQLite sums decimals in floating point: back to cents
    row["rate"] = rate_percent(row["recovered"], row["claimed"])
    return row


def case_totals(*, user) -> dict:
    """Counts, claimed, recovered and remaining amounts per status for the cases the user may see, in one
    query, with the recovery rate overall (home dashboards)."""
    rows = (
        Case.objects.visible_to(user)
        .values("status")
        .annotate(count=Count("pk"), claimed=Sum("claimed_amount"), recovered=recovered_sum(), balance=Sum("balance"))
        .order_by("status")
    )
    by_status = {row["status"]: row for row in rows}
    result = []
    for status in CaseStatus:
        row = by_status.get(status.value, {})
        result.append(
            {
                "status": status.value,
                "label": status.label,
                "count": row.get("count", 0),
                "amount": to_money(row.get("claimed") or ZERO),
                "recovered": to_money(row.get("recovered") or ZERO),
                "balance": to_money(row.get("balance") or ZERO),
            }
        )
    total_amount: Decimal = sum((r["amount"] for r in result), ZERO)
    recovered: Decimal = sum((r["recovered"] for r in result), ZERO)
    return {
        "rows": result,
        "count": sum(r["count"] for r in result),
        "amount": total_amount,
        "recovered": recovered,
        "balance": sum((r["balance"] for r in result), ZERO),
        "rate": rate_percent(recovered, total_amount),
    }
