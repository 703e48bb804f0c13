"""check_deadlines tells people of the clocks at risk or late: once per clock and state, one summary per
person and run; the supervisors of the agency, and the creditor's staff who can see the clock. Its queries
do not grow with the number of cases."""

import io
import json
from datetime import date

import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.audit.models import AuditEvent
from amiable.cases.models import Task, TaskKind
from amiable.cases.services import task_open
from amiable.closure.models import DocumentReturn
from amiable.notifications.models import Notification
from amiable.reporting.models import ClockNotice
from tests.factories import make_case

# On 20 March 2026: the CDOP case received on 14 March 2025 is late (due 14 March 2026); the CSR case
# received on 14 May 2025 reached 10 months on 14 March 2026: at risk.
DAY = "2026-03-20"


def check(day: str = DAY, *extra: str) -> str:
    """The run of `day`, on that day (a --date other than today records nothing: see below)."""
    out = io.StringIO()
    with time_machine.travel(f"{day} 07:00 +01:00", tick=False):
        call_command("check_deadlines", *extra, stdout=out)
    return out.getvalue()


def notes(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind="clocks").order_by("pk"))


def test_each_person_gets_one_summary_of_what_they_may_see(reference, users):
    make_case(structure=reference.cdop, reference="EN-RETARD", received_on=date(2025, 3, 14))
    make_case(structure=reference.csr, reference="BIENTOT", received_on=date(2025, 5, 14))
    output = check()
    assert "2 échéance(s) signalée(s)" in output

    [agency] = notes(users.supervisor)
    assert agency.title == "Échéances du contrat : 1 en retard, 1 à échéance proche"
    assert "Certificat d'irrécouvrabilité — 1 en retard : EN-RETARD" in agency.body
    assert "Certificat d'irrécouvrabilité — 1 à échéance proche : BIENTOT" in agency.body
    assert agency.url == "/echeances/" and agency.urgent
    for person in (users.collaborator, users.approver, users.creditor_admin):
        [note] = notes(person)
        assert note.url == "/portail/echeances/"
        assert "EN-RETARD" in note.body and "BIENTOT" in note.body
    [limited] = notes(users.csr_only)  # limited to CSR: told of the CSR case only
    assert limited.title == "Échéances du contrat : 1 à échéance proche"
    assert "EN-RETARD" not in limited.body and not limited.urgent
    assert notes(users.other_admin) == [] and notes(users.agent) == []
    assert set(ClockNotice.objects.values_list("kind", "key", "state")) == {
        ("certificate", f"case:{reference.cdop.cases.get().pk}", "late"),
        ("certificate", f"case:{reference.csr.cases.get().pk}:10m", "at_risk"),
    }
    event = AuditEvent.objects.get(verb="clocks.noticed")
    assert event.creditor_pk == reference.cpam.pk
    assert event.after == {"date": DAY, "counts": {"certificate": {"at_risk": 1, "late": 1}}}


def test_a_second_run_tells_nothing_more_and_the_11_months_warning_is_a_new_notice(reference, users):
    make_case(structure=reference.csr, reference="BIENTOT", received_on=date(2025, 5, 14))
    check()
    check()
    check("2026-04-13")  # still within the tenth month
    assert len(notes(users.supervisor)) == 1
    assert ClockNotice.objects.count() == 1
    check("2026-04-14")  # 11 months: the second warning
    assert len(notes(users.supervisor)) == 2
    assert ClockNotice.objects.filter(key__endswith=":11m").count() == 1
    check("2026-05-15")  # late
    check("2026-05-16")
    assert len(notes(users.supervisor)) == 3
    assert ClockNotice.objects.count() == 3


def test_a_dry_run_records_and_tells_nothing(reference, users):
    make_case(structure=reference.cdop, received_on=date(2025, 3, 14))
    assert "Simulation — 1 échéance(s) à signaler" in check(DAY, "--dry-run")
    assert not ClockNotice.objects.exists() and not notes(users.supervisor)


def test_the_agency_only_clocks_are_not_told_to_the_creditor(reference, users):
    case = make_case(structure=reference.cdop, received_on=date(2026, 3, 1))
    task_open(case=case, kind=TaskKind.CONTEST_DECLARED_DEBTS, reason="Surendettement", due_on=date(2026, 3, 19))
    check()
    assert "Contestation des créances déclarées (surendettement) — 1 en retard" in notes(users.supervisor)[0].body
    assert notes(users.collaborator) == []


def _cases(reference, n: int, offset: int) -> None:
    for i in range(n):
        structure = (reference.cdop, reference.csr, reference.cesa)[i % 3]
        case = make_case(structure=structure, reference=f"VOL-{offset + i}", received_on=date(2025, 3, 1 + i % 20))
        DocumentReturn.objects.create(case=case, ended_on=date(2026, 1, 10), due_on=date(2026, 3, 10))
        task_open(case=case, kind=TaskKind.CONTEST_DECLARED_DEBTS, reason="Surendettement", due_on=date(2026, 3, 25))


def _queries(*args: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        check(DAY, *args)
    return len(queries)


def test_the_queries_do_not_grow_with_the_cases(reference, users):
    _cases(reference, 3, 0)
    listing, notifying = _queries("--json", "--dry-run"), _queries()
    assert ClockNotice.objects.count() == 9
    ClockNotice.objects.all().delete()
    Notification.objects.all().delete()
    _cases(reference, 12, 3)
    assert _queries("--json", "--dry-run") == listing
    assert _queries() == notifying
    assert ClockNotice.objects.count() == 45
    assert Task.objects.count() == 15


def test_the_json_is_streamed_one_clock_a_line_and_counts_every_kind_and_state(reference):
    _cases(reference, 2, 0)
    out = check(DAY, "--json", "--dry-run")
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 6  # the opening, six clocks, the counts
    data = json.loads(out)
    assert set(data) == {"date", "clocks", "counts"}
    assert data["counts"]["certificate"] == {"on_time": 0, "at_risk": 0, "late": 2, "met": 0, "missed": 0}
    assert data["counts"]["documents_return"]["late"] == 2
    assert data["counts"]["over_indebtedness_contest"]["at_risk"] == 2
    assert set(data["counts"]) == {
        "certificate",
        "statement",
        "meeting",
        "question",
        "remittance",
        "invoice",
        "documents_return",
        "over_indebtedness_contest",
    }


def test_a_date_other_than_today_is_a_preview_that_records_and_tells_nothing(reference, users):
    """Previewing 20 March on 1 March must not store the notices of states not true yet: the real run of
    20 March would then tell nothing."""
    make_case(structure=reference.cdop, reference="EN-RETARD", received_on=date(2025, 3, 14))
    out = io.StringIO()
    with time_machine.travel("2026-03-01 07:00 +01:00", tick=False):
        call_command("check_deadlines", "--date", DAY, stdout=out)
    assert "Simulation (--date autre qu'aujourd'hui) — 1 échéance(s) à signaler" in out.getvalue()
    assert not ClockNotice.objects.exists() and not notes(users.supervisor)
    assert "1 échéance(s) signalée(s)" in check(DAY)  # the real run of that day tells it
    assert ClockNotice.objects.filter(state="late").count() == 1
    # Today given as --date is the ordinary run.
    out = io.StringIO()
    with time_machine.travel(f"{DAY} 08:00 +01:00", tick=False):
        call_command("check_deadlines", "--date", DAY, stdout=out)
    assert "0 échéance(s) signalée(s)" in out.getvalue()
