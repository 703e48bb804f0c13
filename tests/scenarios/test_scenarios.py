"""`run_scenarios`: each due step of each case once a day, within the contact policy (L8, L10), idempotent."""

import json
from datetime import date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.utils import timezone

from amiable.cases.models import Action, Case, CaseEvent, Channel, ContactPoint, Debtor, Task, TaskKind, TaskStatus
from amiable.cases.policy import BLOCK_KEYS
from amiable.cases.services import contact_point_add
from amiable.contact.models import OutboxMessage
from amiable.core.money import format_money
from amiable.letters.models import Letter, LetterKind
from amiable.scenarios.models import ScenarioStep, StepAction, StepRun
from amiable.scenarios.services import scenarios_run
from tests.contact.stand_ins import FlakyEmailBackend
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE

JSON_KEYS = {"date", "executed", "by_channel", "skipped", "documents"}
POLICY_KEYS = set(BLOCK_KEYS)


def run(day: date, *options: str) -> dict:
    """Run the command as cron does: what it decides commits, then the e-mails and SMS it queued are delivered;
    then the day's print run, as `run_daily` does after the scenarios (an e-mail or SMS may only recall a
    first letter that is in a print batch)."""
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("run_scenarios", "--date", day.isoformat(), "--json", *options, stdout=out)
    if "--dry-run" not in options:
        call_command("print_batch", "--date", day.isoformat(), stdout=StringIO())
    return json.loads(out.getvalue())


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def counts() -> dict:
    return {
        "letters": Letter.objects.count(),
        "actions": Action.objects.count(),
        "step_runs": StepRun.objects.count(),
        "tasks": Task.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


def pdfs() -> set[Path]:
    return set(Path(settings.MEDIA_ROOT).rglob("*.pdf"))


def step_run(case, action: str) -> StepRun | None:
    return StepRun.objects.filter(case=case, step__action=action).first()


# --- the command's output, the first letter and idempotency -------------------------------------------------


def test_json_report_first_letters_then_idempotent_second_run(case_factory):
    day = date(2026, 10, 5)
    due = [case_factory(ack=day), case_factory(ack=day)]
    case_factory(ack=day + timedelta(days=1))  # acknowledged tomorrow: nothing due yet
    case_factory(ack=None)  # not acknowledged: never in a scenario

    report = run(day)

    assert set(report) == JSON_KEYS
    assert report["date"] == "2026-10-05"
    assert report["executed"] == 2
    assert report["by_channel"] == {"letter": 2}
    assert report["skipped"] == {}
    letters = Letter.objects.filter(kind=LetterKind.FIRST)
    assert {letter.case_id for letter in letters} == {c.pk for c in due}
    assert all(letter.issued_on == day for letter in letters)
    assert sorted(report["documents"]) == sorted(letter.pdf.path for letter in letters)
    assert all(Path(path).is_file() for path in report["documents"])
    for case in due:
        run_ = step_run(case, StepAction.FIRST_LETTER)
        assert run_.outcome == "executed" and run_.run_on == day
        assert run_.action == Letter.objects.get(case=case).action

    before, files = counts(), pdfs()
    again = run(day)

    assert again == {"date": "2026-10-05", "executed": 0, "by_channel": {}, "skipped": {}, "documents": []}
    assert counts() == before
    assert pdfs() == files


def test_the_first_letters_of_a_day_are_issued_in_bulk(case_factory, monkeypatch):
    """Several first letters due: one bulk issue (`letters_issue_first`), numbered in a row, each case with what
    `letter_issue` writes (its contact, its move to « en cours », `letter.issued`) and its step run, audited."""
    from amiable.audit.models import AuditEvent
    from amiable.scenarios import services

    day = date(2026, 10, 5)
    due = [case_factory(ack=day) for _ in range(3)]
    calls = []
    bulk = services.letters_issue_first
    monkeypatch.setattr(services, "letters_issue_first", lambda **kw: calls.append(kw["cases"]) or bulk(**kw))
    monkeypatch.setattr(services, "letter_issue", None)  # the one-by-one path is not taken

    report = run(day)

    assert report["executed"] == 3 and report["by_channel"] == {"letter": 3}
    assert [[case.pk for case in cases] for cases in calls] == [[case.pk for case in due]]
    letters = list(Letter.objects.filter(kind=LetterKind.FIRST).order_by("number"))
    assert [letter.case_id for letter in letters] == [case.pk for case in due]
    numbers = [int(letter.number.rsplit("-", 1)[1]) for letter in letters]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    for case, letter in zip(due, letters, strict=True):
        case.refresh_from_db()
        assert case.status == "in_progress"
        assert letter.action.channel == Channel.LETTER and letter.issued_on == day
        assert step_run(case, StepAction.FIRST_LETTER).action == letter.action
        verbs = sorted(AuditEvent.objects.filter(case_pk=case.pk).values_list("verb", flat=True))
        assert verbs.count("letter.issued") == 1 and verbs.count("case.status_changed") == 1
        assert verbs.count("scenario.step_run") == 1


def test_a_run_may_be_limited_to_some_cases(case_factory):
    """The demo runs the day on a few cases: the others are left for the next run."""
    day = date(2026, 10, 5)
    picked, left = case_factory(ack=day), case_factory(ack=day)

    report = scenarios_run(on=day, case_ids=[picked.pk])

    assert report.executed == 1
    assert step_run(picked, StepAction.FIRST_LETTER) is not None
    assert step_run(left, StepAction.FIRST_LETTER) is None


# --- a step runs only when due, once -----------------------------------------------------------------------


def test_email_step_runs_on_day_ten_a_tuesday(case_factory):
    ack = date(2026, 10, 3)  # a Saturday: D+10 is Tuesday 13 October 2026, a working day
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    assert run(ack)["by_channel"] == {"letter": 1}
    first = Letter.objects.get(case=case, kind=LetterKind.FIRST)

    assert run(ack + timedelta(days=9))["executed"] == 0  # D+9: nothing due yet
    assert not OutboxMessage.objects.exists()

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 1
    assert report["by_channel"] == {"email": 1}
    assert report["documents"] == []
    message = OutboxMessage.objects.get(case=case)
    assert message.channel == Channel.EMAIL and message.to == DEBTOR_EMAIL
    assert message.status == "sent" and message.sent_at is not None
    assert message.action.at == paris(date(2026, 10, 13), 11)  # the run stands for 11:00, Paris time
    assert first.number in message.text
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [DEBTOR_EMAIL]
    run_ = step_run(case, StepAction.EMAIL)
    assert run_.outcome == "executed" and run_.action == message.action
    assert run(ack + timedelta(days=10))["executed"] == 0  # once
    assert len(mail.outbox) == 1


def test_email_step_counts_as_run_when_queued_even_if_its_delivery_fails(case_factory, settings):
    settings.EMAIL_BACKEND = "tests.contact.stand_ins.FlakyEmailBackend"
    FlakyEmailBackend.refuse = True
    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)

    report = run(ack + timedelta(days=10))

    assert (report["executed"], report["by_channel"]) == (1, {"email": 1})
    message = OutboxMessage.objects.get(case=case)
    assert message.status == "failed" and message.error.startswith("destinataire refusé")
    assert step_run(case, StepAction.EMAIL).outcome == "executed"  # the outbox retries it, not the scenario
    assert run(ack + timedelta(days=11))["executed"] == 0
    assert OutboxMessage.objects.filter(case=case).count() == 1 and mail.outbox == []


