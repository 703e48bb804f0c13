"""The clocks of the creditor's requests (hours, days and business days with public holidays), of the
documents to return (C25) and of the over-indebtedness contests, each at its edges."""

import io
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from amiable.cases.models import Task, TaskKind, TaskStatus
from amiable.cases.services import task_open
from amiable.closure.models import DocumentReturn
from amiable.creditor_requests import hooks
from amiable.creditor_requests.models import CreditorRequest, RequestStatus
from amiable.creditor_requests.services import meeting_confirm, meeting_propose, request_answer, request_create
from amiable.reporting.clocks import row_clocks
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=PARIS)
# Thursday before the 1st of May (Friday): 5 business days skip it and the 8th of May (Friday too).
BEFORE_MAY_DAY = datetime(2026, 4, 30, 10, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _statement_by_hand(monkeypatch):
    """No automatic statement: a statement request stays open on its clock until answered."""
    monkeypatch.setattr(hooks, "_statement_provider", None)


@pytest.fixture
def case(reference, users):
    return make_case(structure=reference.cdop, reference="HORLOGE-1", assigned_agent=users.agent)


def clocks_on(day: str) -> list[dict]:
    out = io.StringIO()
    call_command("check_deadlines", "--date", day, "--json", "--dry-run", stdout=out)
    return json.loads(out.getvalue())["clocks"]


def state_of(kind: str, day: str, *, case: str | None = "HORLOGE-1") -> dict:
    [clock] = [c for c in clocks_on(day) if c["kind"] == kind and c["case"] == case]
    return clock


def ask(kind, users, case=None, at=TUESDAY):
    with time_machine.travel(at, tick=False):
        return request_create(kind=kind, body="Où en est-on ?", actor=users.collaborator, case=case)


# --- statements: 48 hours, at risk in the last 12 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state"),
    [
        ("2026-11-17", "on_time"),  # asked that day: 34 h left at its end
        ("2026-11-18", "at_risk"),  # the day before due: 10 h left at its end
        ("2026-11-19", "late"),  # due day, 10:00: past by the end of the day
        ("2026-11-20", "late"),  # the day after
    ],
)
def test_a_statement_request_at_the_edges_of_its_48_hours(case, users, day, state):
    ask("statement", users, case)
    assert state_of("statement", day) == {
        "kind": "statement",
        "case": "HORLOGE-1",
        "creditor": "cpam-paris",
        "due": "2026-11-19",
        "state": state,
    }


def test_a_statement_is_at_risk_in_the_last_quarter_of_its_delay(case, users):
    ask("statement", users, case)
    due = TUESDAY + timedelta(hours=48)
    for at, state in [
        (due - timedelta(hours=12, minutes=1), "on_time"),
        (due - timedelta(hours=12), "at_risk"),
        (due, "at_risk"),
        (due + timedelta(minutes=1), "late"),
    ]:
        [clock] = row_clocks("statement", day=at.date(), at=at)
        assert clock.state == state, at


def test_a_statement_answered_by_its_due_moment_met_its_clock(case, users):
    in_time = ask("statement", users, case)
    too_late = ask("statement", users, case)
    due = TUESDAY + timedelta(hours=48)
    with time_machine.travel(due, tick=False):
        request_answer(request=in_time, answer="Décompte joint.", actor=users.agent)
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        request_answer(request=too_late, answer="Décompte joint.", actor=users.agent)
    states = {c.key: c.state for c in row_clocks("statement", day=date(2026, 11, 25), at=due + timedelta(days=5))}
    assert states == {f"request:{in_time.pk}": "met", f"request:{too_late.pk}": "missed"}


def test_a_cancelled_request_has_no_clock(case, users):
    request = ask("statement", users, case)
    CreditorRequest.objects.filter(pk=request.pk).update(status=RequestStatus.CANCELLED)
    assert not [c for c in clocks_on("2026-11-20") if c["kind"] == "statement"]


# --- questions: 5 business days, public holidays skipped ------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state"),
    [
        ("2026-05-06", "on_time"),
        ("2026-05-07", "at_risk"),  # one business day before due (the 8th of May is a holiday)
        ("2026-05-08", "at_risk"),  # Victoire 1945: not a business day
        ("2026-05-10", "at_risk"),  # Sunday, the day before due
        ("2026-05-11", "late"),  # due day at 10:00: past by its end
        ("2026-05-12", "late"),
    ],
)
def test_a_question_counts_5_business_days_without_the_public_holidays(case, users, day, state):
    ask("question", users, case, at=BEFORE_MAY_DAY)
    clock = state_of("question", day)
    assert clock["due"] == "2026-05-11"  # 30 April + 5 business days, the 1st and the 8th of May skipped
    assert clock["state"] == state


