"""Reads for the case work: an agent's « Ma journée » queue and what the case page's « Actions » card needs.
Every read is a fixed number of queries whatever the amount of data (select_related, subqueries)."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from amiable.accounts.models import AGENCY_ROLES, User
from amiable.approvals.models import ApprovalRequest, ApprovalStatus
from amiable.cases.models import (
    OPEN_STATUSES,
    Case,
    Comment,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.contact.models import CallRecord, PromiseStatus, PromiseToPay
from amiable.creditors.models import Creditor

# How far back « Ma journée » looks for promises flagged broken and decisions of the creditor.
BROKEN_PROMISE_DAYS = 30
DECIDED_APPROVAL_DAYS = 7
# At most this many rows per section on the page; the counts are always complete.
SECTION_LIMIT = 100


@dataclass
class Section:
    items: list = field(default_factory=list)
    count: int = 0


@dataclass
class DayQueue:
    tasks: Section
    promises: Section
    approvals: Section
    comments: Section

    @property
    def total(self) -> int:
        return self.tasks.count + self.promises.count + self.approvals.count + self.comments.count


def _section(qs: QuerySet, limit: int) -> Section:
    items = list(qs[: limit + 1])
    if len(items) <= limit:
        return Section(items=items, count=len(items))
    return Section(items=items[:limit], count=qs.count())


def day_queue(
    *, agent: User, today: date, kind: str = "", creditor_id: int | None = None, limit: int = SECTION_LIMIT
) -> DayQueue:
    """What needs the agent today on the open cases assigned to them: open tasks due today or before (or
    undated), promises to pay found broken lately, the creditor's recent decisions, and cases whose last
    message is the creditor's (not answered yet). `kind` filters the tasks, `creditor_id` every section."""
    case_filter = Q(case__assigned_agent=agent, case__status__in=OPEN_STATUSES)
    if creditor_id:
        case_filter &= Q(case__creditor_id=creditor_id)
    related = ("case", "case__debtor", "case__creditor", "case__structure")

    tasks = (
        Task.objects.filter(case_filter, status=TaskStatus.OPEN)
        .filter(Q(due_on__lte=today) | Q(due_on__isnull=True))
        .select_related(*related)
        .order_by(F("due_on").asc(nulls_first=True), "pk")
    )
    if kind:
        tasks = tasks.filter(kind=kind)

    promises = (
        PromiseToPay.objects.filter(
            case_filter, status=PromiseStatus.BROKEN, due_on__gte=today - timedelta(days=BROKEN_PROMISE_DAYS)
        )
        .select_related(*related)
        .order_by("-due_on", "-pk")
    )

    approvals = (
        ApprovalRequest.objects.filter(
            case_filter,
            status__in=[ApprovalStatus.ACCEPTED, ApprovalStatus.REFUSED],
            decided_at__gte=timezone.now() - timedelta(days=DECIDED_APPROVAL_DAYS),
        )
        .select_related(*related, "decided_by")
        .order_by("-decided_at", "-pk")
    )

    last_message = Comment.objects.filter(case=OuterRef("pk"), internal=False).order_by("-created_at", "-pk")
    comments = (
        Case.objects.filter(assigned_agent=agent, status__in=OPEN_STATUSES)
        .annotate(
            last_author_creditor=Subquery(last_message.values("author__creditor_id")[:1]),
            last_message_at=Subquery(last_message.values("created_at")[:1]),
            last_message_body=Subquery(last_message.values("body")[:1]),
        )
        .filter(last_author_creditor__isnull=False)
        .select_related("debtor", "creditor", "structure")
        .order_by("-last_message_at", "-pk")
    )
    if creditor_id:
        comments = comments.filter(creditor_id=creditor_id)

    return DayQueue(
        tasks=_section(tasks, limit),
        promises=_section(promises, limit),
        approvals=_section(approvals, limit),
        comments=_section(comments, limit),
    )


def agency_people() -> QuerySet[User]:
    """Active agency staff, to whom cases may be given (and whose day a supervisor may look at)."""
    return User.objects.filter(role__in=sorted(AGENCY_ROLES), is_active=True).order_by("last_name", "first_name", "pk")


def creditor_choices() -> QuerySet[Creditor]:
    return Creditor.objects.order_by("name", "pk")


def task_kind_choices() -> list[tuple[str, str]]:
    return list(TaskKind.choices)


def case_phone_points(*, case: Case) -> list[ContactPoint]:
    """The debtor's phones not known to be wrong, to pick the number called (another may be typed)."""
    return list(
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.PHONE)
        .exclude(quality=ContactQuality.INVALID)
        .order_by("-is_primary", "-created_at", "pk")
    )


def case_address_points(*, case: Case) -> QuerySet[ContactPoint]:
    """The debtor's addresses not yet known to be wrong: a returned letter may be filed against them."""
    return (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.ADDRESS)
        .exclude(quality=ContactQuality.INVALID)
        .order_by("-is_primary", "-created_at", "pk")
    )


def case_open_investigations(*, case: Case) -> QuerySet[Task]:
    """The case's open address investigation (at most one: one open task per kind)."""
    return Task.objects.filter(case=case, kind=TaskKind.ADDRESS_INVESTIGATION, status=TaskStatus.OPEN).order_by("pk")


def case_recent_calls(*, case: Case, limit: int = 5) -> list[CallRecord]:
    """The last calls of a case with their internal notes (agency staff only)."""
    return list(
        CallRecord.objects.filter(action__case=case)
        .select_related("action", "action__actor")
        .order_by("-action__at", "-pk")[:limit]
    )


def case_promises(*, case: Case, limit: int = 10) -> list[PromiseToPay]:
    """The case's latest promises to pay, pending first: the agent marks those kept."""
    return list(PromiseToPay.objects.filter(case=case).order_by("status", "-due_on", "-pk")[:limit])