def test_email_step_without_email_is_skipped_for_good_then_call_task(case_factory):
    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, phone=DEBTOR_PHONE)
    run(ack)

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 0
    assert report["skipped"] == {"no_email": 1}
    skipped = step_run(case, StepAction.EMAIL)
    assert skipped.outcome == "skipped:no_email" and skipped.action is None
    assert not OutboxMessage.objects.exists() and mail.outbox == []
    # Skipped for good: not tried again, and the call is not due before D+20.
    assert run(ack + timedelta(days=11)) == {
        "date": "2026-10-14",
        "executed": 0,
        "by_channel": {},
        "skipped": {},
        "documents": [],
    }
    assert not Task.objects.filter(case=case, kind=TaskKind.CALL).exists()

    report = run(ack + timedelta(days=20))  # Friday 23 October 2026

    assert report["by_channel"] == {"call": 1}
    task = Task.objects.get(case=case, kind=TaskKind.CALL)
    assert task.status == TaskStatus.OPEN and task.due_on == ack + timedelta(days=20)
    assert step_run(case, StepAction.CALL).outcome == "executed"


def test_catch_up_runs_one_step_per_case_per_run(case_factory):
    ack = date(2026, 9, 3)  # D+40 is Tuesday 13 October 2026: letter, e-mail, call and reminder all due
    case = case_factory(ack=ack, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE)
    tuesday = ack + timedelta(days=40)

    first = run(tuesday)
    assert (first["executed"], first["by_channel"]) == (1, {"letter": 1})
    assert list(Letter.objects.filter(case=case).values_list("kind", flat=True)) == [LetterKind.FIRST]
    assert not OutboxMessage.objects.exists() and not Task.objects.exists()

    second = run(tuesday + timedelta(days=1))
    assert (second["executed"], second["by_channel"]) == (1, {"email": 1})
    assert OutboxMessage.objects.filter(case=case).count() == 1
    assert not Task.objects.filter(case=case).exists()

    third = run(tuesday + timedelta(days=2))
    assert (third["executed"], third["by_channel"]) == (1, {"call": 1})
    assert Task.objects.filter(case=case, kind=TaskKind.CALL).count() == 1
    assert Letter.objects.filter(case=case).count() == 1

    fourth = run(tuesday + timedelta(days=3))
    assert (fourth["executed"], fourth["by_channel"]) == (1, {"letter": 1})
    reminder = Letter.objects.get(case=case, kind=LetterKind.REMINDER)
    assert reminder.first_letter == Letter.objects.get(case=case, kind=LetterKind.FIRST)
    assert fourth["documents"] == [reminder.pdf.path]

    assert run(tuesday + timedelta(days=6))["executed"] == 0  # the D+60 call is not due yet
    assert list(StepRun.objects.filter(case=case).order_by("step__order").values_list("step__action", "run_on")) == [
        (StepAction.FIRST_LETTER, tuesday),
        (StepAction.EMAIL, tuesday + timedelta(days=1)),
        (StepAction.CALL, tuesday + timedelta(days=2)),
        (StepAction.REMINDER_LETTER, tuesday + timedelta(days=3)),
    ]