def test_a_question_becomes_at_risk_one_business_day_before_its_due_moment(case, users):
    ask("question", users, case, at=BEFORE_MAY_DAY)
    warn = datetime(2026, 5, 7, 10, 0, tzinfo=PARIS)  # Thursday: Friday the 8th is a holiday
    for at, state in [(warn - timedelta(minutes=1), "on_time"), (warn, "at_risk")]:
        [clock] = row_clocks("question", day=at.date(), at=at)
        assert clock.state == state


# --- meetings: 3 days, met when held by then ----------------------------------------------------------------


def test_a_meeting_is_met_when_it_is_held_within_its_3_days(users, reference):
    meeting = ask("meeting", users)
    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        [slot] = meeting_propose(request=meeting, slots=[TUESDAY + timedelta(days=3)], actor=users.agent)
        meeting_confirm(slot=slot, actor=users.collaborator)
    clock = state_of("meeting", "2026-11-25", case=None)
    assert clock == {"kind": "meeting", "case": None, "creditor": "cpam-paris", "due": "2026-11-20", "state": "met"}


@pytest.mark.parametrize(
    ("day", "state"), [("2026-11-18", "on_time"), ("2026-11-19", "at_risk"), ("2026-11-20", "late")]
)
def test_a_meeting_not_fixed_runs_late(users, reference, day, state):
    ask("meeting", users)  # due Friday 20 at 10:00; at risk in its last 18 hours
    assert state_of("meeting", day, case=None)["state"] == state


# --- documents to return: by due_on, at risk in the last 15 days ---------------------------------------------


@pytest.mark.parametrize(
    ("day", "state"),
    [
        ("2026-06-14", "on_time"),
        ("2026-06-15", "at_risk"),  # 15 days before due
        ("2026-06-29", "at_risk"),  # the day before
        ("2026-06-30", "at_risk"),  # due day
        ("2026-07-01", "late"),  # the day after
    ],
)
def test_documents_to_return_at_the_edges_of_their_clock(case, day, state):
    DocumentReturn.objects.create(case=case, ended_on=date(2026, 4, 30), due_on=date(2026, 6, 30))
    assert state_of("documents_return", day) == {
        "kind": "documents_return",
        "case": "HORLOGE-1",
        "creditor": "cpam-paris",
        "due": "2026-06-30",
        "state": state,
    }


@pytest.mark.parametrize(("returned_on", "state"), [(date(2026, 6, 30), "met"), (date(2026, 7, 1), "missed")])
def test_documents_returned_met_or_missed_their_clock(case, returned_on, state):
    DocumentReturn.objects.create(
        case=case, ended_on=date(2026, 4, 30), due_on=date(2026, 6, 30), returned_on=returned_on
    )
    assert state_of("documents_return", "2026-09-01")["state"] == state


# --- over-indebtedness contests: 30 days, at risk in the last 7 ---------------------------------------------


@pytest.mark.parametrize(
    ("day", "state"),
    [("2026-10-23", "on_time"), ("2026-10-24", "at_risk"), ("2026-10-31", "at_risk"), ("2026-11-01", "late")],
)
def test_a_contest_of_declared_debts_at_the_edges_of_its_30_days(case, day, state):
    task_open(case=case, kind=TaskKind.CONTEST_DECLARED_DEBTS, reason="Surendettement", due_on=date(2026, 10, 31))
    assert state_of("over_indebtedness_contest", day)["state"] == state


@pytest.mark.parametrize(
    ("closed", "state"),
    [(datetime(2026, 10, 31, 23, 30, tzinfo=PARIS), "met"), (datetime(2026, 11, 1, 0, 30, tzinfo=PARIS), "missed")],
)
def test_a_contest_done_met_or_missed_its_clock_by_the_day_in_paris(case, closed, state):
    task, _ = task_open(
        case=case, kind=TaskKind.CONTEST_DECLARED_DEBTS, reason="Surendettement", due_on=date(2026, 10, 31)
    )
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE, closed_at=closed)
    assert state_of("over_indebtedness_contest", "2026-11-10")["state"] == state
