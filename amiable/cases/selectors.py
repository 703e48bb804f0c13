"""Reads on cases, always through `visible_to` so that no page can leak another creditor's rows."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum

from amiable.accounts.models import User
from amiable.audit.models import AuditEvent
from amiable.audit.timeline import event_details, internal_verbs, verb_label
from amiable.cases.models import STOPPING_EVENTS, Case, CaseEvent, CaseStatus, ContactPoint, Task, TaskStatus
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
    """Cases the user may see, filtered; search matches the reference (prefix) or the debtor's names."""
    qs = Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent")
    search = " ".join(search.split())
    if search:
        condition = Q(reference__istartswith=search)
        words = search.split()
        name_condition = Q()
        for word in words:
            name_condition &= Q(debtor__last_name__icontains=word) | Q(debtor__first_name__icontains=word)
        qs = qs.filter(condition | name_condition)
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


def case_next_task(*, case: Case) -> Task | None:
    """The next thing to do on the case (the case page's summary): the open task due first, one without a
    date after the dated ones; None when nothing is planned."""
    return (
        Task.objects.filter(case=case, status=TaskStatus.OPEN).order_by(F("due_on").asc(nulls_last=True), "pk").first()
    )


def case_contact_points(*, case: Case) -> QuerySet[ContactPoint]:
    return ContactPoint.objects.filter(debtor_id=case.debtor_id).order_by("kind", "-is_primary", "-created_at", "pk")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    verb: str
    label: str
    details: str


AGENCY_LABEL = "Agence"
ROLE_SHORT = {
    "agent": "gestionnaire",
    "supervisor": "superviseur",
    "agency_admin": "administrateur de l'agence",
}


def _actor_label(user: User, *, for_agency: bool) -> str:
    """Who did it, by name and role. The agency sees its staff by name (« Claire Martin (gestionnaire) »); a
    creditor's staff see the agency's people only as « Agence » (they deal with the agency, not with its
    employees) and their own creditor's people by name."""
    name = user.get_full_name() or user.email
    if user.is_agency:
        return f"{name} ({ROLE_SHORT.get(user.role, 'agence')})" if for_agency else AGENCY_LABEL
    return f"{name} ({user.creditor.name})" if user.creditor_id else name


def case_timeline(*, case: Case, include_internal: bool) -> list[TimelineEntry]:
    """What happened on a case, newest first, from the audit trail; labels and descriptions come from the
    verbs each app declares (`audit.timeline`). `include_internal` is the agency's view: internal events
    and the agency staff's names; a creditor sees neither (its people see « Agence »). The authors come in
    the same query as the events (a join); an author no longer found keeps the label recorded at the time
    (shown to the agency only)."""
    events = AuditEvent.objects.for_case(case.pk).select_related("actor__creditor").order_by("-at", "-pk")
    if not include_internal:
        events = events.exclude(verb__in=internal_verbs())
    entries = []
    for event in events:
        if event.actor is not None:
            actor = _actor_label(event.actor, for_agency=include_internal)
        elif event.actor_id:
            actor = event.actor_label if include_internal else AGENCY_LABEL
        else:
            actor = event.actor_label  # « Système »
        entries.append(
            TimelineEntry(
                at=event.at,
                actor=actor,
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
