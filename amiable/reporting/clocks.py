"""Every contract clock in one place (B3): what the agency must do by a date, read from the business data.

Each clock has a kind, a due date and a state: ``on_time``, ``at_risk`` (the due date is near), ``late``
(past due, not done), ``met`` (done by the due date) or ``missed`` (done after it). The rules of each kind,
its warning window and what ends it are explained in docs/clocks.md; the functions here only read.

The clocks of a case (certificate, requests, documents to return, over-indebtedness contest) are rows of
one table each, read in one query per kind whatever their number, streamed with an iterator; the weekly
remittances and the monthly invoices are computed per creditor from a few grouped queries, reusing the L6
alert of the remittances and the pending invoicing of the invoicing app."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from amiable.cases.models import OPEN_STATUSES, TaskKind, TaskStatus
from amiable.cases.models import Case as CaseModel
from amiable.cases.models import Task as TaskModel
from amiable.closure.models import CaseClosure, DocumentReturn
from amiable.core.dates import add_business_days, add_months, month_bounds, weekday_on_or_after
from amiable.core.scoping import scope_to_user
from amiable.creditor_requests.models import CreditorRequest, RequestKind, RequestStatus
from amiable.creditors.models import Creditor, Structure
from amiable.invoicing.models import Invoice, InvoiceKind
from amiable.invoicing.selectors import invoice_pending_oldest, last_complete_month
from amiable.payments.models import Allocation, Component, Payment, PaymentMethod
from amiable.remittances.alerts import TRANSFER_EXECUTION_DAYS, remittances_overdue
from amiable.remittances.models import RemittanceStatus
from amiable.reporting.models import ClockNotice, StatsRollup

KINDS = {
    "certificate": "Certificat d'irrécouvrabilité",
    "statement": "Décompte financier",
    "meeting": "Réunion demandée",
    "question": "Question du créancier",
    "remittance": "Reversement de la semaine",
    "invoice": "Factures du mois",
    "documents_return": "Restitution des pièces",
    "over_indebtedness_contest": "Contestation des créances déclarées (surendettement)",
}
STATES = {
    "on_time": "Dans les temps",
    "at_risk": "Échéance proche",
    "late": "En retard",
    "met": "Tenue",
    "missed": "Manquée",
}
OPEN_STATES = ("on_time", "at_risk", "late")
NOTICE_STATES = ("at_risk", "late")
# The clocks the creditor waits on: its staff are told when they are at risk or late. Invoices and the
# contest of declared debts are the agency's own work.
CREDITOR_FACING = frozenset({"certificate", "statement", "meeting", "question", "remittance", "documents_return"})

DOCUMENTS_RETURN_WARNING_DAYS = 15
CONTEST_WARNING_DAYS = 7  # a quarter of the 30 days
INVOICE_WARNING_DAYS = 7
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock: `key` is its identity within its kind (« case:42 », « creditor:3:week:2026-W40 »); `stage`
    tells the certificate's two warnings apart (« 10m », « 11m »), each noticed once."""

    kind: str
    key: str
    creditor_id: int
    creditor_slug: str
    due: date
    state: str
    case_pk: int | None = None
    case_reference: str | None = None
    structure_id: int | None = None
    stage: str = ""

    @property
    def notice_key(self) -> str:
        return f"{self.key}:{self.stage}" if self.stage else self.key

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def state_label(self) -> str:
        return STATES[self.state]

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "case": self.case_reference,
            "creditor": self.creditor_slug,
            "due": self.due.isoformat(),
            "state": self.state,
        }


def window_start(day: date) -> date:
    """The first day of the 12 months ending with `day`'s month: the period of the shares met, and how far
    back the clocks already met or missed are listed."""
    return add_months(day.replace(day=1), -11)


def instant_of(day: date) -> datetime:
    """The moment a day's clocks are read at: now for today, else the end of that day in Paris (the clocks
    counted in hours — statements, meetings, questions — are late once their due moment has passed)."""
    if day == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.combine(day, time.max))


class AddMonths(Func):
    """`date + n months` in SQL, clamped to the month's end like `core.dates.add_months` (31 January + 1
    month = 28 or 29 February), so that a due date computed by the database is the one Python computes."""

    arity = 2
    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra_context):
        day, day_params = compiler.compile(self.source_expressions[0])
        months, months_params = compiler.compile(self.source_expressions[1])
        # SQLite overflows (31 January + 1 month = 3 March): the month's last day caps it.
        sql = (
            f"MIN(DATE({day}, '+' || ({months}) || ' months'), "
            f"DATE({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day'))"
        )
        return sql, (*day_params, *months_params, *day_params, *months_params)

    def as_postgresql(self, compiler, connection, **extra_context):
        day, day_params = compiler.compile(self.source_expressions[0])
        months, months_params = compiler.compile(self.source_expressions[1])
        return f"(({day}) + make_interval(months => ({months})::int))::date", (*day_params, *months_params)


