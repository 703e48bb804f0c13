"""The certificate clock (C10) and the command: warned at 10 and 11 months after receipt, late after the
terms' 12 months; an ended case met it when it ended by the due date."""

import io
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from amiable.cases.models import Case, CaseStatus
from amiable.closure.models import CaseClosure
from amiable.reporting.clocks import certificate_state
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
RECEIVED = date(2025, 3, 14)  # due 2026-03-14; warnings on 2026-01-14 (10 months) and 2026-02-14 (11 months)


def run(day: str, *extra: str) -> dict:
    out = io.StringIO()
    call_command("check_deadlines", "--date", day, "--json", *extra, stdout=out)
    return json.loads(out.getvalue())


def certificate(output: dict, reference: str) -> dict:
    [clock] = [c for c in output["clocks"] if c["kind"] == "certificate" and c["case"] == reference]
    return clock


@pytest.mark.parametrize(
    ("day", "state"),
    [
        ("2026-01-13", "on_time"),  # the day before 10 months
        ("2026-01-14", "at_risk"),  # 10 months
        ("2026-02-13", "at_risk"),
        ("2026-02-14", "at_risk"),  # 11 months: the second warning
        ("2026-03-13", "at_risk"),  # the day before due
        ("2026-03-14", "at_risk"),  # due day
        ("2026-03-15", "late"),  # the day after
    ],
)
def test_an_open_case_at_the_edges_of_its_certificate_clock(reference, day, state):
    make_case(structure=reference.cdop, reference="CERT-1", received_on=RECEIVED)
    output = run(day)
    assert output["date"] == day
    assert certificate(output, "CERT-1") == {
        "kind": "certificate",
        "case": "CERT-1",
        "creditor": "cpam-paris",
        "due": "2026-03-14",
        "state": state,
    }
    assert output["counts"]["certificate"][state] == 1


def test_the_two_warnings_are_two_stages():
    due = date(2026, 3, 14)
    assert certificate_state(is_open=True, due=due, ended_on=None, day=date(2026, 1, 14)) == ("at_risk", "10m")
    assert certificate_state(is_open=True, due=due, ended_on=None, day=date(2026, 2, 14)) == ("at_risk", "11m")
    assert certificate_state(is_open=True, due=due, ended_on=None, day=date(2026, 2, 13)) == ("at_risk", "10m")


def test_the_due_date_kept_on_the_case_wins_and_the_fallback_clamps_to_the_month_end(reference):
    kept = make_case(structure=reference.cdop, reference="CERT-DUE", received_on=RECEIVED)
    Case.objects.filter(pk=kept.pk).update(certificate_due_on=date(2026, 2, 1))
    make_case(structure=reference.cdop, reference="CERT-LEAP", received_on=date(2024, 2, 29))
    output = run("2025-06-01")
    assert certificate(output, "CERT-DUE")["due"] == "2026-02-01"
    assert certificate(output, "CERT-LEAP")["due"] == "2025-02-28"  # 29 February + 12 months
    assert certificate(output, "CERT-LEAP")["state"] == "late"


def _end(case: Case, status: str, on: date) -> None:
    Case.objects.filter(pk=case.pk).update(
        status=status, status_changed_at=datetime.combine(on, datetime.min.time(), tzinfo=PARIS) + timedelta(hours=23)
    )


def test_an_ended_case_met_its_clock_when_it_ended_by_the_due_date(reference):
    on_time = make_case(structure=reference.cdop, reference="CERT-PAID", received_on=RECEIVED)
    _end(on_time, CaseStatus.PAID, date(2026, 3, 14))  # 23:00 in Paris on the due day: still that day
    late = make_case(structure=reference.cdop, reference="CERT-LATE", received_on=RECEIVED)
    _end(late, CaseStatus.IRRECOVERABLE, date(2026, 3, 15))
    output = run("2026-04-01")
    assert certificate(output, "CERT-PAID")["state"] == "met"
    assert certificate(output, "CERT-LATE")["state"] == "missed"


def test_the_closure_date_comes_before_the_status_change(reference, users):
    case = make_case(structure=reference.cdop, reference="CERT-CLOSED", received_on=RECEIVED)
    _end(case, CaseStatus.IRRECOVERABLE, date(2026, 4, 2))  # recorded late, decided on time
    CaseClosure.objects.create(
        case=case, kind="irrecoverable", reason="untraceable", ended_on=date(2026, 3, 1), decided_at=datetime.now(PARIS)
    )
    assert certificate(run("2026-04-05"), "CERT-CLOSED")["state"] == "met"


def test_cases_settled_long_ago_are_no_longer_listed(reference):
    old = make_case(structure=reference.cdop, reference="CERT-OLD", received_on=date(2023, 1, 10))
    _end(old, CaseStatus.PAID, date(2023, 6, 1))
    output = run("2026-04-01")
    assert not [c for c in output["clocks"] if c["case"] == "CERT-OLD"]


def test_a_malformed_date_is_refused():
    with pytest.raises(CommandError, match="Date invalide"):
        call_command("check_deadlines", "--date", "2026-13-01")
