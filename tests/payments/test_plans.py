"""Payment plans (C16, C37) and the debtor's other proposals (C19): exact sums (L3), the contract's limit and the
creditor's decision beyond it, the document read back, the matching of payments to instalments, the daily
check (missed instalments, one reminder, break after N misses) and its idempotence."""

import io
import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from pypdf import PdfReader

from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.approvals.services import approval_decide
from amiable.audit.models import AuditEvent
from amiable.cases.models import CaseStatus, Channel, ContactPoint, Task, TaskKind, TaskStatus
from amiable.cases.services import case_assign
from amiable.contact.models import MessageKind, OutboxMessage
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests.services import case_recall
from amiable.letters.print_batch import print_batch_build
from amiable.notifications.models import Notification
from amiable.payments.models import InstalmentStatus, Plan, PlanRhythm, PlanStatus
from amiable.payments.plans import (
    plan_duration_months,
    plan_propose,
    plan_schedule,
    plans_check,
    plans_to_post,
    settlement_proposal_send,
)
from amiable.payments.services import payment_record, payment_reverse
from tests.work_fixtures import (
    DEBTOR_EMAIL,
    DEBTOR_PHONE,
    first_letter_sent,
)

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday morning: every channel of the contact rule is open.
NOW = datetime(2026, 10, 13, 10, 0, tzinfo=PARIS)
TODAY = NOW.date()
FIRST_DUE = date(2026, 10, 15)  # a Thursday; monthly: 15/11, 15/12…


def at(day: date, hour: int = 10):
    return time_machine.travel(datetime.combine(day, time(hour, 0), tzinfo=PARIS), tick=False)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " ")).strip()


def pdf_text(plan: Plan) -> str:
    with plan.pdf.open("rb") as handle:
        return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(handle.read())).pages))


@pytest.fixture(autouse=True)
def _tuesday():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def make(case_factory, users):
    """A CPAM case of the dental centre (its name must never reach the debtor) with its first letter sent."""

    def build(*, principal="100.00", email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, **extra):
        case = case_factory(ack=date(2026, 10, 5), email=email, phone=phone, principal=principal, **extra)
        first_letter_sent(case)
        case.refresh_from_db()
        return case

    return build


@pytest.fixture
def case(make):
    return make()


def propose(case, actor, **kw):
    kw.setdefault("rhythm", PlanRhythm.MONTHLY)
    if "instalments" not in kw:
        kw.setdefault("count", 3)
        kw.setdefault("first_due_on", FIRST_DUE)
    return plan_propose(case=case, actor=actor, **kw)


def pay(case, amount, actor, on=None):
    return payment_record(case=case, amount=amount, collected_on=on or TODAY, method="transfer", actor=actor)


def instalments(plan):
    return [(i.rank, i.due_on, i.amount, i.paid_amount, i.status) for i in plan.instalments.order_by("rank")]


# --- the schedule: exact sums, dates, duration ---------------------------------------------------------------


def test_a_regular_plan_sums_exactly_to_the_balance_the_last_instalment_taking_the_cents(case, users):
    plan = propose(case, users.agent)

    assert [(i[1], i[2]) for i in instalments(plan)] == [
        (date(2026, 10, 15), Decimal("33.33")),
        (date(2026, 11, 15), Decimal("33.33")),
        (date(2026, 12, 15), Decimal("33.34")),
    ]
    assert plan.total == Decimal("100.00") == sum(i.amount for i in plan.instalments.all())
    assert re.fullmatch(r"PA-2026-\d{6}", plan.number)


@pytest.mark.parametrize(
    ("rhythm", "dates"),
    [
        (PlanRhythm.FORTNIGHTLY, [date(2026, 10, 15), date(2026, 10, 29), date(2026, 11, 12)]),
        (PlanRhythm.WEEKLY, [date(2026, 10, 15), date(2026, 10, 22), date(2026, 10, 29)]),
    ],
)
def test_the_rhythm_spaces_the_dates(case, rhythm, dates):
    schedule = plan_schedule(case=case, rhythm=rhythm, count=3, first_due_on=FIRST_DUE)
    assert [d for d, _amount in schedule.lines] == dates