def test_catch_up_second_run_the_same_day_does_nothing(case_factory):
    ack = date(2026, 9, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE)
    day = ack + timedelta(days=40)
    assert run(day)["by_channel"] == {"letter": 1}
    before = counts()

    again = run(day)

    assert again["executed"] == 0
    assert counts() == before
    assert not OutboxMessage.objects.filter(case=case).exists()


# --- the contact policy (L8) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ack", "key", "next_day"),
    [
        (date(2026, 7, 4), "public_holiday", date(2026, 7, 15)),  # D+10 = Tuesday 14 July 2026, Fête nationale
        (date(2026, 10, 1), "day_not_allowed", date(2026, 10, 12)),  # D+10 = Sunday 11 October 2026
    ],
)
def test_email_step_refused_by_policy_stays_due(case_factory, ack, key, next_day):
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)
    before = counts()

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 0
    assert report["skipped"] == {key: 1}
    assert counts() == before  # not recorded: no StepRun, no action, no message
    assert step_run(case, StepAction.EMAIL) is None
    assert mail.outbox == []

    report = run(next_day)  # the next working day runs it

    assert report["by_channel"] == {"email": 1}
    assert step_run(case, StepAction.EMAIL).outcome == "executed"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("status", ["payment_plan", "suspended", "recalled", "closed", "paid"])
def test_paused_or_ended_case_gets_no_action(case_factory, status):
    ack = date(2026, 10, 3)
    letter_due = case_factory(ack=ack + timedelta(days=10), email=DEBTOR_EMAIL)
    email_due = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)  # the second case's first letter
    Case.objects.filter(pk__in=[letter_due.pk, email_due.pk]).update(status=status)
    before = counts()

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 0
    assert report["skipped"] == {"case_not_active": 2}
    assert counts() == before
    assert mail.outbox == []


def test_over_indebtedness_stops_every_action(case_factory, users):
    ack = date(2026, 10, 3)
    email_due = case_factory(ack=ack, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE)
    run(ack)
    letter_due = case_factory(ack=ack + timedelta(days=10), email=DEBTOR_EMAIL)
    for case in (email_due, letter_due):
        CaseEvent.objects.create(
            case=case, kind="oi_admissible", occurred_on=ack + timedelta(days=5), recorded_by=users.agent
        )
    before = counts()

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 0 and report["by_channel"] == {}
    assert sum(report["skipped"].values()) == 2
    assert set(report["skipped"]) <= POLICY_KEYS
    assert counts() == before  # no Letter, Action, OutboxMessage nor StepRun
    assert not Letter.objects.filter(case=letter_due).exists()
    assert mail.outbox == []
    # Later steps too: the call at D+20, the reminder at D+35.
    for offset in (20, 35):
        assert run(ack + timedelta(days=offset))["executed"] == 0
    assert counts() == before


