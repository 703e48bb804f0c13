"""Reads for the case work: an agent's « Ma journée » queue and what the case page's « Actions » card needs.
Every read is a fixed number of queries whatever the amount of data (select_related, subqueries)."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from amiable.accounts.models import AGENCY_ROLES, User
from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseReadMarker,
    Comment,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.contact.models import CallRecord, PromiseStatus, PromiseToPay
from amiable.core.money import format_money
from amiable.creditor_requests.models import CreditorRequest, MeetingSlot, RequestKind, RequestStatus
from amiable.creditors.models import Creditor

# How far back « Ma journée » looks for promises flagged broken and decisions of the creditor.
BROKEN_PROMISE_DAYS = 30
DECIDED_APPROVAL_DAYS = 7
# At most this many rows of each source on the page; the counts are always complete.
SECTION_LIMIT = 100
# `agent=UNASSIGNED`: the day of nobody, the work on cases no agent holds (supervisors look at it).
UNASSIGNED = None


class ItemKind:
    TASK = "tache"
    REQUEST = "demande"
    PROMISE = "promesse"
    DECISION = "decision"
    MESSAGE = "message"


ITEM_KINDS = [
    (ItemKind.TASK, "Tâches"),
    (ItemKind.REQUEST, "Demandes du créancier"),
    (ItemKind.PROMISE, "Promesses non tenues"),
    (ItemKind.DECISION, "Décisions du créancier"),
    (ItemKind.MESSAGE, "Messages du créancier"),
]
KIND_LABELS = dict(ITEM_KINDS)
_SINGULAR = {
    ItemKind.TASK: "Tâche",
    ItemKind.REQUEST: "Demande du créancier",
    ItemKind.PROMISE: "Promesse non tenue",
    ItemKind.DECISION: "Décision du créancier",
    ItemKind.MESSAGE: "Message du créancier",
}


@dataclass
class DayItem:
    """One thing due, whatever its source: what the page lists, sorted by `due_key`."""

    kind: str
    pk: int
    case: object | None  # the Case, or None for a request about no case (a meeting)
    creditor: Creditor
    what: str
    detail: str
    due: date | datetime  # a day (tasks, promises…) or a moment (a request's contractual clock)
    due_key: datetime  # when it is due at the latest: the end of its day for a day
    late: bool
    url: str
    action: str
    clock: bool = False  # `due` is a contractual clock (a moment)
    unread: bool = False
    at: datetime | None = None  # when it arrived, to order items due the same moment

    @property
    def kind_label(self) -> str:
        return _SINGULAR[self.kind]


@dataclass
class Source:
    """What one source gave: its rows (at most the limit) and how many there are in all."""

    items: list[DayItem] = field(default_factory=list)
    count: int = 0

    @property
    def capped(self) -> bool:
        return self.count > len(self.items)

    @property
    def more(self) -> bool:
        """More rows than DAY_COUNT_CAP: the count shown is a floor (« 1 000+ »)."""
        return self.count > DAY_COUNT_CAP


@dataclass
class DayQueue:
    sources: dict[str, Source]
    kind: str = ""

    @property
    def items(self) -> list[DayItem]:
        """The merged list, overdue first, then by due time: shown kinds only (`kind` filters)."""
        shown = [s for k, s in self.sources.items() if not self.kind or k == self.kind]
        return sorted(
            (item for source in shown for item in source.items),
            key=lambda i: (i.due_key, i.at or i.due_key, i.kind, i.pk),
        )

    @property
    def total(self) -> int:
        return sum(s.count for k, s in self.sources.items() if not self.kind or k == self.kind)

    @property
    def more(self) -> bool:
        return any(s.more for k, s in self.sources.items() if not self.kind or k == self.kind)

    @property
    def late(self) -> int:
        return sum(1 for item in self.items if item.late)

    @property
    def capped(self) -> bool:
        return any(s.capped for k, s in self.sources.items() if not self.kind or k == self.kind)

    def count(self, kind: str) -> int:
        return self.sources[kind].count


def _end_of(day: date) -> datetime:
    """A thing due on a day may be done until that day ends (Paris time)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# Beyond this many rows a source is counted as « plus de 1 000 »: counting every overdue task of a large backlog
# would cost more than the page.
DAY_COUNT_CAP = 1000


def _bounded(qs: QuerySet, limit: int) -> tuple[list, int]:
    """The first `limit` rows, an index walk that stops there; when the limit is reached, a second query counts
    the rows up to DAY_COUNT_CAP + 1 (never a count over the whole backlog)."""
    rows = list(qs[:limit])
    if len(rows) < limit:
        return rows, len(rows)
    return rows, qs.order_by().values("pk")[: DAY_COUNT_CAP + 1].count()


def _case_scope(agent: User | None, prefix: str = "case__") -> Q:
    if agent is UNASSIGNED:
        return Q(**{f"{prefix}assigned_agent__isnull": True})
    return Q(**{f"{prefix}assigned_agent": agent})


