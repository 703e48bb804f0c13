"""L6: money collected and still not remitted more than 7 days after its collection is flagged, per structure,
once a day to the agency's supervisors and administrators; the remittance clears it."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.notifications.models import Notification
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record
from amiable.remittances.alerts import KIND, remittances_overdue, remittances_overdue_notify
from amiable.remittances.services import remittances_build
from tests.factories import make_case

pytestmark = pytest.mark.django_db

D = Decimal


def days_ago(n):
    return timezone.localdate() - timedelta(days=n)


def pay(case, amount, on, actor, method=PaymentMethod.CHEQUE):
    return payment_record(case=case, amount=amount, collected_on=on, method=method, actor=actor)


def test_money_held_more_than_seven_days_is_late_per_structure(reference, users):
    csr = make_case(structure=reference.csr, principal="100.00")
    cdop = make_case(structure=reference.cdop, principal="100.00")
    pay(csr, "20.00", days_ago(8), users.agent)
    pay(csr, "5.50", days_ago(12), users.agent)
    pay(cdop, "30.00", days_ago(7), users.agent)  # exactly 7 days: not late yet
    pay(cdop, "40.00", days_ago(9), users.agent, method=PaymentMethod.DIRECT)  # never held by the agency
    overdue = remittances_overdue()
    assert [(s.structure_code, s.count, s.total, s.oldest) for s in overdue.structures] == [
        (reference.csr.code, 2, D("25.50"), days_ago(12))
    ]
    assert overdue.total == D("25.50")


def test_only_what_the_structure_is_owed_is_late_not_an_overpayment(reference, users):
    case = make_case(structure=reference.csr, principal="50.00")
    pay(case, "80.00", days_ago(10), users.agent)  # 30.00 is owed back to the debtor
    assert remittances_overdue().total == D("50.00")


def test_the_remittance_clears_the_alert_once_its_transfer_is_issued(reference, users):
    reference.csr.remittance_iban, reference.csr.remittance_bic = "FR7630001007941234567890185", "BDFEFRPPCCT"
    reference.csr.save()
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", days_ago(10), users.agent)
    assert remittances_overdue()
    remittances_build(actor=None)
    assert not remittances_overdue()
    # Issued long ago and still not seen executed by the bank: late again.
    from amiable.remittances.models import Remittance

    Remittance.objects.update(sent_at=timezone.now() - timedelta(days=6))
    assert remittances_overdue().total == D("20.00")


def test_supervisors_and_admins_are_notified_once_a_day(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", days_ago(10), users.agent)
    remittances_overdue_notify()
    remittances_overdue_notify()
    notes = Notification.objects.filter(kind=KIND)
    recipients = {n.recipient_id for n in notes}
    assert recipients == {users.supervisor.pk, users.agency_admin.pk}
    assert notes.count() == 2
    assert "20,00" in notes.first().title
    assert reference.csr.code in notes.first().body


def test_nothing_late_notifies_nobody(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", days_ago(2), users.agent)
    assert not remittances_overdue_notify()
    assert not Notification.objects.filter(kind=KIND).exists()


def test_command_json(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", days_ago(10), users.agent)
    out = StringIO()
    call_command("check_remittances", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "executed": 0,
        "overdue": [
            {
                "creditor": reference.cpam.slug,
                "structure": reference.csr.code,
                "payments": 1,
                "total": "20.00",
                "oldest": days_ago(10).isoformat(),
            }
        ],
    }


def test_the_check_costs_the_same_whatever_the_number_of_late_payments(reference, users):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            remittances_overdue()
        return len(ctx.captured_queries)

    case = make_case(structure=reference.csr, principal="1000.00")
    pay(case, "1.00", days_ago(10), users.agent)
    few = queries()
    for i in range(15):
        other = make_case(structure=reference.cdop if i % 2 else reference.csr, principal="100.00")
        pay(other, "2.00", days_ago(9 + i % 3), users.agent)
    assert queries() == few


def test_a_remittance_whose_transfer_waits_is_still_late(reference, users):
    """No IBAN: the remittance is made but no transfer can go; the money is still held, and flagged."""
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", days_ago(12), users.agent)
    remittances_build(week_of=days_ago(0), actor=None)
    [late] = remittances_overdue().structures
    assert (late.structure_code, late.count, late.total, late.in_remittances) == (
        reference.csr.code,
        1,
        D("20.00"),
        D("20.00"),
    )
    from amiable.remittances.execution import remittance_mark_executed
    from amiable.remittances.models import Remittance

    remittance_mark_executed(remittance=Remittance.objects.get(), executed_on=days_ago(0), actor=users.supervisor)
    assert not remittances_overdue()
