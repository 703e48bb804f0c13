"""Running the recovery scenarios once a day: each due step of each case, once, within the contact policy."""

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus, Channel, ContactKind, ContactPoint, ContactQuality, TaskKind
from amiable.cases.policy import case_contact_block
from amiable.cases.services import task_open
from amiable.contact.messaging import email_send, sms_send
from amiable.contact.models import PromiseStatus, PromiseToPay
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.storage import storage_location
from amiable.letters.models import Letter, LetterKind
from amiable.letters.services import letter_issue
from amiable.scenarios.models import Scenario, ScenarioStep, StepAction, StepRun

CHANNEL_OF = {
    StepAction.FIRST_LETTER: Channel.LETTER,
    StepAction.REMINDER_LETTER: Channel.LETTER,
    StepAction.EMAIL: Channel.EMAIL,
    StepAction.SMS: Channel.SMS,
    StepAction.CALL: Channel.CALL,
}
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


def _has_valid(case: Case, kind: str) -> bool:
    return (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=kind, quality=ContactQuality.VALID)
        .exclude(value="")
        .exists()
    )


def _condition_failure(step: ScenarioStep, case: Case, on: date) -> str | None:
    """Why the step does not apply to this case (it is then skipped for good), or None."""
    if step.action == StepAction.FIRST_LETTER and Letter.objects.filter(case=case, kind=LetterKind.FIRST).exists():
        return "already_done"  # an agent sent it by hand: the scenario goes on from there
    if step.requires_email and not _has_valid(case, ContactKind.EMAIL):
        return "no_email"
    if step.requires_phone and not _has_valid(case, ContactKind.PHONE):
        return "no_phone"
    # The bands are on what remains due: a debtor who paid part is chased for the rest only.
    if step.min_balance is not None and case.balance < step.min_balance:
        return "balance_below_band"
    if step.max_balance is not None and case.balance > step.max_balance:
        return "balance_above_band"
    if (
        step.skip_if_promise
        and PromiseToPay.objects.filter(case=case, status=PromiseStatus.PENDING, due_on__gte=on).exists()
    ):
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
    kind = TaskKind.CALL if step.action == StepAction.CALL else TaskKind.REVIEW
    reason = (
        "Appel prévu par le scénario" if kind == TaskKind.CALL else "Revue : certificat d'irrécouvrabilité à envisager"
    )
    task_open(case=case, kind=kind, reason=reason, due_on=on)
    return None, None


# The debtor's proposals that suspend the reminders while the creditor decides (C16, C19).
PROPOSALS = (ApprovalKind.LONG_PLAN, ApprovalKind.ALTERNATIVE_SETTLEMENT)


def scenarios_run(*, on: date, dry_run: bool = False, case_ids: Collection[int] | None = None) -> RunReport:
    """Run, for the day `on`, the first due step of every case not yet run; a step refused by the contact
    policy today stays due and is tried again on the next run; a step whose conditions do not apply is
    skipped for good. Safe to run twice: a (case, step) pair runs once. `case_ids` limits the run to those
    cases (the demo runs the day on a few cases only)."""
    report = RunReport(date=on)
    at = timezone.now() if on == timezone.localdate() else timezone.make_aware(datetime.combine(on, RUN_HOUR))
    for scenario in Scenario.objects.filter(is_active=True).select_related("creditor").order_by("pk"):
        steps = list(scenario.steps.order_by("order", "pk"))
        if not steps:
            continue
        first_ack = on - timedelta(days=min(s.delay_days for s in steps))
        cases = (
            Case.objects.filter(
                creditor=scenario.creditor, acknowledged_on__isnull=False, acknowledged_on__lte=first_ack
            )
            .select_related("debtor", "creditor", "structure")
            .order_by("pk")
        )
        if case_ids is not None:
            cases = cases.filter(pk__in=list(case_ids))
        # A debtor's proposal (a long plan, another way to pay) awaits the creditor's decision: the debtor is not
        # chased meanwhile; the step stays due for the day after the decision.
        awaiting = set(
            ApprovalRequest.objects.filter(
                case__creditor=scenario.creditor, status=ApprovalStatus.PENDING, kind__in=PROPOSALS
            ).values_list("case_id", flat=True)
        )
        for case in cases.iterator(chunk_size=500):
            runs = list(StepRun.objects.filter(case=case, step__in=steps).values_list("step_id", "run_on", "outcome"))
            if any(run_on == on and outcome == "executed" for _step, run_on, outcome in runs):
                continue  # at most one contact per case and per day, even when a date is run again
            done = {step_id for step_id, _on, _outcome in runs}
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
            if case.pk in awaiting and step.action != StepAction.REVIEW:
                report.skipped["proposal_pending"] += 1
                continue
            failure = _condition_failure(step, case, on)
            channel = CHANNEL_OF.get(step.action)
            block = case_contact_block(case, channel, at) if channel else None
            if block is not None:
                report.skipped[block.key] += 1
                continue
            if dry_run:
                if not failure and channel == Channel.LETTER and not _has_address(case):
                    report.skipped["no_valid_address"] += 1
                elif failure:
                    report.skipped[failure] += 1
                else:
                    report.executed += 1
                    report.by_channel[channel or step.action] += 1
                continue
            _run_one(report, step, case, on, at, failure, channel)
    return report


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