def _task_scope(agent: User | None) -> Q:
    """A task carries its case's agent (`Task.agent`, kept by the database): the agent's open tasks are read on
    their own index in due order, not by joining every open task to its case."""
    return Q(agent__isnull=True) if agent is UNASSIGNED else Q(agent=agent)


def _case_url(case, anchor: str = "") -> str:
    return f"/dossiers/{case.pk}/{'#' + anchor if anchor else ''}"


def _tasks(agent, today, creditor_id, task_kind, limit) -> Source:
    """Open tasks due today or before (undated: today), whatever the state of the case: a task still open
    on an ended case (a receipt to hand over) is work to do; ending a case cancels the others."""
    qs = Task.objects.filter(_task_scope(agent), status=TaskStatus.OPEN).filter(
        Q(due_on__lte=today) | Q(due_on__isnull=True)
    )
    if creditor_id:
        qs = qs.filter(case__creditor_id=creditor_id)
    if task_kind:
        qs = qs.filter(kind=task_kind)
    qs = qs.select_related("case", "case__debtor", "case__creditor").order_by(F("due_on").asc(nulls_last=True), "pk")
    rows, count = _bounded(qs, limit)
    items = [
        DayItem(
            kind=ItemKind.TASK,
            pk=task.pk,
            case=task.case,
            creditor=task.case.creditor,
            what=task.get_kind_display(),
            detail=task.reason,
            due=task.due_on or today,
            due_key=_end_of(task.due_on or today),
            late=task.due_on is not None and task.due_on < today,
            url=_case_url(task.case, "taches-titre"),
            action="Ouvrir le dossier",
            at=task.created_at,
        )
        for task in rows
    ]
    return Source(items, count)


def _requests(agent, now, creditor_id, limit) -> Source:
    """Open requests of the creditor, each with the contract's clock: those on the agent's cases (any state:
    the clock runs until answered) and, for a request about no case (a meeting), the creditor's referent at
    the agency; « non attribués »: cases with no agent, and requests of a creditor with no referent."""
    if agent is UNASSIGNED:
        scope = Q(case__isnull=False, case__assigned_agent__isnull=True) | Q(
            case__isnull=True, creditor__referent__isnull=True
        )
    else:
        scope = Q(case__assigned_agent=agent) | Q(case__isnull=True, creditor__referent=agent)
    qs = CreditorRequest.objects.filter(scope, status=RequestStatus.OPEN)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    qs = (
        qs.annotate(has_slots=Exists(MeetingSlot.objects.filter(request=OuterRef("pk"))))
        .select_related("case", "case__debtor", "creditor", "asked_by")
        .order_by("due_at", "pk")
    )
    rows, count = _bounded(qs, limit)
    items = []
    for request in rows:
        meeting = request.kind == RequestKind.MEETING
        if meeting and request.has_slots:
            action, detail = "Voir les créneaux", "Créneaux proposés : le créancier doit en retenir un."
        elif meeting:
            action, detail = "Proposer des créneaux", request.body
        else:
            action, detail = "Répondre", request.body
        items.append(
            DayItem(
                kind=ItemKind.REQUEST,
                pk=request.pk,
                case=request.case,
                creditor=request.creditor,
                what=request.get_kind_display(),
                detail=detail,
                due=request.due_at,
                due_key=request.due_at,
                late=request.due_at < now,
                url=_case_url(request.case, "demandes") if request.case else f"/demandes/#demande-{request.pk}",
                action=action,
                clock=True,
                at=request.asked_at,
            )
        )
    return Source(items, count)


def _promises(agent, today, creditor_id, limit) -> Source:
    """Promises to pay found broken lately, on open cases: the debtor is to be called back."""
    qs = PromiseToPay.objects.filter(
        _case_scope(agent),
        case__status__in=OPEN_STATUSES,
        status=PromiseStatus.BROKEN,
        due_on__gte=today - timedelta(days=BROKEN_PROMISE_DAYS),
    )
    if creditor_id:
        qs = qs.filter(case__creditor_id=creditor_id)
    qs = qs.select_related("case", "case__debtor", "case__creditor").order_by("due_on", "pk")
    rows, count = _bounded(qs, limit)
    items = [
        DayItem(
            kind=ItemKind.PROMISE,
            pk=promise.pk,
            case=promise.case,
            creditor=promise.case.creditor,
            what=f"Promesse de {format_money(promise.amount)} non tenue",
            detail="Rappeler le débiteur.",
            due=promise.due_on,
            due_key=_end_of(promise.due_on),
            late=promise.due_on < today,
            url=_case_url(promise.case, "actions"),
            action="Rappeler",
        )
        for promise in rows
    ]
    return Source(items, count)