def test_over_indebtedness_is_counted_as_a_stopping_event(case_factory, users):
    ack = date(2026, 10, 5)
    case = case_factory(ack=ack)
    CaseEvent.objects.create(case=case, kind="oi_admissible", occurred_on=ack, recorded_by=users.agent)

    assert run(ack)["skipped"] == {"stopping_event": 1}


def test_do_not_contact_blocks_every_step(case_factory):
    ack = date(2026, 10, 3)
    email_due = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)
    letter_due = case_factory(ack=ack + timedelta(days=10), email=DEBTOR_EMAIL)
    Debtor.objects.filter(pk__in=[email_due.debtor_id, letter_due.debtor_id]).update(do_not_contact=True)
    before = counts()

    report = run(ack + timedelta(days=10))

    assert report["executed"] == 0
    assert report["skipped"] == {"do_not_contact": 2}
    assert counts() == before
    assert mail.outbox == []


# --- no valid address: an investigation, once ---------------------------------------------------------------


def test_letter_without_valid_address_opens_one_investigation(case_factory):
    day = date(2026, 10, 5)
    case = case_factory(ack=day)
    ContactPoint.objects.filter(debtor=case.debtor, kind="address").update(quality="doubtful")

    reports = [run(day), run(day), run(day + timedelta(days=1))]

    for report in reports:
        assert report["executed"] == 0
        assert report["skipped"] == {"no_valid_address": 1}
        assert report["documents"] == []
    tasks = Task.objects.filter(case=case, kind=TaskKind.ADDRESS_INVESTIGATION)
    assert tasks.count() == 1 and tasks.get().status == TaskStatus.OPEN
    assert not Letter.objects.exists() and not Action.objects.exists()
    assert step_run(case, StepAction.FIRST_LETTER) is None  # stays due

    contact_point_add(
        debtor=case.debtor,
        kind="address",
        source="Recherche d'adresse",
        actor=None,
        line1="3 rue Neuve",
        postal_code="75011",
        city="Paris",
        quality="valid",
    )
    assert run(day + timedelta(days=2))["by_channel"] == {"letter": 1}
    assert Letter.objects.filter(case=case, kind=LetterKind.FIRST).count() == 1


# --- dry run ------------------------------------------------------------------------------------------------


def test_dry_run_does_nothing_but_reports_what_it_would_do(case_factory):
    ack = date(2026, 10, 3)
    with_email = case_factory(ack=ack, email=DEBTOR_EMAIL)
    with_phone = case_factory(ack=ack, phone=DEBTOR_PHONE)
    run(ack)
    letter_due = case_factory(ack=ack + timedelta(days=10))
    day10, day20 = ack + timedelta(days=10), ack + timedelta(days=20)
    before, files = counts(), pdfs()

    simulated = run(day10, "--dry-run")

    assert simulated["executed"] == 2
    assert simulated["by_channel"] == {"email": 1, "letter": 1}
    assert simulated["skipped"] == {"no_email": 1}
    assert simulated["documents"] == []
    assert counts() == before and pdfs() == files
    assert mail.outbox == []
    assert Case.objects.get(pk=letter_due.pk).status == "new"
    out = StringIO()
    call_command("run_scenarios", "--date", day10.isoformat(), "--dry-run", stdout=out)
    assert out.getvalue().startswith("Simulation — 13/10/2026 : 2 étape(s)")
    assert counts() == before

    real = run(day10)  # what the dry run announced is what the real run does
    assert {k: real[k] for k in ("executed", "by_channel", "skipped")} == {
        k: simulated[k] for k in ("executed", "by_channel", "skipped")
    }
    assert OutboxMessage.objects.filter(case=with_email).count() == 1

    before = counts()
    simulated = run(day20, "--dry-run")  # the call step: no task either
    assert simulated["by_channel"] == {"call": 1}
    assert simulated["skipped"] == {"no_email": 1, "no_phone": 1}
    assert counts() == before
    assert not Task.objects.filter(case=with_phone).exists()


