"""`run_scenarios` at scale: the number of queries of a run does not grow with the number of due cases (a day
of 100,000 is read and written a chunk at a time), and a chunked run does what one case at a time would."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Task, TaskKind, TaskStatus
from amiable.contact.models import OutboxMessage
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.scenarios import services
from amiable.scenarios.models import StepAction, StepRun
from amiable.scenarios.services import scenarios_run
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE

DAY = date(2026, 10, 13)  # a Tuesday
# The four kinds of due case of the day, in turn: (days since the acknowledgement, e-mail, phone).
KINDS = [
    (10, True, False),  # the D+10 e-mail
    (20, False, True),  # the D+20 call
    (300, False, False),  # the D+300 review
    (10, False, True),  # the D+10 e-mail, skipped for good: no e-mail
]


def _due_cases(case_factory, scenario, count: int, start: int = 0) -> list:
    """`count` cases due on DAY, the four kinds in turn, each with the history its step supposes: the first
    letter posted (written as the print run leaves it, without rendering its PDF), the earlier steps run."""
    steps = list(scenario.steps.order_by("order"))
    template = LetterTemplate.objects.get(creditor=scenario.creditor, kind=LetterKind.FIRST, is_active=True)
    cases = []
    for n in range(start, start + count):
        delay, email, phone = KINDS[n % len(KINDS)]
        ack = DAY - timedelta(days=delay)
        case = case_factory(ack=ack, email=DEBTOR_EMAIL if email else None, phone=DEBTOR_PHONE if phone else None)
        Letter.objects.create(
            number=f"L-2026-T{n:05d}",
            case=case,
            kind=LetterKind.FIRST,
            template=template,
            issued_on=ack,
            issued_at=timezone.make_aware(datetime.combine(ack, time(11))),
            amount=case.balance,
            pdf=f"letters/test/{n}.pdf",
            sha256="0" * 64,
            printed_on=ack,
        )
        StepRun.objects.bulk_create(
            StepRun(case=case, step=step, run_on=ack + timedelta(days=step.delay_days), outcome="executed")
            for step in steps
            if step.delay_days < delay
        )
        cases.append(case)
    return cases


def _run(case_ids) -> tuple[int, services.RunReport]:
    with CaptureQueriesContext(connection) as queries:
        report = scenarios_run(on=DAY, case_ids=[c.pk for c in case_ids])
    return len(queries), report


def test_the_queries_of_a_run_do_not_grow_with_the_due_cases(case_factory, cpam_setup):
    warm_up = _due_cases(case_factory, cpam_setup, 4)  # the first run makes the creditor's audit key
    ten = _due_cases(case_factory, cpam_setup, 10, start=4)
    hundred = _due_cases(case_factory, cpam_setup, 100, start=14)
    _run(warm_up)

    queries_ten, report_ten = _run(ten)
    queries_hundred, report_hundred = _run(hundred)

    assert queries_hundred == queries_ten
    assert queries_ten < 60
    # And the run did the day's work for every case: an e-mail, a call task, a review task or a skip each.
    assert (report_hundred.executed, dict(report_hundred.by_channel)) == (75, {"email": 25, "call": 25, "review": 25})
    assert dict(report_hundred.skipped) == {"no_email": 25}
    assert (report_ten.executed, dict(report_ten.skipped)) == (8, {"no_email": 2})
    ids = [c.pk for c in hundred]
    assert StepRun.objects.filter(case_id__in=ids, run_on=DAY).count() == 100
    assert OutboxMessage.objects.filter(case_id__in=ids, channel="email").count() == 25
    assert Task.objects.filter(case_id__in=ids, kind=TaskKind.CALL, status=TaskStatus.OPEN).count() == 25
    assert Task.objects.filter(case_id__in=ids, kind=TaskKind.REVIEW, status=TaskStatus.OPEN).count() == 25


def test_a_run_in_chunks_does_what_one_run_does(case_factory, cpam_setup, monkeypatch):
    """Chunks of 3 over 10 cases: every case once, each with its records and audit events, as in one chunk."""
    monkeypatch.setattr(services, "CHUNK", 3)
    cases = _due_cases(case_factory, cpam_setup, 10)

    with CaptureQueriesContext(connection) as queries:
        report = scenarios_run(on=DAY)

    assert (report.executed, dict(report.skipped)) == (8, {"no_email": 2})
    # A bounded number per chunk, not per case (each bulk write by COPY reserves its keys in one query first).
    assert len(queries) < 4 * 35
    for case in cases:
        run = StepRun.objects.get(case=case, run_on=DAY)
        verbs = list(AuditEvent.objects.filter(case_pk=case.pk, verb__startswith="scenario.").values_list("verb"))
        if run.step.action == StepAction.EMAIL and run.outcome == "executed":
            message = OutboxMessage.objects.get(case=case)
            assert run.action == message.action and message.to == DEBTOR_EMAIL
            assert AuditEvent.objects.filter(verb="email.queued", target_id=str(message.pk)).count() == 1
        if run.step.action in (StepAction.CALL, StepAction.REVIEW):
            task = Task.objects.get(case=case, status=TaskStatus.OPEN)
            assert task.due_on == DAY
            opened = AuditEvent.objects.get(verb="task.opened", target_id=str(task.pk))
            assert opened.after["reason"] == task.reason  # sealed with the creditor's key, readable
        expected = "scenario.step_run" if run.outcome == "executed" else "scenario.step_skipped"
        assert verbs == [(expected,)]
    assert scenarios_run(on=DAY).executed == 0  # once


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_open_task_of_the_kind_is_kept_not_doubled(case_factory, cpam_setup, dry_run):
    (case,) = _due_cases(case_factory, cpam_setup, 1, start=1)  # the D+20 call
    existing = Task.objects.create(case=case, kind=TaskKind.CALL, reason="Rappel demandé", due_on=DAY)

    report = scenarios_run(on=DAY, dry_run=dry_run)

    assert dict(report.by_channel) == {"call": 1}
    assert list(Task.objects.filter(case=case)) == [existing]
    assert StepRun.objects.filter(case=case, run_on=DAY).exists() is not dry_run