def _local(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment is not None else None


# --- The clocks of a row each -------------------------------------------------------------------------


class RowKind:
    """A kind whose clocks are rows of one table: its annotated queryset (`clock_due`), the rows a user may
    see, which are open, how one row becomes a Clock, and the SQL of its outcomes for the shares met."""

    kind: str = ""
    creditor_field = "creditor_id"
    structure_field = "case__structure_id"  # empty (None) for a clock of the whole creditor
    fields: tuple[str, ...] = ()

    def base(self) -> QuerySet:
        raise NotImplementedError

    def scoped(self, qs: QuerySet, user) -> QuerySet:
        raise NotImplementedError

    def open_q(self) -> Q:
        raise NotImplementedError

    def build(self, row: dict, day: date, at: datetime) -> Clock:
        raise NotImplementedError

    def met_q(self) -> Q:
        raise NotImplementedError

    def missed_q(self) -> Q:
        raise NotImplementedError

    def late_q(self, day: date, at: datetime) -> Q:
        return self.open_q() & Q(clock_due__lt=day)

    def listed(self, start: date) -> QuerySet:
        """What the command lists: every open clock, and those settled whose due date is in the window."""
        return self.base().filter(self.open_q() | Q(clock_due__gte=start))


def _date_state(*, due: date, day: date, warn_from: date) -> str:
    if day > due:
        return "late"
    return "at_risk" if day >= warn_from else "on_time"


class CertificateKind(RowKind):
    """C10: a certificate at the latest the terms' months (12) after receipt; warned at 10 and 11 months
    (two months and one month before the due date), late after it. A case ended by its due date — paid,
    recalled, declared irrecoverable or closed — met it."""

    kind = "certificate"
    structure_field = "structure_id"
    fields = (
        "pk",
        "reference",
        "creditor_id",
        "creditor__slug",
        "structure_id",
        "status",
        "clock_due",
        "clock_end",
    )

    def base(self) -> QuerySet:
        ended = CaseClosure.objects.filter(case=OuterRef("pk"), reopened_at__isnull=True).order_by("-pk")
        return CaseModel.objects.annotate(
            clock_due=Coalesce(
                "certificate_due_on", AddMonths("received_on", F("creditor__terms__certificate_months"))
            ),
            clock_end=Coalesce(Subquery(ended.values("ended_on")[:1]), TruncDate("status_changed_at")),
        ).filter(clock_due__isnull=False)

    def scoped(self, qs, user):
        return scope_to_user(qs, user, creditor_field="creditor_id", structure_field="structure_id")

    def open_q(self) -> Q:
        return Q(status__in=sorted(OPEN_STATUSES))  # as the partial index `case_open_certificate_due_idx`

    def met_q(self) -> Q:
        return ~self.open_q() & (Q(clock_end__isnull=True) | Q(clock_end__lte=F("clock_due")))

    def missed_q(self) -> Q:
        return ~self.open_q() & Q(clock_end__gt=F("clock_due"))

    def build(self, row, day, at):
        state, stage = certificate_state(
            is_open=row["status"] in OPEN_STATUSES, due=row["clock_due"], ended_on=row["clock_end"], day=day
        )
        return Clock(
            kind=self.kind,
            key=f"case:{row['pk']}",
            creditor_id=row["creditor_id"],
            creditor_slug=row["creditor__slug"],
            due=row["clock_due"],
            state=state,
            case_pk=row["pk"],
            case_reference=row["reference"],
            structure_id=row["structure_id"],
            stage=stage,
        )


def certificate_state(*, is_open: bool, due: date, ended_on: date | None, day: date) -> tuple[str, str]:
    """The state of a certificate clock and, when at risk, which warning (10 or 11 months) it is."""
    if not is_open:
        # A case ended before its end was dated is taken as ended in time.
        return ("met" if ended_on is None or ended_on <= due else "missed"), ""
    if day > due:
        return "late", ""
    if day >= add_months(due, -1):
        return "at_risk", "11m"
    if day >= add_months(due, -2):
        return "at_risk", "10m"
    return "on_time", ""


class RequestKindClock(RowKind):
    """A creditor's request (C33, C34, C43): answered — a meeting: held — by its `due_at`, computed when it
    was asked (`creditor_requests.services`: the terms' hours or days, 5 business days for a question)."""

    fields = (
        "pk",
        "creditor_id",
        "creditor__slug",
        "case_id",
        "case__reference",
        "case__structure_id",
        "status",
        "asked_at",
        "due_at",
        "clock_done_at",
        "clock_due",
    )

    def __init__(self, kind: str):
        self.kind = kind

    def base(self) -> QuerySet:
        done = Case(
            When(kind=RequestKind.MEETING, meeting_at__isnull=False, then=F("meeting_at")),
            default=F("answered_at"),
        )
        return (
            CreditorRequest.objects.filter(kind=self.kind)
            .exclude(status=RequestStatus.CANCELLED)
            .annotate(clock_due=TruncDate("due_at"), clock_done_at=done)
        )

    def scoped(self, qs, user):
        return qs.visible_to(user)

    def open_q(self) -> Q:
        return Q(status=RequestStatus.OPEN)

    def met_q(self) -> Q:
        return Q(status=RequestStatus.ANSWERED, clock_done_at__lte=F("due_at"))

    def missed_q(self) -> Q:
        return Q(status=RequestStatus.ANSWERED, clock_done_at__gt=F("due_at"))

    def late_q(self, day, at) -> Q:
        return self.open_q() & Q(due_at__lt=at)

    def build(self, row, day, at):
        state = request_state(
            kind=self.kind,
            answered=row["status"] == RequestStatus.ANSWERED,
            asked_at=row["asked_at"],
            due_at=row["due_at"],
            done_at=row["clock_done_at"],
            at=at,
        )
        return Clock(
            kind=self.kind,
            key=f"request:{row['pk']}",
            creditor_id=row["creditor_id"],
            creditor_slug=row["creditor__slug"],
            due=_local(row["due_at"]),
            state=state,
            case_pk=row["case_id"],
            case_reference=row["case__reference"],
            structure_id=row["case__structure_id"],
        )


def request_warning_from(*, kind: str, asked_at: datetime, due_at: datetime) -> datetime:
    """When a request becomes at risk: one business day before its due moment for a question (counted in
    business days), the last quarter of its delay for a statement or a meeting (12 h of 48 h)."""
    if kind == RequestKind.QUESTION:
        local = timezone.localtime(due_at)
        day = add_business_days(local.date(), -1)
        return datetime.combine(day, local.time(), tzinfo=local.tzinfo)
    return due_at - (due_at - asked_at) / 4


def request_state(
    *, kind: str, answered: bool, asked_at: datetime, due_at: datetime, done_at: datetime | None, at: datetime
) -> str:
    if answered:
        return "met" if done_at is not None and done_at <= due_at else "missed"
    if at > due_at:
        return "late"
    return "at_risk" if at >= request_warning_from(kind=kind, asked_at=asked_at, due_at=due_at) else "on_time"


class DocumentsReturnKind(RowKind):
    """C25: the creditor's documents given back by `due_on` (the terms' months after the case was settled or
    abandoned); at risk in the last 15 days."""

    kind = "documents_return"
    creditor_field = "case__creditor_id"
    fields = (
        "pk",
        "case_id",
        "case__reference",
        "case__creditor_id",
        "case__creditor__slug",
        "case__structure_id",
        "clock_due",
        "returned_on",
    )

    def base(self):
        return DocumentReturn.objects.annotate(clock_due=F("due_on"))

    def scoped(self, qs, user):
        return scope_to_user(qs, user, creditor_field="case__creditor_id", structure_field="case__structure_id")

    def open_q(self):
        return Q(returned_on__isnull=True)

    def met_q(self):
        return Q(returned_on__lte=F("due_on"))

    def missed_q(self):
        return Q(returned_on__gt=F("due_on"))

    def build(self, row, day, at):
        due, returned_on = row["clock_due"], row["returned_on"]
        if returned_on is not None:
            state = "met" if returned_on <= due else "missed"
        else:
            state = _date_state(due=due, day=day, warn_from=due - timedelta(days=DOCUMENTS_RETURN_WARNING_DAYS))
        return Clock(
            kind=self.kind,
            key=f"return:{row['pk']}",
            creditor_id=row["case__creditor_id"],
            creditor_slug=row["case__creditor__slug"],
            due=due,
            state=state,
            case_pk=row["case_id"],
            case_reference=row["case__reference"],
            structure_id=row["case__structure_id"],
        )


class ContestKind(RowKind):
    """The 30 days to contest the debts declared to the over-indebtedness commission: the case's task
    « Vérifier les créances déclarées », done by its `due_on`; at risk in its last 7 days."""

    kind = "over_indebtedness_contest"
    creditor_field = "case__creditor_id"
    fields = (
        "pk",
        "case_id",
        "case__reference",
        "case__creditor_id",
        "case__creditor__slug",
        "case__structure_id",
        "status",
        "clock_due",
        "clock_done",
    )

    def base(self):
        return (
            TaskModel.objects.filter(kind=TaskKind.CONTEST_DECLARED_DEBTS, due_on__isnull=False)
            .exclude(status=TaskStatus.CANCELLED)
            .annotate(clock_due=F("due_on"), clock_done=TruncDate("closed_at"))
        )

    def scoped(self, qs, user):
        return scope_to_user(qs, user, creditor_field="case__creditor_id", structure_field="case__structure_id")

    def open_q(self):
        return Q(status=TaskStatus.OPEN)

    def met_q(self):
        return Q(status=TaskStatus.DONE) & (Q(clock_done__isnull=True) | Q(clock_done__lte=F("due_on")))

    def missed_q(self):
        return Q(status=TaskStatus.DONE, clock_done__gt=F("due_on"))

    def build(self, row, day, at):
        due = row["clock_due"]
        if row["status"] == TaskStatus.DONE:
            state = "met" if row["clock_done"] is None or row["clock_done"] <= due else "missed"
        else:
            state = _date_state(due=due, day=day, warn_from=due - timedelta(days=CONTEST_WARNING_DAYS))
        return Clock(
            kind=self.kind,
            key=f"task:{row['pk']}",
            creditor_id=row["case__creditor_id"],
            creditor_slug=row["case__creditor__slug"],
            due=due,
            state=state,
            case_pk=row["case_id"],
            case_reference=row["case__reference"],
            structure_id=row["case__structure_id"],
        )


ROW_KINDS: dict[str, RowKind] = {
    "certificate": CertificateKind(),
    "statement": RequestKindClock(RequestKind.STATEMENT),
    "meeting": RequestKindClock(RequestKind.MEETING),
    "question": RequestKindClock(RequestKind.QUESTION),
    "documents_return": DocumentsReturnKind(),
    "over_indebtedness_contest": ContestKind(),
}


def row_clocks(kind: str, *, day: date, at: datetime) -> Iterator[Clock]:
    """The clocks of one row kind the command lists, in one streamed query."""
    spec = ROW_KINDS[kind]
    rows = spec.listed(window_start(day)).values(*spec.fields).order_by("pk")
    for row in rows.iterator(chunk_size=CHUNK):
        yield spec.build(row, day, at)


# --- The clocks of a creditor: remittances and invoices ----------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which creditors and structures a list of clocks is limited to (None: all)."""

    creditor_ids: frozenset[int] | None = None
    structure_ids: frozenset[int] | None = None

    @classmethod
    def of(cls, user=None, creditor_id: int | None = None) -> "Scope":
        if user is None or user.is_agency:
            return cls(creditor_ids=frozenset({creditor_id}) if creditor_id else None)
        if not user.is_creditor_user:
            return cls(creditor_ids=frozenset())
        limit = user.allowed_structure_ids
        return cls(
            creditor_ids=frozenset({user.creditor_id}), structure_ids=frozenset(limit) if limit is not None else None
        )

    def keeps(self, creditor_id: int, structure_id: int | None) -> bool:
        if self.creditor_ids is not None and creditor_id not in self.creditor_ids:
            return False
        return self.structure_ids is None or structure_id is None or structure_id in self.structure_ids

    def filter(self, qs: QuerySet, *, creditor: str, structure: str) -> QuerySet:
        if self.creditor_ids is not None:
            qs = qs.filter(**{f"{creditor}__in": self.creditor_ids})
        if self.structure_ids is not None:
            qs = qs.filter(**{f"{structure}__in": self.structure_ids})
        return qs


def _iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def remittance_due(monday: date, weekday: int) -> date:
    """The sums of a week are remitted on the creditor's remittance day of the next week (C20)."""
    return weekday_on_or_after(monday + timedelta(days=7), weekday or 0)


def remittance_clocks(*, day: date, at: datetime, scope: Scope | None = None) -> list[Clock]:
    """One clock per creditor and week with money collected by the agency: met when every payment of the
    week was remitted and its transfer issued by the remittance day of the next week (C20, L6). Money is
    still held, as for the L6 alert, while a payment is in no remittance, in one only prepared, or in one
    whose transfer was issued more than TRANSFER_EXECUTION_DAYS ago and never executed. The week is late
    after its due day, or as soon as the L6 alert (`remittances_overdue`) reports money of that week held
    more than 7 days."""
    scope = scope or Scope()
    start = window_start(day)
    lost = at - timedelta(days=TRANSFER_EXECUTION_DAYS)
    remittance = "remittance_line__remittance__"
    held = (
        Q(remittance_line__isnull=True)
        | Q(**{f"{remittance}status": RemittanceStatus.PREPARED})
        | Q(**{f"{remittance}status": RemittanceStatus.SENT, f"{remittance}sent_at__lt": lost})
    )
    # Money held for the creditor only: a payment wholly an overpayment is the debtor's, never remitted.
    for_creditor = Allocation.objects.filter(payment=OuterRef("pk"), amount__gt=0).exclude(
        component=Component.OVERPAYMENT
    )
    payments = (
        Payment.objects.exclude(method=PaymentMethod.DIRECT)
        .filter(reversal__isnull=True, collected_on__lte=day)
        .filter(Exists(for_creditor))
        .filter(held | Q(collected_on__gte=start - timedelta(days=14)))
    )
    payments = scope.filter(payments, creditor="case__creditor_id", structure="case__structure_id")
    rows = (
        payments.annotate(week=TruncWeek("collected_on"))
        .values("case__creditor_id", "case__creditor__slug", "case__creditor__terms__remittance_weekday", "week")
        .annotate(
            held=Count("pk", filter=held),
            # The agency's part is done when the transfer is issued (executed, when recorded by hand only).
            done=Max(Coalesce(TruncDate(f"{remittance}sent_at"), f"{remittance}executed_on")),
        )
        .order_by("case__creditor_id", "week")
    )
    late_weeks = _weeks_held_too_long(day=day, scope=scope)
    clocks = []
    for row in rows:
        monday = row["week"]
        if isinstance(monday, datetime):
            monday = monday.date()
        due = remittance_due(monday, row["case__creditor__terms__remittance_weekday"])
        creditor_id = row["case__creditor_id"]
        if row["held"]:
            if day > due or (creditor_id, monday) in late_weeks:
                state = "late"
            else:
                state = "at_risk" if day == due else "on_time"
        else:
            state = "met" if row["done"] is None or row["done"] <= due else "missed"
            if due < start:
                continue
        clocks.append(
            Clock(
                kind="remittance",
                key=f"creditor:{creditor_id}:week:{_iso_week(monday)}",
                creditor_id=creditor_id,
                creditor_slug=row["case__creditor__slug"],
                due=due,
                state=state,
            )
        )
    return clocks


def _weeks_held_too_long(*, day: date, scope: Scope) -> set[tuple[int, date]]:
    """The (creditor, Monday) weeks of the oldest money the L6 alert reports held more than 7 days."""
    overdue = remittances_overdue(today=day)
    if not overdue:
        return set()
    codes = {(s.creditor_slug, s.structure_code): s.oldest for s in overdue.structures}
    structures = Structure.objects.filter(
        creditor__slug__in={slug for slug, _ in codes}, code__in={code for _, code in codes}
    ).values_list("pk", "creditor_id", "creditor__slug", "code")
    weeks = set()
    for pk, creditor_id, slug, code in structures:
        oldest = codes.get((slug, code))
        if oldest is not None and scope.keeps(creditor_id, pk):
            weeks.add((creditor_id, oldest - timedelta(days=oldest.weekday())))
    return weeks


def invoice_due(month_start: date) -> date:
    """A month's commissions are invoiced by the end of the following month (C23: monthly)."""
    return month_bounds(add_months(month_start, 1))[1]


def invoice_clocks(*, day: date, at: datetime, scope: Scope | None = None) -> list[Clock]:
    """One clock per creditor and month whose commissions were or are to be invoiced: met when its invoices
    were issued by the end of the following month. What is still to invoice is what the invoicing run
    would invoice (`invoice_pending`, of which one grouped query reads the oldest date per structure:
    `invoice_pending_oldest`): payments of structures whose month was not invoiced yet make that
    month's clock open; a payment recorded after its month was invoiced goes, by design, into the next
    month's invoice and leaves the month it was collected in alone."""
    scope = scope or Scope()
    start = window_start(day)
    slugs = dict(Creditor.objects.values_list("pk", "slug"))
    invoices = Invoice.objects.filter(kind=InvoiceKind.INVOICE, period_start__gte=add_months(start, -1))
    issued = (
        scope.filter(invoices, creditor="creditor_id", structure="structure_id")
        .values("creditor_id", "period_start")
        .annotate(issued=Max("issued_on"))
        .order_by("creditor_id", "period_start")
    )
    clocks: dict[tuple[int, date], Clock] = {}
    for row in issued:
        due = invoice_due(row["period_start"])
        if due < start or row["period_start"] > day:
            continue
        key = (row["creditor_id"], row["period_start"])
        clocks[key] = Clock(
            kind="invoice",
            key=f"creditor:{row['creditor_id']}:month:{row['period_start']:%Y-%m}",
            creditor_id=row["creditor_id"],
            creditor_slug=slugs[row["creditor_id"]],
            due=due,
            state="met" if row["issued"] <= due else "missed",
        )
    last = last_complete_month(day)
    oldest = invoice_pending_oldest(end=month_bounds(last)[1], creditor_ids=scope.creditor_ids)
    oldest = {key: on for key, on in oldest.items() if scope.keeps(*key)}
    if oldest:
        last_invoiced = dict(
            Invoice.objects.filter(kind=InvoiceKind.INVOICE, structure_id__in={s for _, s in oldest})
            .values("structure_id")
            .annotate(last=Max("period_start"))
            .values_list("structure_id", "last")
        )
        for (creditor_id, structure_id), collected_on in sorted(oldest.items()):
            month = collected_on.replace(day=1)
            after = last_invoiced.get(structure_id)
            if after is not None and after >= month:
                month = add_months(after, 1)
            if month > last:
                continue  # invoiced with a month not over yet
            due = invoice_due(month)
            key = (creditor_id, month)
            state = _date_state(due=due, day=day, warn_from=due - timedelta(days=INVOICE_WARNING_DAYS))
            clocks[key] = Clock(
                kind="invoice",
                key=f"creditor:{creditor_id}:month:{month:%Y-%m}",
                creditor_id=creditor_id,
                creditor_slug=slugs[creditor_id],
                due=due,
                state=state,
            )
    return [clocks[key] for key in sorted(clocks)]


DERIVED_KINDS = {"remittance": remittance_clocks, "invoice": invoice_clocks}


# --- Every clock, for the command --------------------------------------------------------------------


def clocks_all(*, day: date, at: datetime | None = None) -> Iterator[Clock]:
    """Every clock the command lists, kind by kind in the order of KINDS: the open ones, and those met or
    missed whose due date falls within the 12 months up to `day`'s month (or later)."""
    at = at or instant_of(day)
    for kind in KINDS:
        if kind in ROW_KINDS:
            yield from row_clocks(kind, day=day, at=at)
        else:
            yield from DERIVED_KINDS[kind](day=day, at=at)


def empty_counts() -> dict[str, dict[str, int]]:
    return {kind: dict.fromkeys(STATES, 0) for kind in KINDS}


def notices_missing(clocks: list[Clock]) -> list[Clock]:
    """The clocks among `clocks` (at risk or late) not yet noticed in their state: one query per chunk."""
    missing = []
    for i in range(0, len(clocks), 500):
        chunk = clocks[i : i + 500]
        known = set(
            ClockNotice.objects.filter(
                kind__in={c.kind for c in chunk},
                key__in={c.notice_key for c in chunk},
                state__in={c.state for c in chunk},
            ).values_list("kind", "key", "state")
        )
        missing += [c for c in chunk if (c.kind, c.notice_key, c.state) not in known]
    return missing


# --- The pages: the open clocks a user may see, and the shares met ---------------------------------


def _scoped(spec: RowKind, user, creditor_id: int | None) -> QuerySet:
    qs = spec.scoped(spec.base(), user)
    if creditor_id:
        qs = qs.filter(**{spec.creditor_field: creditor_id})
    return qs


def _open_parts(spec: RowKind, user, creditor_id: int | None) -> list[QuerySet]:
    """The open rows of one kind as (kind, pk, due) querysets whose due date is a column an index serves
    (a certificate's `certificate_due_on`), computed only for the rows lacking it."""
    if isinstance(spec, CertificateKind):
        cases = spec.scoped(CaseModel.objects.filter(spec.open_q()), user)
        if creditor_id:
            cases = cases.filter(creditor_id=creditor_id)
        fallback = AddMonths("received_on", F("creditor__terms__certificate_months"))
        return [
            cases.filter(certificate_due_on__isnull=False).annotate(clock_due=F("certificate_due_on")),
            cases.filter(certificate_due_on__isnull=True).annotate(clock_due=fallback).filter(clock_due__isnull=False),
        ]
    return [_scoped(spec, user, creditor_id).filter(spec.open_q())]


def _after(name: str, cursor: tuple[date, str, int], *, reverse: bool = False) -> Q:
    """The rows of kind `name` after (before, `reverse`) the cursor in the order (due, kind, pk)."""
    due, kind, pk = cursor
    op = "lt" if reverse else "gt"
    same_due = Q(pk__in=[])
    if name == kind:
        same_due = Q(**{f"pk__{op}": pk})
    elif (name > kind) != reverse:
        same_due = Q()
    return Q(**{f"clock_due__{op}": due}) | (Q(clock_due=due) & same_due)


def open_clock_rows(
    *,
    user,
    creditor_id: int | None = None,
    kind: str = "",
    after: tuple[date, str, int] | None = None,
    before: tuple[date, str, int] | None = None,
) -> QuerySet:
    """The open clocks of a row each that `user` may see, soonest due first, as (kind, pk, due) rows of one
    UNION query, so that a page of them costs one query whatever their number. `after` / `before` (a row's
    (due, kind, pk)) give the rows after it, or those before it latest first (keyset pagination: an
    index walks to the page, nothing is counted)."""
    cursor, reverse = (before, True) if before else (after, False)
    parts = []
    for name, spec in ROW_KINDS.items():
        if kind and name != kind:
            continue
        for qs in _open_parts(spec, user, creditor_id):
            if cursor:
                qs = qs.filter(_after(name, cursor, reverse=reverse))
            parts.append(qs.annotate(clock_kind=Value(name)).values_list("clock_kind", "pk", "clock_due").order_by())
    order = ("-clock_due", "-clock_kind", "-pk") if reverse else ("clock_due", "clock_kind", "pk")
    if not parts:
        return CaseModel.objects.none().values_list("pk")
    if len(parts) == 1:
        return parts[0].order_by(*order)
    return parts[0].union(*parts[1:], all=True).order_by(*order)


@dataclass
class ClockPage:
    """A page of open clocks: its rows, the cursors of the pages around it (None: none), and how many open
    clocks there are, counted up to COUNT_CAP (`count_capped`: more than that)."""

    rows: list[tuple]
    previous: str | None
    next: str | None
    count: int
    count_capped: bool


COUNT_CAP = 1000


def cursor_of(row: tuple) -> str:
    kind, pk, due = row
    return f"{_as_date(due).isoformat()}.{kind}.{pk}"


def parse_cursor(value: str | None) -> tuple[date, str, int] | None:
    """A cursor of the page's links, or None when absent or not one (the first page is shown)."""
    try:
        due, kind, pk = (value or "").split(".")
        cursor = (date.fromisoformat(due), kind, int(pk))
    except ValueError:
        return None
    return cursor if kind in ROW_KINDS else None


def open_clock_page(
    *,
    user,
    creditor_id: int | None = None,
    kind: str = "",
    after: str | None = None,
    before: str | None = None,
    size: int = 25,
) -> ClockPage:
    """One page of `open_clock_rows`: size + 1 rows are read to know whether another page follows, and the
    open clocks are counted only up to COUNT_CAP, so that a page costs the same whatever their number."""
    after_cursor, before_cursor = parse_cursor(after), parse_cursor(before)
    if before_cursor:
        rows = list(open_clock_rows(user=user, creditor_id=creditor_id, kind=kind, before=before_cursor)[: size + 1])
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        previous = cursor_of(rows[0]) if more_before and rows else None
        following = cursor_of(rows[-1]) if rows else None
    else:
        rows = list(open_clock_rows(user=user, creditor_id=creditor_id, kind=kind, after=after_cursor)[: size + 1])
        more_after = len(rows) > size
        rows = rows[:size]
        previous = cursor_of(rows[0]) if after_cursor and rows else None
        following = cursor_of(rows[-1]) if more_after else None
    counted = open_clock_rows(user=user, creditor_id=creditor_id, kind=kind).order_by()[: COUNT_CAP + 1].count()
    return ClockPage(
        rows=rows,
        previous=previous,
        next=following,
        count=min(counted, COUNT_CAP),
        count_capped=counted > COUNT_CAP,
    )


def clocks_of_rows(rows: list[tuple], *, day: date, at: datetime) -> list[Clock]:
    """The Clocks of a page of `open_clock_rows`, in its order: one query per kind on the page."""
    wanted: dict[str, list[int]] = {}
    for kind, pk, _ in rows:
        wanted.setdefault(kind, []).append(pk)
    built = {}
    for kind, pks in wanted.items():
        spec = ROW_KINDS[kind]
        for row in spec.base().filter(pk__in=pks).values(*spec.fields):
            built[(kind, row["pk"])] = spec.build(row, day, at)
    return [built[(kind, pk)] for kind, pk, _ in rows if (kind, pk) in built]


def creditor_clocks(*, user, creditor_id: int | None = None, kind: str = "", day: date, at: datetime) -> list[Clock]:
    """The remittance and invoice clocks `user` may see (few: one per creditor and week or month)."""
    scope = Scope.of(user, creditor_id)
    clocks = []
    for name, compute in DERIVED_KINDS.items():
        if kind and name != kind:
            continue
        if name == "invoice" and not user.is_agency:
            continue  # the agency's own invoicing: not a clock of the creditor's page
        clocks += compute(day=day, at=at, scope=scope)
    return clocks


@dataclass
class Share:
    """Of the clocks due in a period (up to the day): how many were met, and how many were due."""

    label: str
    met: int = 0
    due: int = 0

    @property
    def percent(self) -> int | None:
        return round(100 * self.met / self.due) if self.due else None


@dataclass
class KindShares:
    kind: str
    months: list[Share]
    quarters: list[Share]

    @property
    def label(self) -> str:
        return KINDS[self.kind]


MONTHS_FR = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]