def test_dry_run_announces_no_valid_address_like_the_real_run(case_factory):
    day = date(2026, 10, 5)
    case = case_factory(ack=day)
    ContactPoint.objects.filter(debtor=case.debtor, kind="address").update(quality="invalid")

    simulated = run(day, "--dry-run")
    real = run(day)

    assert real["skipped"] == {"no_valid_address": 1}
    assert (simulated["executed"], simulated["skipped"]) == (real["executed"], real["skipped"])


def test_first_letter_sent_by_hand_does_not_block_the_scenario(case_factory, users):
    from amiable.letters.print_batch import print_batch_build
    from amiable.letters.services import letter_issue

    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    letter_issue(case=case, kind=LetterKind.FIRST, actor=users.agent, issued_on=ack)
    print_batch_build(day=ack)  # posted that day: the e-mail may recall it

    reports = [scenarios_run(on=ack + timedelta(days=10)) for _ in range(2)]

    assert not any(report.errors for report in reports)
    assert OutboxMessage.objects.filter(case=case, channel=Channel.EMAIL).count() == 1


# --- arguments ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-02-30", "30/10/2026", "demain"])
def test_invalid_date_is_a_french_command_error(cpam_setup, value):
    with pytest.raises(CommandError, match=r"Date invalide : « .+ » \(attendu AAAA-MM-JJ\)"):
        call_command("run_scenarios", "--date", value, stdout=StringIO())


# --- the remaining balance ---------------------------------------------------------------------------------


def _pay(case, amount: str, on: date):
    from amiable.payments.services import payment_record

    payment_record(case=case, amount=amount, collected_on=on, method="transfer", actor=None, source="bank")
    case.refresh_from_db()
    return case


def test_the_scenario_chases_only_what_remains_due(case_factory):
    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)  # 120,50 € claimed
    run(ack)
    _pay(case, "40.00", ack + timedelta(days=5))

    assert run(ack + timedelta(days=10))["by_channel"] == {"email": 1}

    text = OutboxMessage.objects.get(case=case, kind="recovery").text
    assert f"la somme de {format_money('80.50')} reste due" in text
    assert format_money("120.50") not in text


def test_a_step_whose_band_the_balance_left_is_skipped(case_factory):
    ScenarioStep.objects.filter(action=StepAction.EMAIL).update(min_balance="100.00")
    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)  # 120,50 € claimed, in the band
    run(ack)
    _pay(case, "40.00", ack + timedelta(days=5))  # 80,50 € due: below it

    report = run(ack + timedelta(days=10))

    assert (report["executed"], report["skipped"]) == (0, {"balance_below_band": 1})
    assert step_run(case, StepAction.EMAIL).outcome == "skipped:balance_below_band"
    assert not OutboxMessage.objects.filter(kind="recovery").exists()  # only the receipt of the payment


def test_a_case_with_nothing_left_due_is_never_chased(case_factory):
    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)
    _pay(case, "120.50", ack + timedelta(days=5))
    assert case.status == "paid"
    Case.objects.filter(pk=case.pk).update(status="in_progress")  # forced: the balance decides, not the status
    before = counts()

    for offset in (10, 20, 35, 300):  # the e-mail, the call, the reminder, the review: none of them
        report = run(ack + timedelta(days=offset))
        assert (report["executed"], report["skipped"]) == (0, {"nothing_due": 1})
    assert counts() == before  # no StepRun either: the step stays due should a reversal reopen the claim
    assert mail.outbox == []


def test_no_reminder_while_a_debtors_proposal_awaits_the_creditor(case_factory, users):
    from amiable.approvals.models import ApprovalKind
    from amiable.approvals.services import approval_decide, approval_request

    ack = date(2026, 10, 3)
    case = case_factory(ack=ack, email=DEBTOR_EMAIL)
    run(ack)  # the first letter
    approval = approval_request(
        case=case, kind=ApprovalKind.LONG_PLAN, proposal="Dix mensualités de 12,05 €", actor=users.agent
    )

    report = run(ack + timedelta(days=10))

    assert report["skipped"] == {"proposal_pending": 1} and report["executed"] == 0
    assert not OutboxMessage.objects.filter(case=case, kind="recovery").exists()
    approval_decide(approval=approval, accept=False, comment="Trop long", actor=users.approver)
    assert run(ack + timedelta(days=11))["by_channel"] == {"email": 1}  # the step was still due
