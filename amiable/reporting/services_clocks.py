"""Telling people of the contract clocks that became at risk or late (B3): once per clock and state, one
summary per person and run, recorded as `ClockNotice` rows so that `check_deadlines` may run twice."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.audit.services import audit_record
from amiable.core.dates import format_date
from amiable.creditors.models import Creditor
from amiable.notifications.selectors import creditor_staff
from amiable.notifications.services import notify
from amiable.reporting.clocks import CREDITOR_FACING, KINDS, Clock, notices_missing
from amiable.reporting.models import ClockNotice

AGENCY_URL = "/echeances/"
PORTAL_URL = "/portail/echeances/"
EXAMPLES = 5  # case references named per kind and state in a summary


@dataclass
class NoticeRun:
    """What a run told: the notices recorded and the people notified."""

    notices: int = 0
    people: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class _Summary:
    counts: Counter = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, clock: Clock) -> None:
        key = (clock.kind, clock.state)
        self.counts[key] += 1
        label = clock.case_reference or format_date(clock.due)
        if len(self.examples[key]) < EXAMPLES and label not in self.examples[key]:
            self.examples[key].append(label)


def _title(summary: _Summary) -> str:
    late = sum(n for (_, state), n in summary.counts.items() if state == "late")
    at_risk = sum(n for (_, state), n in summary.counts.items() if state == "at_risk")
    parts = []
    if late:
        parts.append(f"{late} en retard")
    if at_risk:
        parts.append(f"{at_risk} à échéance proche")
    return "Échéances du contrat : " + ", ".join(parts)


def _body(summary: _Summary) -> str:
    lines = []
    for kind in KINDS:
        for state, word in (("late", "en retard"), ("at_risk", "à échéance proche")):
            n = summary.counts.get((kind, state))
            if not n:
                continue
            examples = summary.examples[(kind, state)]
            more = " …" if n > len(examples) else ""
            lines.append(f"{KINDS[kind]} — {n} {word} : {', '.join(examples)}{more}")
    return "\n".join(lines)


@transaction.atomic
def clock_notices_record(*, clocks: list[Clock], day: date, actor=None) -> NoticeRun:
    """Record the clocks at risk or late not yet noticed in that state and tell, in one summary each, the
    agency's supervisors and the creditor's référent, and for the clocks the creditor waits on its staff
    who can see them (a person limited to some structures hears only of theirs). Clocks already noticed
    in their state are left out, so that a second run tells nothing more."""
    clocks = notices_missing([c for c in clocks if c.state in ("at_risk", "late")])
    run = NoticeRun()
    if not clocks:
        return run
    now = timezone.now()
    ClockNotice.objects.bulk_create(
        [
            ClockNotice(
                kind=c.kind,
                key=c.notice_key,
                state=c.state,
                creditor_id=c.creditor_id,
                case_pk=c.case_pk,
                due_on=c.due,
                noticed_at=now,
            )
            for c in clocks
        ],
        batch_size=500,
    )
    supervisors = list(User.objects.filter(role=Role.SUPERVISOR, is_active=True).order_by("pk"))
    creditors = Creditor.objects.select_related("referent").in_bulk({c.creditor_id for c in clocks})
    staff: dict[int, list[tuple[User, set[int]]]] = {}
    summaries: dict[int, _Summary] = defaultdict(_Summary)
    people: dict[int, User] = {}
    per_creditor: dict[int, Counter] = defaultdict(Counter)
    for clock in clocks:
        per_creditor[clock.creditor_id][(clock.kind, clock.state)] += 1
        told = list(supervisors)
        referent = creditors[clock.creditor_id].referent
        if referent is not None and referent.is_active:
            told.append(referent)
        if clock.kind in CREDITOR_FACING:
            if clock.creditor_id not in staff:
                staff[clock.creditor_id] = [
                    (user, {s.pk for s in user.structures.all()})
                    for user in creditor_staff(creditor_id=clock.creditor_id)
                ]
            told += [
                user
                for user, limits in staff[clock.creditor_id]
                if not limits or clock.structure_id is None or clock.structure_id in limits
            ]
        for user in {u.pk: u for u in told}.values():
            people[user.pk] = user
            summaries[user.pk].add(clock)
    for pk, summary in summaries.items():
        user = people[pk]
        notify(
            recipients=[user],
            kind="clocks",
            title=_title(summary),
            body=_body(summary),
            url=AGENCY_URL if user.is_agency else PORTAL_URL,
            urgent=any(state == "late" for _, state in summary.counts),
        )
    for creditor_id, counter in sorted(per_creditor.items()):
        counts: dict[str, dict[str, int]] = {}
        for (kind, state), n in sorted(counter.items()):
            counts.setdefault(kind, {})[state] = n
        audit_record(
            actor=actor,
            verb="clocks.noticed",
            target=creditors[creditor_id],
            after={"date": day.isoformat(), "counts": counts},
        )
        for kind, states in counts.items():
            for state, n in states.items():
                run.counts.setdefault(kind, {}).setdefault(state, 0)
                run.counts[kind][state] += n
    run.notices = len(clocks)
    run.people = len(summaries)
    return run