def test_monthly_dates_keep_their_day_clamped_to_the_end_of_month(case):
    schedule = plan_schedule(case=case, rhythm=PlanRhythm.MONTHLY, count=3, first_due_on=date(2027, 1, 31))
    assert [d for d, _amount in schedule.lines] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        (
            ["33.33", "33.33", "33.33"],
            "Les échéances totalisent 99,99 € pour un reste dû de 100,00 € : il manque 0,01 €.",
        ),
        (["33.33", "33.33", "33.35"], "100,01 € pour un reste dû de 100,00 € : 0,01 € de trop."),
    ],
)
def test_a_custom_schedule_off_by_a_cent_is_refused_and_nothing_is_written(case, users, amounts, message):
    lines = list(zip([date(2026, 10, 20), date(2026, 11, 20), date(2026, 12, 20)], amounts, strict=True))
    events = AuditEvent.objects.count()

    with pytest.raises(ApplicationError) as refused:
        propose(case, users.agent, instalments=lines)

    assert message in squash(refused.value.message)
    assert not Plan.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_custom_schedule_that_sums_exactly_is_kept_as_given(case, users):
    lines = [(date(2026, 10, 20), "50,00"), (date(2026, 11, 3), Decimal("20.00")), (date(2026, 12, 1), "30")]
    plan = propose(case, users.agent, instalments=lines)
    assert [(i[1], i[2]) for i in instalments(plan)] == [
        (date(2026, 10, 20), Decimal("50.00")),
        (date(2026, 11, 3), Decimal("20.00")),
        (date(2026, 12, 1), Decimal("30.00")),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"instalments": [(date(2026, 11, 1), "50"), (date(2026, 11, 1), "50")]},
            "Échéance 2 : sa date (01/11/2026) doit suivre celle de l'échéance 1 (01/11/2026).",
        ),
        ({"first_due_on": date(2026, 10, 12)}, "La première échéance (12/10/2026) est passée."),
        ({"rhythm": "daily"}, "Rythme d'échéances inconnu : « daily »"),
        ({"count": 0}, "Le nombre d'échéances doit être compris entre 1 et 120 (reçu : 0)."),
        ({"instalments": [(date(2026, 11, 1), "0"), (date(2026, 12, 1), "100")]}, "Échéance 1 : le montant doit"),
        ({"count": 10001}, "Le nombre d'échéances doit être compris entre 1 et 120"),
    ],
)
def test_a_schedule_that_makes_no_sense_is_refused_by_name(case, users, kwargs, message):
    with pytest.raises(ApplicationError) as refused:
        propose(case, users.agent, **kwargs)
    assert message in squash(refused.value.message)
    assert not Plan.objects.exists()


def test_more_instalments_than_cents_is_refused(make, users):
    case = make(principal="0.02")
    with pytest.raises(ApplicationError, match="chacune doit être d'au moins 0,01 €"):
        propose(case, users.agent, count=3)


@pytest.mark.parametrize(
    ("last", "months"),
    [
        (date(2026, 10, 13), 0),
        (date(2026, 10, 30), 1),
        (date(2027, 4, 13), 6),
        (date(2027, 4, 14), 7),
    ],
)
def test_the_duration_counts_a_month_begun_as_a_month_from_the_day_of_the_plan(last, months):
    assert plan_duration_months(TODAY, last) == months


# --- who may propose, and when --------------------------------------------------------------------------------


def test_a_creditor_user_may_not_propose_a_plan(case, users):
    with pytest.raises(ApplicationError, match="Seule l'agence propose un plan"):
        propose(case, users.approver)
    assert not Plan.objects.exists()


def test_no_plan_before_the_first_letter(case_factory, users):
    case = case_factory(ack=date(2026, 10, 5), email=DEBTOR_EMAIL)
    with pytest.raises(ApplicationError, match="lettre de l'article R124-4"):
        propose(case, users.agent)


