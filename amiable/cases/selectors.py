"""Reads on cases, always through `visible_to` so that no page can leak another creditor's rows."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.utils import timezone

from amiable.accounts.models import User
from amiable.audit.models import AuditEvent
from amiable.audit.timeline import event_details, internal_verbs, verb_label
from amiable.cases.models import (
    OPEN_STATUSES,
    STOPPING_EVENTS,
    Case,
    CaseCounter,
    CaseEvent,
    CaseStatus,
    ContactPoint,
    Task,
    TaskStatus,
)
from amiable.cases.search import search_filter
from amiable.core.dates import add_months
from amiable.core.money import ZERO, rate_percent, to_money

# The list's orders. Each column has an ascending and a descending key (`CASE_COLUMNS`); « recu » (newest first)
# and « montant » (largest balance first) keep their older meaning. Every order ends with the primary key, so
# that pages never overlap. « Prochaine action » puts cases without an open dated task last either way.
CASE_SORTS = {
    "reference": ("reference", "pk"),
    "-reference": ("-reference", "-pk"),
    "debiteur": ("debtor__last_name", "debtor__first_name", "pk"),
    "-debiteur": ("-debtor__last_name", "-debtor__first_name", "-pk"),
    "structure": ("structure__code", "pk"),
    "-structure": ("-structure__code", "-pk"),
    "recu_asc": ("received_on", "pk"),
    "recu": ("-received_on", "-pk"),
    "solde": ("balance", "pk"),
    "montant": ("-balance", "-pk"),  # what the list shows: the remaining balance
    "statut": ("status_rank", "pk"),
    "-statut": ("-status_rank", "-pk"),
    "action": (F("next_action_on").asc(nulls_last=True), "pk"),
    "-action": (F("next_action_on").desc(nulls_last=True), "-pk"),
    "gestionnaire": (
        F("assigned_agent__last_name").asc(nulls_last=True),
        F("assigned_agent__first_name").asc(nulls_last=True),
        "pk",
    ),
    "-gestionnaire": (
        F("assigned_agent__last_name").desc(nulls_last=True),
        F("assigned_agent__first_name").desc(nulls_last=True),
        "-pk",
    ),
}
# Column → (ascending key, descending key) of CASE_SORTS, for the clickable headers of the list.
CASE_COLUMNS = {
    "reference": ("reference", "-reference"),
    "debiteur": ("debiteur", "-debiteur"),
    "structure": ("structure", "-structure"),
    "recu": ("recu_asc", "recu"),
    "solde": ("solde", "montant"),
    "statut": ("statut", "-statut"),
    "action": ("action", "-action"),
    "gestionnaire": ("gestionnaire", "-gestionnaire"),
}
DEFAULT_SORT = "recu"
# The `status` of case_list that keeps every open case (new, in progress, payment plan, suspended).
OPEN_CASES = "ouverts"

# Age of a case, in months since it was received: key → (at least, less than) months; None is open-ended.
AGE_BANDS = {
    "moins-3-mois": (None, 3),
    "3-6-mois": (3, 6),
    "6-12-mois": (6, 12),
    "plus-12-mois": (12, None),
}
# Remaining balance, in euros: key → (at least, less than).
BALANCE_BANDS = {
    "moins-100": (None, Decimal("100")),
    "100-500": (Decimal("100"), Decimal("500")),
    "500-2000": (Decimal("500"), Decimal("2000")),
    "plus-2000": (Decimal("2000"), None),
}
# Sorting by status follows the life of a case, not the alphabet.
_STATUS_RANK = SqlCase(
    *[When(status=status.value, then=rank) for rank, status in enumerate(CaseStatus)],
    default=len(CaseStatus),
    output_field=IntegerField(),
)


def _open_tasks():
    return Task.objects.filter(case=OuterRef("pk"), status=TaskStatus.OPEN)


def case_list(
    *,
    user,
    search: str = "",
    creditor_id: int | None = None,
    structure_id: int | None = None,
    status: str = "",
    agent_id: int | None = None,
    unassigned: bool = False,
    age_band: str = "",
    balance_band: str = "",
    due_today: bool = False,
    today: date | None = None,
    sort: str = DEFAULT_SORT,
) -> QuerySet[Case]:
    """Cases the user may see, filtered; the search forgives accents, case and
    writings (`cases.search`).

    Each case carries `next_action_on`, its « prochaine action »: the earliest due date of its open tasks
    (undated tasks do not count), and `next_action_kind`, that task's kind — one correlated subquery each,
    computed only for the rows of the page unless the list is sorted on it. `unassigned` keeps the cases
    without an agent; `due_today` those with an open task due today or before, or undated (what « Ma
    journée » would show); `age_band` and `balance_band` are keys of AGE_BANDS and BALANCE_BANDS (months
    since receipt, remaining balance); an unknown key filters nothing."""
    today = today or timezone.localdate()
    earliest = _open_tasks().filter(due_on__isnull=False).order_by("due_on", "pk")
    qs = (
        Case.objects.visible_to(user)
        .select_related("creditor", "structure", "debtor", "assigned_agent")
        .annotate(
            next_action_on=Subquery(earliest.values("due_on")[:1]),
            next_action_kind=Subquery(earliest.values("kind")[:1]),
        )
    )
    qs = search_filter(qs, search)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if structure_id:
        qs = qs.filter(structure_id=structure_id)
    if status == OPEN_CASES:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if agent_id:
        qs = qs.filter(assigned_agent_id=agent_id)
    if unassigned:
        qs = qs.filter(assigned_agent__isnull=True)
    if age_band in AGE_BANDS:
        least, most = AGE_BANDS[age_band]
        if least is not None:  # received at least `least` months ago
            qs = qs.filter(received_on__lte=add_months(today, -least))
        if most is not None:  # and less than `most` months ago
            qs = qs.filter(received_on__gt=add_months(today, -most))
    if balance_band in BALANCE_BANDS:
        least, most = BALANCE_BANDS[balance_band]
        if least is not None:
            qs = qs.filter(balance__gte=least)
        if most is not None:
            qs = qs.filter(balance__lt=most)
    if due_today:
        qs = qs.filter(Exists(_open_tasks().filter(Q(due_on__lte=today) | Q(due_on__isnull=True))))
    order = CASE_SORTS.get(sort, CASE_SORTS[DEFAULT_SORT])
    if sort in ("statut", "-statut"):
        qs = qs.annotate(status_rank=_STATUS_RANK)
    return qs.order_by(*order)


def case_get(*, user, pk: int) -> Case:
    """One case the user may see, or Case.DoesNotExist (the view turns it into a 404)."""
    return Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent").get(pk=pk)


def case_stopping_event(*, case: Case) -> CaseEvent | None:
    """The latest event after which no recovery action may be taken (a death, an admissible over-indebtedness
    file), or None: the contact rule, promises and investigations all ask it."""
    return CaseEvent.objects.filter(case=case, kind__in=STOPPING_EVENTS).order_by("-occurred_on", "-pk").first()


def case_open_tasks(*, case: Case) -> QuerySet[Task]:
    return Task.objects.filter(case=case, status=TaskStatus.OPEN).order_by("due_on", "pk")


def next_task_of(tasks) -> Task | None:
    """The next thing to do on the case (the case page's summary) among its open tasks, already read for the
    page's list: the one due first, one without a date after the dated ones; None when nothing is planned."""
    return min(tasks, key=lambda task: (task.due_on is None, task.due_on or date.min, task.pk), default=None)


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


def _from_cents(cents) -> Decimal:
    return to_money(Decimal(cents or 0) / 100)


def counter_figures(*, user, by: str, **filters) -> dict:
    """Figures of the cases the user may see per value of `by` (« creditor_id », « structure_id », « agent_id »,
    « status »), read from the maintained counters (`CaseCounter`) in one query over a few rows, whatever the
    number of cases: `count`, `claimed`, `recovered`, `balance` over all of them, and `open_count`,
    `open_balance` over the open ones, with the recovery rate (recovered ÷ claimed). `filters` narrow the
    counters (`agent_id=…`, `status__in=…`)."""
    open_cases = Q(status__in=OPEN_STATUSES)
    rows = (
        CaseCounter.objects.visible_to(user)
        .filter(**filters)
        .values(by)
        .annotate(
            count=Sum("cases"),
            claimed=Sum("claimed_cents"),
            recovered=Sum("recovered_cents"),
            balance=Sum("balance_cents"),
            open_count=Sum("cases", filter=open_cases),
            open_balance=Sum("balance_cents", filter=open_cases),
        )
        .order_by(by)
    )
    result = {}
    for row in rows:
        figures = {
            "count": row["count"] or 0,
            "open_count": row["open_count"] or 0,
            "claimed": _from_cents(row["claimed"]),
            "recovered": _from_cents(row["recovered"]),
            "balance": _from_cents(row["balance"]),
            "open_balance": _from_cents(row["open_balance"]),
        }
        figures["rate"] = rate_percent(figures["recovered"], figures["claimed"])
        result[row[by]] = figures
    return result


EMPTY_FIGURES = {
    "count": 0,
    "open_count": 0,
    "claimed": ZERO,
    "recovered": ZERO,
    "balance": ZERO,
    "open_balance": ZERO,
    "rate": None,
}


def counter_total(*, user, **filters) -> dict:
    """The figures of `counter_figures` summed over every key: one row (open cases of an agent, for instance)."""
    rows = counter_figures(user=user, by="status", **filters).values()
    if not rows:
        return dict(EMPTY_FIGURES)
    total = {
        key: sum((row[key] for row in rows), ZERO if key not in ("count", "open_count") else 0)
        for key in EMPTY_FIGURES
        if key != "rate"
    }
    total["rate"] = rate_percent(total["recovered"], total["claimed"])
    return total


def case_totals(*, user) -> dict:
    """Counts, claimed, recovered and remaining amounts per status for the cases the user may see, with the
    recovery rate overall (home dashboards, the case list): from the maintained counters, one query."""
    by_status = counter_figures(user=user, by="status")
    result = []
    for status in CaseStatus:
        row = by_status.get(status.value, EMPTY_FIGURES)
        result.append(
            {
                "status": status.value,
                "label": status.label,
                "count": row["count"],
                "amount": row["claimed"],
                "recovered": row["recovered"],
                "balance": row["balance"],
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


def case_counts_fresh() -> dict[tuple, tuple[int, Decimal, Decimal, Decimal]]:
    """Every counter's key → (cases, claimed, recovered, balance), counted again from the cases. Reads every
    case: for the daily check and the rebuild, never for a page."""
    rows = (
        Case.objects.values("creditor_id", "structure_id", "status", "assigned_agent_id")
        .annotate(cases=Count("pk"), claimed=Sum("claimed_amount"), recovered=recovered_sum(), balance=Sum("balance"))
        .order_by()
    )
    return {
        (row["creditor_id"], row["structure_id"], row["status"], row["assigned_agent_id"] or 0): (
            row["cases"],
            to_money(row["claimed"] or ZERO),
            to_money(row["recovered"] or ZERO),
            to_money(row["balance"] or ZERO),
        )
        for row in rows
    }


def task_agents_drift() -> list[int]:
    """The tasks whose copy of their case's agent (`Task.agent`) differs from the case's, by id (expected: none,
    the database's triggers keep it)."""
    drifted = Task.objects.exclude(agent__isnull=True, case__assigned_agent__isnull=True).exclude(
        agent_id=F("case__assigned_agent_id")
    )
    return list(drifted.order_by("pk").values_list("pk", flat=True))


def case_counters_drift() -> list[dict]:
    """The counters that differ from a fresh count of the cases (expected: none, the triggers keep them)."""
    fresh = case_counts_fresh()
    kept = {
        (row.creditor_id, row.structure_id, row.status, row.agent_id): (
            row.cases,
            _from_cents(row.claimed_cents),
            _from_cents(row.recovered_cents),
            _from_cents(row.balance_cents),
        )
        for row in CaseCounter.objects.all()
    }
    nothing = (0, ZERO, ZERO, ZERO)
    return [
        {"key": key, "expected": fresh.get(key, nothing), "found": kept.get(key, nothing)}
        for key in sorted(set(fresh) | set(kept), key=str)
        if fresh.get(key, nothing) != kept.get(key, nothing)
    ]