def _months(day: date) -> list[date]:
    start = window_start(day)
    return [add_months(start, i) for i in range(12)]


def clock_shares(*, user, creditor_id: int | None = None, kind: str = "", day: date, at: datetime) -> list[KindShares]:
    """Per kind, the share of the clocks due in each of the last 12 months (and each quarter) that were met:
    met / (met + missed + late), the clocks falling due that month up to `day`. One aggregate query per
    kind of a row each; the few clocks of the creditors (remittances, invoices) are counted as computed."""
    start = window_start(day)
    counts: dict[str, dict[date, list[int]]] = {}
    for name, spec in ROW_KINDS.items():
        if kind and name != kind:
            continue
        rows = (
            _scoped(spec, user, creditor_id)
            .filter(clock_due__gte=start, clock_due__lte=day)
            .annotate(clock_month=TruncMonth("clock_due", output_field=DateField()))
            .values("clock_month")
            .annotate(
                met=Count("pk", filter=spec.met_q()),
                missed=Count("pk", filter=spec.missed_q()),
                late=Count("pk", filter=spec.late_q(day, at)),
            )
            .order_by("clock_month")
        )
        counts[name] = {
            _as_date(row["clock_month"]): [row["met"], row["met"] + row["missed"] + row["late"]] for row in rows
        }
    for clock in creditor_clocks(user=user, creditor_id=creditor_id, kind=kind, day=day, at=at):
        if not start <= clock.due <= day or clock.state not in ("met", "missed", "late"):
            continue
        cell = counts.setdefault(clock.kind, {}).setdefault(clock.due.replace(day=1), [0, 0])
        cell[0] += clock.state == "met"
        cell[1] += 1
    return _kind_shares(counts, day)


