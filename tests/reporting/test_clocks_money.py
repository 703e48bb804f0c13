"""The clocks of the money: each creditor's weekly remittance (C20, L6), met when the week's payments were
remitted and their transfer issued by the remittance day of the next week, late after it or as soon as the
L6 alert reports the week's money held more than 7 days; and the monthly invoices (C23)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from amiable.creditors.models import ContractTerms
from amiable.invoicing.models import Invoice
from amiable.invoicing.services import invoices_build
from amiable.payments.services import payment_record
from amiable.remittances.models import Remittance, RemittanceStatus
from amiable.remittances.services import remittances_build
from amiable.reporting.clocks import Scope, instant_of, invoice_clocks, remittance_clocks
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = date(2026, 10, 6)  # in the week of Monday 5 October; remitted on Monday 12 (the CPAM's weekday)


@pytest.fixture
def paid(reference, users):
    case = make_case(structure=reference.cdop, principal="200.00")
    return payment_record(
        case=case, amount=Decimal("40.00"), collected_on=TUESDAY, method="transfer", actor=users.agent
    )


def remittance_state(day: date, scope: Scope | None = None) -> tuple[str, date]:
    [clock] = remittance_clocks(day=day, at=instant_of(day), scope=scope)
    assert clock.key.endswith(":week:2026-W41")
    assert clock.creditor_slug == "cpam-paris" and clock.case_reference is None
    return clock.state, clock.due


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (date(2026, 10, 11), "on_time"),  # the week's last day
        (date(2026, 10, 12), "at_risk"),  # the remittance day: not yet remitted
        (date(2026, 10, 13), "late"),  # the day after
    ],
)
def test_a_week_not_remitted_at_the_edges_of_its_remittance_day(paid, day, state):
    assert remittance_state(day) == (state, date(2026, 10, 12))


def test_a_later_remittance_day_is_late_as_soon_as_the_l6_alert_reports_the_money(reference, paid):
    ContractTerms.objects.filter(creditor=reference.cpam).update(remittance_weekday=3)  # Thursday 15
    assert remittance_state(date(2026, 10, 13)) == ("on_time", date(2026, 10, 15))
    # Collected on the 6th, held more than 7 days on the 14th: the L6 alert reports it.
    assert remittance_state(date(2026, 10, 14)) == ("late", date(2026, 10, 15))


def _remit(sent: datetime, executed: date) -> None:
    remittances_build(week_of=date(2026, 10, 12), actor=None)
    assert remittance_state(date(2026, 10, 12))[0] == "at_risk"  # made, its transfer not issued: still held
    Remittance.objects.update(status=RemittanceStatus.EXECUTED, sent_at=sent, executed_on=executed)


def test_a_week_remitted_and_sent_on_its_remittance_day_met_its_clock(paid):
    _remit(datetime(2026, 10, 12, 18, 0, tzinfo=PARIS), date(2026, 10, 13))
    assert remittance_state(date(2026, 10, 20)) == ("met", date(2026, 10, 12))


def test_a_week_sent_the_day_after_missed_its_clock(paid):
    _remit(datetime(2026, 10, 13, 9, 0, tzinfo=PARIS), date(2026, 10, 14))
    assert remittance_state(date(2026, 10, 20)) == ("missed", date(2026, 10, 12))


def test_a_transfer_issued_and_never_executed_keeps_the_money_held(paid):
    remittances_build(week_of=date(2026, 10, 12), actor=None)
    Remittance.objects.update(status=RemittanceStatus.SENT, sent_at=datetime(2026, 10, 12, 18, 0, tzinfo=PARIS))
    assert remittance_state(date(2026, 10, 16))[0] == "met"  # 4 days: the bank has time
    assert remittance_state(date(2026, 10, 18))[0] == "late"  # more than 5 days: taken as lost


def test_a_structure_limited_person_sees_only_their_structures_money(reference, users, paid):
    assert (
        remittance_clocks(day=date(2026, 10, 13), at=instant_of(date(2026, 10, 13)), scope=Scope.of(users.csr_only))
        == []
    )
    assert remittance_state(date(2026, 10, 13), Scope.of(users.collaborator))[0] == "late"
    assert (
        remittance_clocks(day=date(2026, 10, 13), at=instant_of(date(2026, 10, 13)), scope=Scope.of(users.other_admin))
        == []
    )


# --- invoices: the month's commissions invoiced by the end of the following month ------------------------


def invoice_state(day: date) -> list[tuple[str, str, date]]:
    return [(c.key.rsplit(":", 1)[1], c.state, c.due) for c in invoice_clocks(day=day, at=instant_of(day))]


@pytest.fixture
def october(reference, users):
    case = make_case(structure=reference.cdop, principal="200.00")
    payment_record(
        case=case, amount=Decimal("40.00"), collected_on=date(2026, 10, 15), method="transfer", actor=users.agent
    )
    return case


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (date(2026, 11, 22), "on_time"),
        (date(2026, 11, 23), "at_risk"),  # the last 7 days
        (date(2026, 11, 30), "at_risk"),  # due day
        (date(2026, 12, 1), "late"),  # the day after
    ],
)
def test_a_month_not_invoiced_at_the_edges_of_its_clock(october, day, state):
    assert invoice_state(day) == [("2026-10", state, date(2026, 11, 30))]


def test_nothing_collected_no_invoice_clock(reference):
    assert invoice_state(date(2026, 11, 20)) == []


@pytest.mark.parametrize(("issued", "state"), [(date(2026, 11, 30), "met"), (date(2026, 12, 1), "missed")])
def test_a_month_invoiced_met_or_missed_its_clock(october, issued, state):
    invoices_build(month=date(2026, 10, 1), actor=None)
    Invoice.objects.update(issued_on=issued)
    assert invoice_state(date(2026, 12, 5)) == [("2026-10", state, date(2026, 11, 30))]


def test_a_payment_recorded_after_its_month_was_invoiced_waits_for_the_next_month(reference, users, october):
    invoices_build(month=date(2026, 10, 1), actor=None)
    Invoice.objects.update(issued_on=date(2026, 11, 2))
    payment_record(
        case=october, amount=Decimal("10.00"), collected_on=date(2026, 10, 20), method="transfer", actor=users.agent
    )
    assert invoice_state(date(2026, 11, 30)) == [("2026-10", "met", date(2026, 11, 30))]
    # Once November is over, the late payment is November's to invoice.
    assert invoice_state(date(2026, 12, 5)) == [
        ("2026-10", "met", date(2026, 11, 30)),
        ("2026-11", "on_time", date(2026, 12, 31)),
    ]