def _decisions(agent, today, now, creditor_id, limit) -> Source:
    """The creditor's decisions of the last days on open cases: to act on the day they come (an accepted
    court action, a plan to set up, a refusal to tell the debtor)."""
    qs = ApprovalRequest.objects.filter(
        _case_scope(agent),
        case__status__in=OPEN_STATUSES,
        status__in=[ApprovalStatus.ACCEPTED, ApprovalStatus.REFUSED],
        decided_at__gte=now - timedelta(days=DECIDED_APPROVAL_DAYS),
    )
    if creditor_id:
        qs = qs.filter(case__creditor_id=creditor_id)
    qs = qs.select_related("case", "case__debtor", "case__creditor__terms", "decided_by").order_by("decided_at", "pk")
    rows, count = _bounded(qs, limit)
    items = []
    for approval in rows:
        label = approval.get_kind_display()
        if approval.kind == ApprovalKind.LONG_PLAN:  # the creditor's maximum, read with the row (no query)
            label = f"Plan d'apurement de plus de {approval.case.creditor.terms.max_plan_months} mois"
        who = approval.decided_by.get_full_name() if approval.decided_by else ""
        decided_on = timezone.localdate(approval.decided_at)
        items.append(
            DayItem(
                kind=ItemKind.DECISION,
                pk=approval.pk,
                case=approval.case,
                creditor=approval.case.creditor,
                what=f"{label} : {approval.get_status_display().lower()}",
                detail=" — ".join(x for x in (f"par {who}" if who else "", approval.decision_comment) if x),
                due=approval.decided_at,
                due_key=_end_of(decided_on),
                late=decided_on < today,
                url=_case_url(approval.case, "decisions"),
                action="Voir la décision",
                clock=True,
                at=approval.decided_at,
            )
        )
    return Source(items, count)


def _messages(agent, today, creditor_id, limit) -> Source:
    """Creditor messages not answered yet: the cases whose last message (internal notes aside) is the
    creditor's, due from the first one left unanswered; « non lu » when the agent has not opened the case
    since. One row per case: the last message."""
    public = Comment.objects.filter(internal=False)
    later = public.filter(case=OuterRef("case_id")).filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk"))
    )
    answered_after = public.filter(
        case=OuterRef("case_id"), author__creditor__isnull=True, created_at__gt=OuterRef("created_at")
    )
    first_waiting = (
        public.filter(case=OuterRef("case_id"), author__creditor__isnull=False)
        .exclude(Exists(answered_after))
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    qs = Comment.objects.filter(_case_scope(agent), internal=False, author__creditor__isnull=False).exclude(
        Exists(later)
    )
    if creditor_id:
        qs = qs.filter(case__creditor_id=creditor_id)
    qs = qs.annotate(waiting_since=Subquery(first_waiting))
    if agent is not UNASSIGNED:
        marker = CaseReadMarker.objects.filter(case=OuterRef("case_id"), user=agent).values("read_at")[:1]
        qs = qs.annotate(read_at=Subquery(marker))
    qs = qs.select_related("case", "case__debtor", "case__creditor", "author").order_by("waiting_since", "pk")
    rows, count = _bounded(qs, limit)
    items = []
    for comment in rows:
        since = comment.waiting_since or comment.created_at
        read_at = getattr(comment, "read_at", None)
        items.append(
            DayItem(
                kind=ItemKind.MESSAGE,
                pk=comment.pk,
                case=comment.case,
                creditor=comment.case.creditor,
                what=f"Message de {comment.author.get_full_name() or comment.author.email}",
                detail=comment.body,
                due=since,
                due_key=_end_of(timezone.localdate(since)),
                late=timezone.localdate(since) < today,
                url=_case_url(comment.case, "commentaires"),
                action="Répondre",
                clock=True,
                unread=agent is not UNASSIGNED and (read_at is None or read_at < comment.created_at),
                at=since,
            )
        )
    return Source(items, count)


def day_queue(
    *,
    agent: User | None,
    today: date | None = None,
    now: datetime | None = None,
    kind: str = "",
    task_kind: str = "",
    creditor_id: int | None = None,
    limit: int = SECTION_LIMIT,
) -> DayQueue:
    """Everything due for an agent (`agent=UNASSIGNED`: on the cases no agent holds), in one list sorted by
    due time: open tasks due today or before, the creditor's open requests with their contractual clocks,
    promises found broken lately, the creditor's recent decisions and its messages not answered. One query
    per source whatever the data (each capped at `limit` rows and counted in full); `kind` picks a source,
    `task_kind` a kind of task (then only tasks are shown), `creditor_id` a creditor."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    if task_kind:
        kind = ItemKind.TASK
    sources = {
        ItemKind.TASK: _tasks(agent, today, creditor_id, task_kind, limit),
        ItemKind.REQUEST: _requests(agent, now, creditor_id, limit),
        ItemKind.PROMISE: _promises(agent, today, creditor_id, limit),
        ItemKind.DECISION: _decisions(agent, today, now, creditor_id, limit),
        ItemKind.MESSAGE: _messages(agent, today, creditor_id, limit),
    }
    return DayQueue(sources=sources, kind=kind if kind in KIND_LABELS else "")


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