def test_one_plan_at_a_time(case, users):
    plan = propose(case, users.agent)
    with pytest.raises(ApplicationError, match=f"Le plan {plan.number} est déjà « en cours »"):
        propose(case, users.agent)


def test_plan_numbers_follow_each_other_without_gaps(make, users):
    first = propose(make(), users.agent)
    with pytest.raises(ApplicationError):
        propose(make(), users.agent, count=0)  # refused: its number is rolled back with it
    second = propose(make(), users.agent)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


# --- within the limit: granted at once ---------------------------------------------------------------------------


def test_within_the_limit_the_agency_grants_the_plan_at_once(case, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        plan = propose(case, users.agent, count=6)  # 15/10 → 15/03: 6 months from 13/10

    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE and plan.months == 6 and plan.granted_at is not None
    assert plan.approval is None
    assert case.status == CaseStatus.PAYMENT_PLAN
    assert plan.pdf and len(plan.sha256) == 64
    # The debtor: the document e-mailed with its PDF through the outbox, owed as a receipt is (no contact action).
    message = OutboxMessage.objects.get(case=case)
    assert message.kind == MessageKind.PLAN and message.to == DEBTOR_EMAIL and message.action is None
    assert plan.emailed_to == DEBTOR_EMAIL and plan.printed_on is None
    assert len(mail.outbox) == 1
    [(name, content, mimetype)] = mail.outbox[0].attachments
    assert name == f"{plan.number}.pdf" and mimetype == "application/pdf" and content.startswith(b"%PDF")
    body = squash(mail.outbox[0].body)
    assert plan.number in body and "16,66 €" in body and "16,70 €" in body and "15/03/2027" in body
    assert "L-" in body and case.structure.name not in body and "dentaire" not in body.lower()
    # The creditor's staff are told (C37), the timeline says it.
    notes = Notification.objects.filter(kind="plan_granted")
    assert {n.recipient for n in notes} >= {users.collaborator, users.approver, users.creditor_admin}
    assert users.other_admin not in {n.recipient for n in notes}
    assert set(AuditEvent.objects.filter(target_id=str(plan.pk)).values_list("verb", flat=True)) >= {
        "plan.proposed",
        "plan.granted",
    }


def test_without_an_email_the_document_is_posted_with_the_print_run(make, users):
    case = make(email=None)
    plan = propose(case, users.agent)
    assert plan.status == PlanStatus.ACTIVE and plan.emailed_to == ""
    assert "DUPONT" in plan.address_lines[0]
    assert not OutboxMessage.objects.filter(case=case).exists()
    assert plans_to_post(day=TODAY, lock=False)[0].number == plan.number

    run = print_batch_build(day=TODAY, actor=users.agent)

    assert plan.number in run.numbers
    plan.refresh_from_db()
    assert plan.printed_on == TODAY
    assert plans_to_post(day=TODAY, lock=False) == []
    assert plan.number not in print_batch_build(day=TODAY, actor=users.agent).numbers


def test_with_neither_email_nor_address_the_agent_hands_the_document_over(make, users):
    case = make(email=None)
    ContactPoint.objects.filter(debtor=case.debtor, kind="address").update(quality="invalid")
    plan = propose(case, users.agent)
    assert plan.address_lines == [] and plans_to_post(day=TODAY, lock=False) == []
    task = Task.objects.get(case=case, kind=TaskKind.PLAN_FOLLOW_UP, status=TaskStatus.OPEN)
    assert f"Plan {plan.number} à remettre au débiteur : ni e-mail ni adresse valide" in task.reason


def test_the_plan_document_reads_back(case, users):
    plan = propose(case, users.agent)
    text = pdf_text(plan)

    for piece in (
        "Plan d'apurement amiable",
        plan.number,
        case.reference,
        "Marie",
        "Caisse Primaire d'Assurance Maladie de Paris",
        "Total 100,00 €",
        "1 15/10/2026 33,33 €",
        "2 15/11/2026 33,33 €",
        "3 15/12/2026 33,34 €",
        "IBAN",
        "Chèque à l'ordre de",
        "Si une échéance n'est pas réglée",
        "10 jours après sa date",
        "Après 2 échéances impayées, le plan prend fin",
        "rien n'y est ajouté",
        "Suite à notre première lettre référence L-",
    ):
        assert piece in text, piece
    # Medical secrecy: the creditor is named, never the centre nor the kind of care.
    assert "Centre Dentaire" not in text and "dentaire" not in text.lower() and "orthodont" not in text.lower()
    with plan.pdf.open("rb") as handle:
        root = PdfReader(handle).trailer["/Root"]
    assert "/OutputIntents" in root and "/Metadata" in root  # PDF/A: colour profile and XMP identification


# --- beyond the limit: the creditor decides ---------------------------------------------------------------------


def test_beyond_the_limit_the_plan_waits_for_the_creditor(case, users):
    plan = propose(case, users.agent, count=7)  # last 15/04/2027: 7 months from 13/10/2026

    case.refresh_from_db()
    assert plan.status == PlanStatus.AWAITING_APPROVAL and plan.months == 7
    assert case.status == CaseStatus.IN_PROGRESS
    assert not plan.pdf
    approval = plan.approval
    assert approval.kind == ApprovalKind.LONG_PLAN and approval.status == ApprovalStatus.PENDING
    proposal = squash(approval.proposal)
    assert plan.number in proposal and "7 mois" in proposal and "15/04/2027 : 14,32 €" in proposal
    urgent = Notification.objects.filter(kind="approval_requested", recipient=users.approver)
    assert urgent.exists() and urgent.get().urgent
    # No payment before the decision is matched to it, but it is not lost either: see the acceptance.


def test_accepted_by_the_creditor_the_plan_becomes_active(case, users, django_capture_on_commit_callbacks):
    plan = propose(case, users.agent, count=10)
    pay(case, "5.00", users.agent)  # paid while the creditor decides

    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(approval=plan.approval, accept=True, comment="", actor=users.approver)

    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    assert case.status == CaseStatus.PAYMENT_PLAN
    assert plan.pdf and "avec l'accord de Caisse Primaire" in pdf_text(plan)
    first = plan.instalments.get(rank=1)
    assert first.paid_amount == Decimal("5.00") and first.status == InstalmentStatus.PENDING
    assert OutboxMessage.objects.get(case=case, kind=MessageKind.PLAN).to == DEBTOR_EMAIL
    assert Notification.objects.filter(kind="plan_granted", recipient=users.collaborator).exists()
    assert Notification.objects.filter(kind="approval_decided").exists()


def test_refused_by_the_creditor_the_plan_ends_refused(case, users):
    plan = propose(case, users.agent, count=10)

    approval_decide(approval=plan.approval, accept=False, comment="Trop long", actor=users.approver)

    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.REFUSED and plan.ended_at is not None
    assert case.status == CaseStatus.IN_PROGRESS
    assert not plan.pdf
    # Another plan may now be proposed.
    assert propose(case, users.agent, count=6).status == PlanStatus.ACTIVE


def test_accepted_after_the_first_due_date_the_dates_move_together(case, users):
    plan = propose(case, users.agent, count=10)
    with at(date(2026, 10, 22)):  # the first due date (15/10) passed 7 days ago
        approval_decide(approval=plan.approval, accept=True, comment="", actor=users.approver)

    dates = [i.due_on for i in plan.instalments.order_by("rank")]
    assert dates[0] == date(2026, 10, 22)
    assert dates[1] == date(2026, 11, 22) and dates[-1] == date(2027, 7, 22)
    assert AuditEvent.objects.get(verb="plan.granted").after["shifted_days"] == 7


def test_a_recall_cancels_the_plan_waiting_for_the_creditor(case, users):
    plan = propose(case, users.agent, count=10)
    case_recall(case=case, reason="Payé au centre", actor=users.approver)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED


# --- matching payments ----------------------------------------------------------------------------------------


def test_payments_fill_the_instalments_in_date_order_and_carry_over(case, users):
    plan = propose(case, users.agent)
    pay(case, "40.00", users.agent)

    assert [(i[3], i[4]) for i in instalments(plan)] == [
        (Decimal("33.33"), InstalmentStatus.PAID),
        (Decimal("6.67"), InstalmentStatus.PENDING),
        (Decimal("0.00"), InstalmentStatus.PENDING),
    ]
    second = pay(case, "30.00", users.agent)
    assert [(i[3], i[4]) for i in instalments(plan)] == [
        (Decimal("33.33"), InstalmentStatus.PAID),
        (Decimal("33.33"), InstalmentStatus.PAID),
        (Decimal("3.34"), InstalmentStatus.PENDING),
    ]
    # C18: the creditor knows the plan, its instalments are not notified one by one.
    assert not Notification.objects.filter(kind="payment_recorded").exists()

    payment_reverse(payment=second, reversed_on=TODAY, reason="Virement rappelé", actor=users.agent)

    assert [(i[3], i[4]) for i in instalments(plan)] == [
        (Decimal("33.33"), InstalmentStatus.PAID),
        (Decimal("6.67"), InstalmentStatus.PENDING),
        (Decimal("0.00"), InstalmentStatus.PENDING),
    ]


def test_the_plan_is_honoured_when_the_balance_reaches_zero_and_runs_again_after_a_reversal(case, users):
    plan = propose(case, users.agent)
    pay(case, "40.00", users.agent)
    last = pay(case, "60.00", users.agent)

    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED and plan.ended_at is not None
    assert case.status == CaseStatus.PAID
    assert all(i[4] == InstalmentStatus.PAID for i in instalments(plan))

    payment_reverse(payment=last, reversed_on=TODAY, reason="Chèque impayé", actor=users.agent)

    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE and plan.ended_at is None
    assert case.status == CaseStatus.PAYMENT_PLAN
    assert [i[3] for i in instalments(plan)] == [Decimal("33.33"), Decimal("6.67"), Decimal("0.00")]


def test_an_overpayment_fills_the_plan_and_the_excess_stays_owed_back(case, users):
    plan = propose(case, users.agent)
    pay(case, "120.00", users.agent)
    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert [i[3] for i in instalments(plan)] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert case.overpaid_amount == Decimal("20.00")


# --- the daily check --------------------------------------------------------------------------------------------


def check(day: date, hour: int = 10):
    with at(day, hour):
        return plans_check(today=day)


def test_an_instalment_unpaid_after_the_grace_period_is_missed_and_reminded_once(
    case, users, django_capture_on_commit_callbacks
):
    plan = propose(case, users.agent)
    mail.outbox.clear()
    OutboxMessage.objects.all().delete()

    assert check(date(2026, 10, 25)).missed == 0  # 15/10 + 10 days of grace: still within it
    with django_capture_on_commit_callbacks(execute=True):
        report = check(date(2026, 10, 26))

    assert (report.missed, report.reminded, report.broken) == (1, 1, 0)
    first = plan.instalments.get(rank=1)
    assert first.status == InstalmentStatus.MISSED and first.reminded_at is not None
    reminder = OutboxMessage.objects.get(case=case)
    assert reminder.channel == Channel.EMAIL and reminder.kind == MessageKind.INSTALMENT
    assert reminder.action is not None  # a contact: the contact rule's caps count it
    text = squash(reminder.text)
    assert "l'échéance 1 de votre plan d'apurement" in text and "33,33 €" in text and "15/10/2026" in text
    assert "L-" in text and "dentaire" not in text.lower()
    plan.refresh_from_db()
    assert plan.missed_count == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.PAYMENT_PLAN

    again = check(date(2026, 10, 26))
    assert again.as_json() == {
        "date": "2026-10-26",
        "missed": 0,
        "reminded": 0,
        "reminder_tasks": 0,
        "deferred": 0,
        "broken": 0,
        "cancelled": 0,
        "errors": [],
    }
    assert OutboxMessage.objects.filter(case=case).count() == 1


def test_after_the_contracts_number_of_misses_the_plan_breaks(case, users):
    case_assign(case=case, agent=users.agent, actor=users.supervisor)
    plan = propose(case, users.agent)
    check(date(2026, 10, 26))
    report = check(date(2026, 11, 26))  # the 15/11 instalment is missed too: 2 misses, the CPAM's maximum

    assert (report.missed, report.broken, report.reminded) == (1, 1, 0)
    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == PlanStatus.BROKEN and plan.missed_count == 2
    assert case.status == CaseStatus.IN_PROGRESS  # the recovery scenario resumes
    told = {n.recipient for n in Notification.objects.filter(kind="plan_broken")}
    assert {users.agent, users.collaborator, users.approver} <= told
    assert users.other_admin not in told
    # Broken: the second missed instalment gets no reminder of a plan that no longer runs.
    assert plan.instalments.get(rank=2).reminded_at is None
    assert check(date(2026, 11, 26)).broken == 0


def test_a_late_payment_catches_up_a_missed_instalment(case, users):
    plan = propose(case, users.agent)
    check(date(2026, 10, 26))
    with at(date(2026, 10, 27)):
        pay(case, "33.33", users.agent, on=date(2026, 10, 27))
    plan.refresh_from_db()
    assert plan.missed_count == 0
    assert plan.instalments.get(rank=1).status == InstalmentStatus.PAID
    # One miss later (15/11) is then the first: the plan does not break.
    assert check(date(2026, 11, 26)).broken == 0


def test_the_reminder_falls_back_to_sms_then_to_a_task_for_the_agent(make, users):
    sms_case = make(email=None)
    none_case = make(email=None, phone=None)
    propose(sms_case, users.agent)
    propose(none_case, users.agent)

    report = check(date(2026, 10, 26))

    assert (report.missed, report.reminded, report.reminder_tasks) == (2, 1, 1)
    assert OutboxMessage.objects.get(case=sms_case, channel=Channel.SMS).kind == MessageKind.INSTALMENT
    task = Task.objects.get(case=none_case, kind=TaskKind.PLAN_FOLLOW_UP, status=TaskStatus.OPEN)
    assert "Échéance 1 du plan" in task.reason
    assert "aucun e-mail ni téléphone valide" in task.reason


def test_outside_the_contact_hours_the_reminder_waits_for_the_next_run(case, users):
    plan = propose(case, users.agent)
    evening = check(date(2026, 10, 26), hour=21)
    assert (evening.missed, evening.reminded, evening.deferred) == (1, 0, 1)
    assert plan.instalments.get(rank=1).reminded_at is None

    morning = check(date(2026, 10, 27))
    assert (morning.missed, morning.reminded, morning.deferred) == (0, 1, 0)


def test_a_plan_whose_case_was_recalled_is_cancelled(case, users):
    plan = propose(case, users.agent)
    case_recall(case=case, reason="Payé au centre", actor=users.approver)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED  # at the recall itself (closure.ending)
    report = check(date(2026, 10, 26))
    assert report.cancelled == 0  # nothing left for the daily check
    assert not OutboxMessage.objects.filter(case=case, text__contains="l'échéance 1").exists()


def test_check_plans_command_prints_json_and_does_nothing_twice(case, users):
    plan = propose(case, users.agent)
    outputs = []
    with at(date(2026, 10, 26)):
        for _ in range(2):
            out = io.StringIO()
            call_command("check_plans", "--date", "2026-10-26", "--json", stdout=out)
            outputs.append(json.loads(out.getvalue()))
    assert outputs[0]["missed"] == 1 and outputs[0]["reminded"] == 1
    assert outputs[1]["missed"] == outputs[1]["reminded"] == 0
    assert plan.instalments.filter(status=InstalmentStatus.MISSED).count() == 1


def test_check_plans_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Date invalide"):
        call_command("check_plans", "--date", "26/10/2026")


def test_run_daily_checks_the_plans():
    from amiable.ops.management.commands.run_daily import DAILY_JOBS

    assert DAILY_JOBS.index("check_plans") < DAILY_JOBS.index("run_scenarios")


# --- other proposals (C19) --------------------------------------------------------------------------------------


def test_another_proposal_of_the_debtor_goes_to_the_creditor_as_a_decision(case, users):
    approval = settlement_proposal_send(
        case=case,
        proposal="Sa fille réglera la totalité fin décembre.",
        amount="100,00",
        dates="31/12/2026",
        actor=users.agent,
    )

    assert approval.kind == ApprovalKind.ALTERNATIVE_SETTLEMENT and approval.status == ApprovalStatus.PENDING
    assert "Sa fille réglera" in approval.proposal and "100,00 €" in squash(approval.proposal)
    assert "31/12/2026" in approval.proposal
    # L5: the approvers at once (urgent), and the rest of the creditor's staff of the case.
    assert Notification.objects.get(kind="approval_requested", recipient=users.approver).urgent
    assert Notification.objects.filter(kind="settlement_proposed", recipient=users.collaborator).exists()
    assert not Notification.objects.filter(recipient=users.other_admin).exists()
    assert ApprovalRequest.objects.visible_to(users.approver).filter(pk=approval.pk).exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"proposal": "  "}, "Décrivez la proposition du débiteur."),
        ({"proposal": "Remise", "amount": "-5"}, "Le montant proposé doit être supérieur à 0,00 €."),
        ({"proposal": "Remise", "amount": "beaucoup"}, "Montant proposé illisible"),
    ],
)
def test_another_proposal_needs_its_words_and_a_readable_amount(case, users, kwargs, message):
    with pytest.raises(ApplicationError, match=re.escape(message)):
        settlement_proposal_send(case=case, actor=users.agent, **kwargs)
    assert not ApprovalRequest.objects.exists()


