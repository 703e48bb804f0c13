"""Running the recovery scenarios once a day: each due step of each case, once, within the contact policy."""

import os
from collections import Counter, defaultdict
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.audit.services import audit_record, audit_record_many
from amiable.cases.models import (
    Case,
    CaseStatus,
    Channel,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.cases.policy import case_contact_blocks
from amiable.cases.services import task_open
from amiable.contact.messaging import POINT_ORDER, email_content, email_send, reminders_queue, sms_content, sms_send
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.core.bulk import insert_objects, insert_rows
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.storage import storage_location
from amiable.creditors.models import Agency, Structure
from amiable.creditors.selectors import agency_get
from amiable.letters.models import Letter, LetterKind
from amiable.letters.services import letter_issue
from amiable.letters.services_bulk import CHUNK_SIZE as FIRST_LETTERS_CHUNK
from amiable.letters.services_bulk import letters_issue_first
from amiable.scenarios.models import Scenario, ScenarioStep, StepAction, StepRun

CHANNEL_OF = {
    StepAction.FIRST_LETTER: Channel.LETTER,
    StepAction.REMINDER_LETTER: Channel.LETTER,
    StepAction.EMAIL: Channel.EMAIL,
    StepAction.SMS: Channel.SMS,
    StepAction.CALL: Channel.CALL,
}
# The steps that open a task for the agent, and what the task says.
TASK_OF = {StepAction.CALL: TaskKind.CALL, StepAction.REVIEW: TaskKind.REVIEW}
TASK_REASONS = {
    TaskKind.CALL: "Appel prévu par le scénario",
    TaskKind.REVIEW: "Revue : certificat d'irrécouvrabilité à envisager",
}
# The cases run together: their facts are read and their results written a chunk at a time.
CHUNK = 1000
EXECUTED = "executed"
# The hour a run stands for when it is for another day than today (a catch-up, a test): within the
# default contact hours.
RUN_HOUR = time(11, 0)


@dataclass
class RunReport:
    date: date
    executed: int = 0
    by_channel: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    documents: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # steps that could not be done, still due

    def as_json(self) -> dict:
        return {
            "date": self.date.isoformat(),
            "executed": self.executed,
            "by_channel": dict(sorted(self.by_channel.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "documents": self.documents,
        }


class _Point(NamedTuple):
    """What the run reads of a valid contact point."""

    debtor_id: int
    kind: str
    value: str
    line1: str


@dataclass
class _Facts:
    """What the conditions and the messages of a chunk's cases read, one query each instead of one per case."""

    points: dict[int, list[_Point]]  # the debtors' valid contact points, by debtor, in POINT_ORDER
    first_letters: dict[int, Letter]  # by case
    promised: set[int]  # cases with a promise pending
    awaiting: set[int]  # cases with a debtor's proposal awaiting the creditor
    open_tasks: set[tuple[int, str]]  # (case, kind) of the open tasks
    agency: Agency  # what every message signs

    def point(self, case: Case, kind: str) -> _Point | None:
        """The valid point a message would go to (`contact.messaging._contact`), or None."""
        return next((p for p in self.points.get(case.debtor_id, ()) if p.kind == kind and p.value != ""), None)

    def has_address(self, case: Case) -> bool:
        return any(p.kind == ContactKind.ADDRESS and p.line1 != "" for p in self.points.get(case.debtor_id, ()))


# The steps that read the debtor's contact points, and those that read the case's first letter.
READS_POINTS = frozenset({StepAction.FIRST_LETTER, StepAction.REMINDER_LETTER, StepAction.EMAIL, StepAction.SMS})
READS_FIRST_LETTER = frozenset({StepAction.FIRST_LETTER, StepAction.EMAIL, StepAction.SMS})


def _facts(chosen: list[tuple[Case, ScenarioStep]], on: date) -> _Facts:
    """Read for the chunk's cases, each only for the steps that need it (a review reads no contact point)."""
    ids = [case.pk for case, _step in chosen]
    debtors = {
        case.debtor_id
        for case, step in chosen
        if step.action in READS_POINTS or step.requires_email or step.requires_phone
    }
    with_letters = [case.pk for case, step in chosen if step.action in READS_FIRST_LETTER]
    points: dict[int, list[_Point]] = defaultdict(list)
    if debtors:
        # Plain tuples: a message reads only the point's value, the conditions its kind and first line.
        for row in (
            ContactPoint.objects.filter(debtor_id__in=debtors, quality=ContactQuality.VALID)
            .order_by(*POINT_ORDER)
            .values_list(*_Point._fields)
        ):
            points[row[0]].append(_Point._make(row))
    first_letters = {}
    if with_letters:
        first_letters = {
            letter.case_id: letter for letter in Letter.objects.filter(case_id__in=with_letters, kind=LetterKind.FIRST)
        }
    return _Facts(
        agency=agency_get(),
        points=points,
        first_letters=first_letters,
        promised=set(
            PromiseToPay.objects.filter(case_id__in=ids, status=PromiseStatus.PENDING, due_on__gte=on).values_list(
                "case_id", flat=True
            )
        ),
        awaiting=set(
            ApprovalRequest.objects.filter(
                case_id__in=ids, status=ApprovalStatus.PENDING, kind__in=PROPOSALS
            ).values_list("case_id", flat=True)
        ),
        open_tasks=set(
            Task.objects.filter(case_id__in=ids, status=TaskStatus.OPEN, kind__in=TASK_OF.values()).values_list(
                "case_id", "kind"
            )
        ),
    )


def _condition_failure(step: ScenarioStep, case: Case, on: date, facts: _Facts) -> str | None:
    """Why the step does not apply to this case (it is then skipped for good), or None."""
    if step.action == StepAction.FIRST_LETTER and case.pk in facts.first_letters:
        return "already_done"  # an agent sent it by hand: the scenario goes on from there
    if step.requires_email and facts.point(case, ContactKind.EMAIL) is None:
        return "no_email"
    if step.requires_phone and facts.point(case, ContactKind.PHONE) is None:
        return "no_phone"
    # The bands are on what remains due: a debtor who paid part is chased for the rest only.
    if step.min_balance is not None and case.balance < step.min_balance:
        return "balance_below_band"
    if step.max_balance is not None and case.balance > step.max_balance:
        return "balance_above_band"
    if step.skip_if_promise and case.pk in facts.promised:  # pending and due on or after the day run
        return "promise_pending"
    return None


def _execute(step: ScenarioStep, case: Case, on: date, at: datetime) -> tuple[object, str | None]:
    """Do the step; returns (the action or task, path of a generated PDF)."""
    if step.action == StepAction.FIRST_LETTER:
        letter = letter_issue(case=case, kind=LetterKind.FIRST, actor=None, issued_on=on, at=at)
        return letter.action, storage_location(letter.pdf.name, letter.pdf.storage)
    if step.action == StepAction.REMINDER_LETTER:
        letter = letter_issue(case=case, kind=LetterKind.REMINDER, actor=None, issued_on=on, at=at)
        return letter.action, storage_location(letter.pdf.name, letter.pdf.storage)
    if step.action == StepAction.EMAIL:
        return email_send(case=case, actor=None, at=at).action, None
    if step.action == StepAction.SMS:
        return sms_send(case=case, actor=None, at=at).action, None
    kind = TASK_OF[step.action]
    task_open(case=case, kind=kind, reason=TASK_REASONS[kind], due_on=on)
    return None, None


# The debtor's proposals that suspend the reminders while the creditor decides (C16, C19).
PROPOSALS = (ApprovalKind.LONG_PLAN, ApprovalKind.ALTERNATIVE_SETTLEMENT)


def scenarios_run(*, on: date, dry_run: bool = False, case_ids: Collection[int] | None = None) -> RunReport:
    """Run, for the day `on`, the first due step of every case not yet run; a step refused by the contact
    policy today stays due and is tried again on the next run; a step whose conditions do not apply is
    skipped for good. Safe to run twice: a (case, step) pair runs once. `case_ids` limits the run to those
    cases (the demo runs the day on a few cases only).

    Built for a day of 100,000 due cases: the due cases are selected per step in SQL, then read, decided and
    written a chunk at a time (`_run_chunk`), a few queries per chunk whatever its size; the letters, each a PDF,
    come after: the first letters in bulk (`_first_letters`), the reminder letters one by one."""
    report = RunReport(date=on)
    at = timezone.now() if on == timezone.localdate() else timezone.make_aware(datetime.combine(on, RUN_HOUR))
    for scenario in Scenario.objects.filter(is_active=True).select_related("creditor").order_by("pk"):
        steps = list(scenario.steps.order_by("order", "pk"))
        if not steps:
            continue
        due, inactive = _due_cases(scenario, steps, on, case_ids)
        if inactive:
            report.skipped["case_not_active"] += inactive
        for start in range(0, len(due), CHUNK):
            _run_chunk(report, scenario.creditor, steps, due[start : start + CHUNK], on, at, dry_run)
    return report


def due_case_queries(scenario: Scenario, steps: list[ScenarioStep], on: date, case_ids=None) -> list:
    """For each step of the scenario, the cases of its creditor for which it is the step due on `on` — the
    first step in order not run whose delay has come — and no step ran that day (the bench explains them)."""
    base = Case.objects.filter(creditor_id=scenario.creditor_id, acknowledged_on__isnull=False).order_by()
    if case_ids is not None:
        base = base.filter(pk__in=list(case_ids))
    runs = StepRun.objects.filter(case=OuterRef("pk"))
    # At most one contact per case and per day, even when a date is run again.
    base = base.exclude(Exists(runs.filter(step__in=steps, run_on=on, outcome=EXECUTED)))
    queries = []
    for index, step in enumerate(steps):
        limit = on - timedelta(days=step.delay_days)
        due = base.filter(acknowledged_on__lte=limit).exclude(Exists(runs.filter(step=step)))
        for earlier in steps[:index]:
            # Each step before it in order is run, or not due yet (a step whose delay is longer).
            earlier_limit = on - timedelta(days=earlier.delay_days)
            done = Exists(runs.filter(step=earlier))
            due = due.filter(done if earlier_limit >= limit else done | Q(acknowledged_on__gt=earlier_limit))
        queries.append(due)
    return queries


def _due_cases(scenario: Scenario, steps: list[ScenarioStep], on: date, case_ids) -> tuple[list[int], int]:
    """The ids of the cases with a step due that may be worked, in order, and how many may not (a plan, a
    suspension, an ended case: counted, nothing read). One query per step and one count."""
    ids: list[int] = []
    inactive = 0
    for due in due_case_queries(scenario, steps, on, case_ids):
        ids += due.filter(status__in=CaseStatus.CONTACTABLE).values_list("pk", flat=True)
        inactive += due.exclude(status__in=CaseStatus.CONTACTABLE).count()
    return sorted(ids), inactive


def _run_chunk(report: RunReport, creditor, steps, ids: list[int], on: date, at: datetime, dry_run: bool) -> None:
    """Decide and do the due step of each case of `ids` as a single case's run would, reading and writing in bulk;
    the letters are issued once the rest of the chunk is committed."""
    letters: list[tuple] = []
    for attempt in (1, 2):
        chunk = RunReport(date=on)
        letters = []
        try:
            with transaction.atomic() if not dry_run else nullcontext():
                _decide_chunk(chunk, creditor, steps, ids, on, at, dry_run, letters)
        except IntegrityError:
            # A task or a step run written meanwhile by another process: read the chunk again, once.
            if attempt == 2:
                raise
            continue
        break
    report.executed += chunk.executed
    report.by_channel.update(chunk.by_channel)
    report.skipped.update(chunk.skipped)
    report.errors += chunk.errors
    # The first letters in bulk (rendered in parallel, numbered at commit); the reminder letters one by one.
    _first_letters(
        report, [(step, case) for step, case, _c in letters if step.action == StepAction.FIRST_LETTER], on, at
    )
    for step, case, channel in letters:
        if step.action != StepAction.FIRST_LETTER:
            _run_one(report, step, case, on, at, None, channel)


# The first letters issued and recorded in one transaction: `letters_issue_first`'s own chunk, so that the letter
# sequence is held a few seconds at most, as by the bulk issue itself.
FIRST_LETTERS_AT_ONCE = FIRST_LETTERS_CHUNK


def _first_letters(report: RunReport, items: list[tuple[ScenarioStep, Case]], on: date, at: datetime) -> None:
    """The first letters of a chunk through `letters.letters_issue_first`: the same letters, contacts, status moves
    and audit events as `letter_issue` one by one; each letter's step run and `scenario.step_run` event are
    written in the transaction that issues it. A case without a valid address gets its address investigation,
    and its step stays due, as in `_run_one`."""
    items = [(step, case) for step, case in items if not _without_address(report, case)]
    for start in range(0, len(items), FIRST_LETTERS_AT_ONCE):
        part = items[start : start + FIRST_LETTERS_AT_ONCE]
        try:
            with transaction.atomic():
                taken = set(
                    StepRun.objects.filter(
                        case_id__in=[case.pk for _s, case in part], step_id__in={step.pk for step, _c in part}
                    ).values_list("case_id", flat=True)
                )
                part = [(step, case) for step, case in part if case.pk not in taken]  # run meanwhile elsewhere
                issued = letters_issue_first(
                    cases=[case for _s, case in part],
                    actor=None,
                    workers=max(1, min(os.cpu_count() or 1, len(part))),
                    issued_on=on,
                    at=at,
                    chunk_size=FIRST_LETTERS_AT_ONCE,
                )
                letters = {letter.case_id: letter for letter in issued.letters}
                done = [(step, case, letters[case.pk]) for step, case in part if case.pk in letters]
                insert_rows(
                    StepRun,
                    ["case", "step", "run_on", "outcome", "action"],
                    [(case.pk, step.pk, on, EXECUTED, letter.action_id) for step, case, letter in done],
                )
                audit_record_many(
                    actor=None,
                    events=[
                        {"verb": "scenario.step_run", "target": case, "after": {"step": str(step)}}
                        for step, case, _letter in done
                    ],
                )
        except ApplicationError as exc:
            report.skipped["error"] += len(part)
            report.errors += [f"{case.reference} : {exc.message}" for _s, case in part]
            continue
        for _step, _case, letter in done:
            report.executed += 1
            report.by_channel[Channel.LETTER] += 1
            report.documents.append(storage_location(letter.pdf.name, letter.pdf.storage))
        # Refused by the law or the contact rule, or sent by hand since the chunk was read: the step stays due.
        for reference, message in issued.refused.items():
            report.skipped["error"] += 1
            report.errors.append(f"{reference} : {message}")
        for reference in issued.skipped:
            report.skipped["error"] += 1
            report.errors.append(f"{reference} : la première lettre est déjà partie.")


def _without_address(report: RunReport, case: Case) -> bool:
    if _no_address(case):
        report.skipped["no_valid_address"] += 1
        return True
    return False


def _decide_chunk(report: RunReport, creditor, steps, ids, on, at, dry_run, letters: list) -> None:
    cases = Case.objects.filter(pk__in=ids).select_related("debtor").order_by("pk")
    if not dry_run:
        # The cases are locked, as each single send locks its case: the contact rule's count holds.
        cases = cases.select_for_update(of=("self",))
    cases = list(cases)
    # The creditor and its few structures, read once rather than joined to each case.
    structures = {s.pk: s for s in Structure.objects.filter(pk__in={case.structure_id for case in cases})}
    for case in cases:
        case.creditor = creditor
        case.structure = structures[case.structure_id]
    runs: dict[int, list[tuple]] = defaultdict(list)
    for case_id, step_id, run_on, outcome in StepRun.objects.filter(case_id__in=ids, step__in=steps).values_list(
        "case_id", "step_id", "run_on", "outcome"
    ):
        runs[case_id].append((step_id, run_on, outcome))
    chosen = []
    for case in cases:
        # Asked again under the lock, one case at a time: the selection may have been overtaken.
        if any(run_on == on and outcome == EXECUTED for _step, run_on, outcome in runs[case.pk]):
            continue
        done = {step_id for step_id, _on, _outcome in runs[case.pk]}
        due = [s for s in steps if s.pk not in done and case.acknowledged_on + timedelta(days=s.delay_days) <= on]
        if not due:
            continue
        step = due[0]  # one step per case and per day at most: no burst of contacts
        if case.status not in CaseStatus.CONTACTABLE:
            report.skipped["case_not_active"] += 1
            continue
        if case.balance <= ZERO:  # nothing to chase, whatever the step (a review too); due again if reopened
            report.skipped["nothing_due"] += 1
            continue
        chosen.append((case, step))
    if not chosen:
        return
    facts = _facts(chosen, on)
    # A debtor's proposal (a long plan, another way to pay) awaits the creditor's decision: the debtor is not
    # chased meanwhile; the step stays due for the day after the decision.
    chosen = [(case, step) for case, step in chosen if not _awaits(report, case, step, facts)]
    blocks = _blocks(chosen, at)
    writes = _Writes(report=report, on=on, at=at, facts=facts)
    for case, step in chosen:
        failure = _condition_failure(step, case, on, facts)
        channel = CHANNEL_OF.get(step.action)
        block = blocks.get(case.pk) if channel else None
        if block is not None:
            report.skipped[block.key] += 1
            continue
        if dry_run:
            if not failure and channel == Channel.LETTER and not facts.has_address(case):
                report.skipped["no_valid_address"] += 1
            elif failure:
                report.skipped[failure] += 1
            else:
                report.executed += 1
                report.by_channel[channel or step.action] += 1
            continue
        if failure:
            writes.skip(case, step, failure)
        elif channel == Channel.LETTER:
            letters.append((step, case, channel))  # a PDF each: after the chunk's commit, one by one
        else:
            writes.execute(case, step, channel)
    if not dry_run:
        writes.save()


def _awaits(report: RunReport, case: Case, step: ScenarioStep, facts: _Facts) -> bool:
    if case.pk in facts.awaiting and step.action != StepAction.REVIEW:
        report.skipped["proposal_pending"] += 1
        return True
    return False


def _blocks(chosen: list[tuple[Case, ScenarioStep]], at: datetime) -> dict[int, object]:
    """The contact rule for each case by its step's channel: `case_contact_blocks`, a few queries per channel."""
    by_channel: dict[str, list[Case]] = defaultdict(list)
    for case, step in chosen:
        channel = CHANNEL_OF.get(step.action)
        if channel:
            by_channel[channel].append(case)
    blocks = {}
    for channel, group in by_channel.items():
        for case, block in zip(group, case_contact_blocks([(case, at) for case in group], channel), strict=True):
            blocks[case.pk] = block
    return blocks


@dataclass
class _Writes:
    """What a chunk does, gathered case by case in order and written in bulk by `save()`: the messages (through
    `contact.messaging.reminders_queue`), the tasks, the step runs and their audit events — what `_run_one`
    writes for one case."""

    report: RunReport
    on: date
    at: datetime
    facts: _Facts
    messages: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    tasks: list[Task] = field(default_factory=list)
    runs: list[tuple] = field(default_factory=list)  # (case, step, outcome, channel, message index or None)

    def skip(self, case: Case, step: ScenarioStep, failure: str) -> None:
        self.runs.append((case, step, f"skipped:{failure}", None, None))

    def execute(self, case: Case, step: ScenarioStep, channel: str | None) -> None:
        if channel in (Channel.EMAIL, Channel.SMS):
            make = email_content if channel == Channel.EMAIL else sms_content
            kind = ContactKind.EMAIL if channel == Channel.EMAIL else ContactKind.PHONE
            try:
                content = make(
                    case=case,
                    first=self.facts.first_letters.get(case.pk),
                    point=self.facts.point(case, kind),
                    agency=self.facts.agency,
                )
            except ApplicationError as exc:
                # A step that cannot be done (no first letter posted yet…) stays due; counted with its reason.
                self.report.skipped["error"] += 1
                self.report.errors.append(f"{case.reference} : {exc.message}")
                return
            summary = (
                f"E-mail de relance à {content['to']}"
                if channel == Channel.EMAIL
                else f"SMS de relance au {content['to']}"
            )
            self.messages[channel].append((case, content, summary))
            self.runs.append((case, step, EXECUTED, channel, (channel, len(self.messages[channel]) - 1)))
            return
        kind = TASK_OF[step.action]
        if (case.pk, kind) not in self.facts.open_tasks:  # one open task per kind: the existing one stands
            self.facts.open_tasks.add((case.pk, kind))
            self.tasks.append(Task(case=case, kind=kind, reason=TASK_REASONS[kind][:300], due_on=self.on))
        self.runs.append((case, step, EXECUTED, channel, None))

    def save(self) -> None:
        actions = {
            channel: [m.action for m in reminders_queue(channel=channel, items=items, actor=None, at=self.at)]
            for channel, items in self.messages.items()
        }
        tasks = insert_objects(Task, self.tasks)  # COPY on PostgreSQL, as the step runs and the audit events
        audit_record_many(
            actor=None,
            events=[
                {
                    "verb": "task.opened",
                    "target": task,
                    "after": {"kind": task.kind, "reason": task.reason, "due_on": task.due_on},
                }
                for task in tasks
            ],
        )
        insert_rows(
            StepRun,
            ["case", "step", "run_on", "outcome", "action"],
            [
                (case.pk, step.pk, self.on, outcome, actions[message[0]][message[1]].pk if message else None)
                for case, step, outcome, _channel, message in self.runs
            ],
        )
        events = []
        for case, step, outcome, channel, _message in self.runs:
            if outcome == EXECUTED:
                events.append({"verb": "scenario.step_run", "target": case, "after": {"step": str(step)}})
                self.report.executed += 1
                self.report.by_channel[channel or step.action] += 1
            else:
                reason = outcome.removeprefix("skipped:")
                events.append(
                    {"verb": "scenario.step_skipped", "target": case, "after": {"step": str(step), "reason": reason}}
                )
                self.report.skipped[reason] += 1
        audit_record_many(actor=None, events=events)


def _has_address(case: Case) -> bool:
    return (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.ADDRESS, quality=ContactQuality.VALID)
        .exclude(line1="")
        .exists()
    )


def _no_address(case: Case) -> bool:
    """A letter step without a valid address: an address investigation is opened (C9), the step stays due."""
    if _has_address(case):
        return False
    task_open(
        case=case,
        kind=TaskKind.ADDRESS_INVESTIGATION,
        reason="Courrier prévu par le scénario : aucune adresse valide",
        due_on=timezone.localdate(),
    )
    return True


def _run_one(report: RunReport, step, case, on, at, failure, channel) -> None:
    if not failure and channel == Channel.LETTER and _no_address(case):
        report.skipped["no_valid_address"] += 1
        return
    try:
        with transaction.atomic():
            if StepRun.objects.select_for_update().filter(case=case, step=step).exists():
                return  # run meanwhile by another process
            action, document = (None, None) if failure else _execute(step, case, on, at)
            StepRun.objects.create(
                case=case, step=step, run_on=on, outcome=f"skipped:{failure}" if failure else "executed", action=action
            )
            audit_record(
                actor=None,
                verb="scenario.step_skipped" if failure else "scenario.step_run",
                target=case,
                after={"step": str(step), "reason": failure} if failure else {"step": str(step)},
            )
    except ApplicationError as exc:
        # A step that cannot be done (no valid address, a template missing…) stays due; counted with its reason.
        report.skipped["error"] += 1
        report.errors.append(f"{case.reference} : {exc.message}")
        return
    if failure:
        report.skipped[failure] += 1
        return
    report.executed += 1
    report.by_channel[channel or step.action] += 1
    if document:
        report.documents.append(document)