def _kind_shares(counts: dict[str, dict[date, list[int]]], day: date) -> list[KindShares]:
    """The shares per kind of `counts` (kind -> month -> [met, due]), in the order of KINDS."""
    months = _months(day)
    shares = []
    for name in KINDS:
        if name not in counts:
            continue
        month_shares = [Share(f"{MONTHS_FR[m.month - 1]} {m.year}", *counts[name].get(m, [0, 0])) for m in months]
        quarters: dict[tuple[int, int], Share] = {}
        for m, share in zip(months, month_shares, strict=True):
            q = (m.year, (m.month - 1) // 3 + 1)
            total = quarters.setdefault(q, Share(f"T{q[1]} {q[0]}"))
            total.met += share.met
            total.due += share.due
        shares.append(KindShares(kind=name, months=month_shares, quarters=list(quarters.values())))
    return shares


# --- The shares for the rollup: counted per creditor by the daily run, read by the pages -------------

SHARE_STATES = ("met", "missed", "late")
CLOCK_METRIC = "clock"  # the rollup's metric of the clocks (`rollup.CLOCK`)


def clock_counts(*, creditor_id: int, day: date, at: datetime) -> dict[tuple[str, int | None, date, str], int]:
    """The creditor's clocks due in the 12 months up to `day` that were met, missed or are late, counted per
    (kind, structure, month of the due date, state); structure None for a clock of the whole creditor (a
    week's remittance, a month's invoices, a request on no case). One grouped query per kind of a row
    each and the few queries of the remittances and invoices: the same number whatever the cases."""
    start = window_start(day)
    counts: dict[tuple[str, int | None, date, str], int] = {}
    for name, spec in ROW_KINDS.items():
        rows = (
            spec.base()
            .filter(**{spec.creditor_field: creditor_id})
            .filter(clock_due__gte=start, clock_due__lte=day)
            .annotate(
                clock_month=TruncMonth("clock_due", output_field=DateField()),
                clock_structure=F(spec.structure_field),
            )
            .values("clock_structure", "clock_month")
            .annotate(
                met=Count("pk", filter=spec.met_q()),
                missed=Count("pk", filter=spec.missed_q()),
                late=Count("pk", filter=spec.late_q(day, at)),
            )
            .order_by()
        )
        for row in rows:
            for state in SHARE_STATES:
                if row[state]:
                    key = (name, row["clock_structure"], _as_date(row["clock_month"]), state)
                    counts[key] = counts.get(key, 0) + row[state]
    scope = Scope(creditor_ids=frozenset({creditor_id}))
    for compute in DERIVED_KINDS.values():
        for clock in compute(day=day, at=at, scope=scope):
            if start <= clock.due <= day and clock.state in SHARE_STATES:
                key = (clock.kind, None, clock.due.replace(day=1), clock.state)
                counts[key] = counts.get(key, 0) + 1
    return counts


def shares_from_counts(rows, *, day: date, kinds=()) -> list[KindShares]:
    """The shares per kind from summed counts: `rows` of (kind, month, state, count), any number per key;
    `kinds` are shown even without any clock (a line of dashes)."""
    counts: dict[str, dict[date, list[int]]] = {name: {} for name in kinds}
    for name, month, state, count in rows:
        cell = counts.setdefault(name, {}).setdefault(month, [0, 0])
        cell[0] += count if state == "met" else 0
        cell[1] += count
    return _kind_shares(counts, day)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def rollup_shares(
    *, user, creditor_id: int | None = None, kind: str = "", day: date
) -> tuple[list[KindShares], datetime | None]:
    """The shares met the pages show, read from the rollup the daily run refreshes (`StatsRollup`, metric
    « clock »), never from the cases: two indexed queries whatever their number. A creditor's person reads
    its creditor's rows — limited to some structures, those structures' rows and the creditor's own (a
    week's remittance) — never the agency's invoices. Also returns when the figures were computed (the
    oldest refresh of the creditors read; None: never)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return [], None
    scope = Q()
    if user.is_agency:
        if creditor_id:
            scope = Q(creditor_id=creditor_id)
    elif user.is_creditor_user:
        scope = Q(creditor_id=user.creditor_id) & ~Q(dimension__startswith="invoice:")
        limits = user.allowed_structure_ids
        if limits is not None:
            scope &= Q(structure_id__in=limits) | Q(structure__isnull=True)
    else:
        return [], None
    refreshed = StatsRollup.objects.filter(scope).aggregate(at=Min("refreshed_at"))["at"]
    if refreshed is None:
        return [], None
    rows = StatsRollup.objects.filter(scope, metric=CLOCK_METRIC, period__gte=window_start(day), period__lte=day)
    if kind:
        rows = rows.filter(dimension__startswith=f"{kind}:")
    rows = rows.values_list("dimension", "period", "count")
    counted = []
    for dimension, period, count in rows:
        name, _, state = dimension.partition(":")
        if name in KINDS:
            counted.append((name, period, state, count))
    kinds = [name for name in ROW_KINDS if not kind or name == kind]
    return shares_from_counts(counted, day=day, kinds=kinds), refreshed