def test_only_the_agency_sends_another_proposal(case, users):
    with pytest.raises(ApplicationError):
        settlement_proposal_send(case=case, proposal="Report", actor=users.collaborator)


def test_the_verbs_have_their_timeline_words(case, users):
    plan = propose(case, users.agent)
    check(date(2026, 10, 26))
    from amiable.audit.timeline import event_details

    details = {e.verb: squash(event_details(e)) for e in AuditEvent.objects.filter(verb__startswith="plan.")}
    assert details["plan.proposed"].startswith(f"{plan.number} : 3 échéance(s), total 100,00 €")
    assert details["plan.granted"] == f"{plan.number} accordé par l'agence ; document envoyé par e-mail"
    assert details["plan.instalment_missed"].startswith(f"{plan.number}, échéance 1 du 15/10/2026")


def test_a_plan_is_proposed_for_the_whole_balance_after_earlier_payments(case, users):
    pay(case, "10.00", users.agent)
    plan = propose(case, users.agent)
    assert plan.total == Decimal("90.00")
    assert [i[2] for i in instalments(plan)] == [Decimal("30.00")] * 3
    assert timedelta(0) <= plan.granted_at - NOW < timedelta(seconds=1)


# --- the contact rule: a case on a plan receives its plan's messages only ----------------------------------------


def test_a_case_on_a_plan_is_not_chased_but_may_receive_its_plans_messages(case, users):
    from amiable.cases.policy import case_contact_block
    from amiable.contact.messaging import email_send

    propose(case, users.agent)
    case.refresh_from_db()
    assert case_contact_block(case, Channel.EMAIL).key == "case_not_active"
    assert case_contact_block(case, Channel.EMAIL, plan_follow_up=True) is None
    with pytest.raises(ApplicationError, match="dossier plan d'apurement : aucune action"):
        email_send(case=case, actor=users.agent)


def test_an_instalments_reminder_retried_later_still_goes_to_a_case_on_a_plan(case, users):
    from amiable.contact.messaging import QUEUED_GRACE, message_deliver
    from amiable.contact.models import MessageStatus

    propose(case, users.agent)
    check(date(2026, 10, 26))  # its reminder is decided; its delivery task has not run (no commit in this test)
    message = OutboxMessage.objects.get(case=case, kind=MessageKind.INSTALMENT)
    later = datetime.combine(date(2026, 10, 26), time(10, 0), tzinfo=PARIS) + QUEUED_GRACE + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert message_deliver(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
