"""Weekly remittances: totals per structure to the cent, direct payments left out, idempotence, a crash
half-way, reversals carried into the next remittance, the ledger debited, the command's JSON."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from amiable.core.exceptions import ApplicationError
from amiable.ledger.models import LedgerAccount, LedgerEntry
from amiable.ledger.selectors import ledger_balance
from amiable.payments.models import Payment, PaymentMethod
from amiable.payments.services import payment_record, payment_reverse, refund_record
from amiable.remittances import services
from amiable.remittances.models import Remittance, RemittanceLine
from amiable.remittances.selectors import week_before
from amiable.remittances.services import remittances_build
from tests.factories import make_case

pytestmark = pytest.mark.django_db

D = Decimal


def today():
    return timezone.localdate()


def weeks_ago(n):
    """(week_of, monday, sunday) of the complete week n weeks before the last one (0: the last one)."""
    week_of = today() - timedelta(days=7 * n)
    start, end = week_before(week_of)
    return week_of, start, end


def pay(case, amount, on, actor, method=PaymentMethod.TRANSFER):
    return payment_record(case=case, amount=amount, collected_on=on, method=method, actor=actor)


def held(structure):
    return ledger_balance(account=LedgerAccount.CREDITOR_FUNDS, structure_id=structure.pk)


def bank():
    return ledger_balance(account=LedgerAccount.BANK)


def test_one_remittance_per_structure_with_the_weeks_net_payments(reference, users):
    week_of, start, end = weeks_ago(0)
    csr_a = make_case(structure=reference.csr, principal="100.00")
    csr_b = make_case(structure=reference.csr, principal="200.00")
    cdop = make_case(structure=reference.cdop, principal="80.00")
    other = make_case(structure=reference.other_structure, principal="50.00")
    pay(csr_a, "60.10", start, users.agent)
    pay(csr_b, "45.55", end, users.agent, method=PaymentMethod.CHEQUE)
    pay(csr_b, "0.35", start + timedelta(days=2), users.agent, method=PaymentMethod.CARD)
    pay(cdop, "30.25", start + timedelta(days=3), users.agent)
    pay(other, "12.00", start + timedelta(days=4), users.agent, method=PaymentMethod.CASH)
    if end + timedelta(days=1) <= today():  # collected after the week: not in it
        pay(csr_a, "7.00", end + timedelta(days=1), users.agent)

    run = remittances_build(week_of=week_of, actor=None)

    assert run.created == 3
    by_structure = {r.structure_id: r for r in Remittance.objects.all()}
    assert set(by_structure) == {reference.csr.pk, reference.cdop.pk, reference.other_structure.pk}
    assert by_structure[reference.csr.pk].total == D("106.00")
    assert by_structure[reference.csr.pk].lines.count() == 3
    assert by_structure[reference.cdop.pk].total == D("30.25")
    assert by_structure[reference.other_structure.pk].total == D("12.00")
    assert by_structure[reference.other_structure.pk].creditor_id == reference.other.pk
    for remittance in by_structure.values():
        assert (remittance.period_start, remittance.period_end) == (start, end)
        assert remittance.period_start.weekday() == 0 and remittance.period_end.weekday() == 6
        assert remittance.number.startswith(f"RV-{today().year}-")
        assert sum(line.amount for line in remittance.lines.all()) == remittance.total
    numbers = sorted(int(r.number.rsplit("-", 1)[1]) for r in by_structure.values())
    assert numbers == list(range(numbers[0], numbers[0] + 3))  # gap-free


def test_direct_payments_are_not_remitted(reference, users):
    week_of, start, end = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="100.00")
    direct = pay(case, "40.00", start, users.agent, method=PaymentMethod.DIRECT)
    transfer = pay(case, "25.00", start, users.agent)
    remittances_build(week_of=week_of, actor=None)
    remittance = Remittance.objects.get()
    assert remittance.total == D("25.00")
    assert not RemittanceLine.objects.filter(payment=direct).exists()
    # The remitted mark the overdue alert reads follows the remittance's lines.
    direct.refresh_from_db()
    transfer.refresh_from_db()
    assert transfer.remitted and not direct.remitted


def test_only_direct_payments_make_no_remittance(reference, users):
    week_of, start, end = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "40.00", start, users.agent, method=PaymentMethod.DIRECT)
    run = remittances_build(week_of=week_of, actor=None)
    assert run.created == 0 and not Remittance.objects.exists()


def test_an_overpayment_is_held_for_the_debtor_not_remitted(reference, users):
    week_of, start, end = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "130.00", start, users.agent)
    remittances_build(week_of=week_of, actor=None)
    assert Remittance.objects.get().total == D("100.00")
    assert ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS) == D("30.00")


def test_a_second_run_creates_nothing(reference, users):
    week_of, start, end = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "40.00", start, users.agent)
    first = remittances_build(week_of=week_of, actor=None)
    second = remittances_build(week_of=week_of, actor=None)
    assert (first.created, second.created) == (1, 0)
    assert second.remittances == first.remittances
    assert Remittance.objects.count() == 1 and RemittanceLine.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="remittance").count() == 1


def test_a_payment_entered_late_for_a_remitted_week_goes_into_the_next(reference, users):
    week_of, start, end = weeks_ago(1)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "40.00", start, users.agent)
    remittances_build(week_of=week_of, actor=None)
    late = pay(case, "10.00", end, users.agent)
    assert remittances_build(week_of=week_of, actor=None).created == 0
    remittances_build(week_of=today(), actor=None)
    assert RemittanceLine.objects.get(payment=late).remittance.period_start == weeks_ago(0)[1]


def test_a_crash_half_way_leaves_no_partial_remittance_and_the_next_run_completes(reference, users, monkeypatch):
    week_of, start, end = weeks_ago(0)
    for structure in (reference.csr, reference.cdop, reference.other_structure):
        pay(make_case(structure=structure, principal="100.00"), "20.00", start, users.agent)
    real_audit = services.audit_record
    calls = []

    def audit_then_crash(**kwargs):
        calls.append(kwargs["verb"])
        if len(calls) == 2:  # the second structure: remittance, lines and ledger entry written, then a crash
            raise RuntimeError("panne")
        return real_audit(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_then_crash)
    with pytest.raises(RuntimeError):
        remittances_build(week_of=week_of, actor=None)
    assert Remittance.objects.count() == 1
    assert RemittanceLine.objects.count() == 1
    assert Payment.objects.filter(remitted=True).count() == 1  # the rolled back structure's payment is not marked
    assert LedgerEntry.objects.filter(kind="remittance").count() == 1
    assert bank() == D("40.00")

    monkeypatch.setattr(services, "audit_record", real_audit)
    run = remittances_build(week_of=week_of, actor=None)
    assert run.created == 2 and len(run.remittances) == 3
    assert Remittance.objects.count() == 3 and RemittanceLine.objects.count() == 3
    assert bank() == D("0.00")


def test_a_reversal_after_remittance_is_carried_into_the_next(reference, users):
    week_of_1, start_1, end_1 = weeks_ago(1)
    week_of_2, start_2, end_2 = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="300.00")
    bounced = pay(case, "100.00", start_1, users.agent, method=PaymentMethod.CHEQUE)
    remittances_build(week_of=week_of_1, actor=None)
    reversal = payment_reverse(payment=bounced, reversed_on=start_2, reason="Chèque impayé", actor=users.agent)
    pay(case, "150.00", start_2 + timedelta(days=1), users.agent)

    run = remittances_build(week_of=week_of_2, actor=None)

    assert run.created == 1
    second = Remittance.objects.get(period_start=start_2)
    assert second.total == D("50.00")
    assert RemittanceLine.objects.get(reversal=reversal).amount == D("-100.00")
    assert RemittanceLine.objects.get(reversal=reversal).remittance == second
    assert RemittanceLine.objects.get(payment=bounced).remittance.period_start == start_1


def test_a_negative_net_makes_no_remittance_and_is_carried_to_the_next_week(reference, users):
    week_of_1, start_1, _ = weeks_ago(2)
    week_of_2, start_2, _ = weeks_ago(1)
    week_of_3, start_3, _ = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="300.00")
    bounced = pay(case, "100.00", start_1, users.agent)
    remittances_build(week_of=week_of_1, actor=None)
    payment_reverse(payment=bounced, reversed_on=start_2, reason="Rétrofacturation", actor=users.agent)
    pay(case, "30.00", start_2, users.agent)

    run = remittances_build(week_of=week_of_2, actor=None)
    assert run.created == 0 and [c["total"] for c in run.carried] == [D("-70.00")]
    assert not Remittance.objects.filter(period_start=start_2).exists()
    assert held(reference.csr) == D("-70.00")  # remitted ahead of a payment that bounced

    pay(case, "90.00", start_3, users.agent)
    remittances_build(week_of=week_of_3, actor=None)
    third = Remittance.objects.get(period_start=start_3)
    assert third.total == D("20.00") and third.lines.count() == 3
    assert held(reference.csr) == D("0.00")


def test_the_ledger_follows_the_remittances(reference, users):
    week_of_1, start_1, end_1 = weeks_ago(1)
    week_of_2, start_2, end_2 = weeks_ago(0)
    csr = make_case(structure=reference.csr, principal="100.00")
    cdop = make_case(structure=reference.cdop, principal="100.00")
    bounced = pay(csr, "60.00", start_1, users.agent)
    pay(csr, "70.00", start_1, users.agent)  # 30.00 overpaid, held for the debtor
    pay(cdop, "25.00", start_1, users.agent)
    pay(cdop, "5.00", start_2, users.agent, method=PaymentMethod.DIRECT)

    held_before = held(reference.csr)
    assert held_before == D("100.00")
    remittances_build(week_of=week_of_1, actor=None)
    first = Remittance.objects.get(structure=reference.csr, period_start=start_1)
    assert held(reference.csr) == held_before - first.total == D("0.00")
    assert held(reference.cdop) == D("0.00")

    refund_record(case=csr, amount="10.00", refunded_on=start_2, method=PaymentMethod.TRANSFER, actor=users.agent)
    payment_reverse(payment=bounced, reversed_on=start_2, reason="Chèque impayé", actor=users.agent)
    pay(csr, "80.00", start_2 + timedelta(days=1), users.agent)
    remittances_build(week_of=week_of_2, actor=None)

    collected, reversed_, refunded = D("60.00") + D("70.00") + D("25.00") + D("80.00"), D("60.00"), D("10.00")
    remitted = sum(r.total for r in Remittance.objects.all())
    assert bank() == collected - reversed_ - refunded - remitted
    assert held(reference.csr) == D("0.00") and held(reference.cdop) == D("0.00")
    assert bank() == ledger_balance(account=LedgerAccount.DEBTOR_REFUNDS)


def test_an_unfinished_week_is_refused(reference):
    with pytest.raises(ApplicationError, match="n'est pas terminée"):
        remittances_build(week_of=today() + timedelta(days=7), actor=None)


def test_a_dry_run_creates_nothing(reference, users):
    week_of, start, end = weeks_ago(0)
    pay(make_case(structure=reference.csr, principal="100.00"), "20.00", start, users.agent)
    run = remittances_build(week_of=week_of, actor=None, dry_run=True)
    assert run.created == 0
    assert run.remittances == [
        {"number": "", "creditor": "cpam-paris", "structure": reference.csr.code, "lines": 1, "total": "20.00"}
    ]
    assert not Remittance.objects.exists() and not LedgerEntry.objects.filter(kind="remittance").exists()


def command(*args):
    out = StringIO()
    call_command("build_remittances", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_json_shape(reference, users):
    week_of, start, end = weeks_ago(0)
    pay(make_case(structure=reference.csr, principal="1500.00"), "1234.56", start, users.agent)
    data = json.loads(command("--week-of", week_of.isoformat(), "--json"))
    assert set(data) == {"week", "remittances", "created"}
    assert data["week"] == [start.isoformat(), end.isoformat()]
    assert data["created"] == 1
    [row] = data["remittances"]
    assert set(row) == {"number", "creditor", "structure", "lines", "total"}
    assert row["number"] == Remittance.objects.get().number
    assert (row["creditor"], row["structure"], row["lines"], row["total"]) == (
        "cpam-paris",
        reference.csr.code,
        1,
        "1234.56",
    )
    again = json.loads(command("--week-of", week_of.isoformat(), "--json"))
    assert again["created"] == 0 and again["remittances"] == data["remittances"]


def test_the_command_defaults_to_the_last_complete_week_and_speaks_french(reference, users):
    _, start, end = weeks_ago(0)
    out = command("--dry-run")
    assert f"Semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y}" in out
    data = json.loads(command("--json"))
    assert data["week"] == [start.isoformat(), end.isoformat()] and data["created"] == 0


def test_the_case_statement_reads_what_was_remitted(reference, users, django_assert_max_num_queries):
    from amiable.payments.statement import remitted_lines

    week_of_1, start_1, _ = weeks_ago(1)
    week_of_2, start_2, _ = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="300.00")
    bounced = pay(case, "100.00", start_1, users.agent)
    pay(case, "40.00", start_1, users.agent)
    remittances_build(week_of=week_of_1, actor=None)
    payment_reverse(payment=bounced, reversed_on=start_2, reason="Chèque impayé", actor=users.agent)
    pay(case, "150.00", start_2, users.agent)
    remittances_build(week_of=week_of_2, actor=None)
    first, second = Remittance.objects.order_by("period_start")
    with django_assert_max_num_queries(1):
        lines = remitted_lines(case)
    assert [(line.reference, line.amount) for line in lines] == [
        (first.number, D("100.00")),
        (first.number, D("40.00")),
        (second.number, D("150.00")),
        (second.number, D("-100.00")),
    ]
    assert sum(line.amount for line in lines) == D("190.00")


def test_the_build_costs_the_same_whatever_the_number_of_payments(reference, users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n, weeks in ((1, 2), (2, 1), (12, 0)):  # the first run also creates the number sequence
        week_of, start, _ = weeks_ago(weeks)
        for _ in range(n):
            pay(make_case(structure=reference.csr, principal="100.00"), "10.00", start, users.agent)
        with CaptureQueriesContext(connection) as queries:
            remittances_build(week_of=week_of, actor=None)
        counts.append(len(queries))
    assert Remittance.objects.get(period_start=weeks_ago(0)[1]).lines.count() == 12
    assert counts[1] == counts[2]


def test_a_direct_reversal_that_takes_back_an_overpayment_is_remitted(reference, users):
    week_of, start, end = weeks_ago(0)
    case = make_case(structure=reference.csr, principal="100.00")
    direct = pay(case, "50.00", start, users.agent, method=PaymentMethod.DIRECT)
    pay(case, "70.00", start, users.agent)  # 50.00 for the claim, 20.00 overpaid, held for the debtor
    reversal = payment_reverse(payment=direct, reversed_on=start, reason="Erreur de déclaration", actor=users.agent)
    remittances_build(week_of=week_of, actor=None)
    remittance = Remittance.objects.get()
    assert remittance.total == D("70.00")
    assert RemittanceLine.objects.get(reversal=reversal).amount == D("20.00")
    assert held(reference.csr) == D("0.00") and bank() == D("0.00")


def test_items_taken_by_a_run_at_the_same_moment_skip_that_structure_only(reference, users, monkeypatch):
    from amiable.remittances.selectors import Due

    week_of_1, start_1, _ = weeks_ago(1)
    week_of_2, start_2, _ = weeks_ago(0)
    taken = pay(make_case(structure=reference.csr, principal="100.00"), "20.00", start_1, users.agent)
    remittances_build(week_of=week_of_1, actor=None)
    pay(make_case(structure=reference.cdop, principal="100.00"), "30.00", start_2, users.agent)
    real_pending = services.remittance_pending

    def pending_with_a_stale_item(*, until):
        due = real_pending(until=until)
        stale = Due(
            creditor_id=reference.cpam.pk, structure_id=reference.csr.pk, amount=D("20.00"), payment_id=taken.pk
        )
        due[(reference.cpam.pk, reference.csr.pk)] = [stale]
        return due

    monkeypatch.setattr(services, "remittance_pending", pending_with_a_stale_item)
    run = remittances_build(week_of=week_of_2, actor=None)
    assert run.created == 1
    assert list(Remittance.objects.filter(period_start=start_2).values_list("structure_id", flat=True)) == [
        reference.cdop.pk
    ]
    assert held(reference.csr) == D("0.00")


def test_the_command_refuses_a_bad_date_and_writes_nothing(reference, users):
    from django.core.management.base import CommandError

    _week_of, start, _end = weeks_ago(0)
    pay(make_case(structure=reference.csr, principal="100.00"), "10.00", start, users.agent)
    with pytest.raises(CommandError, match="Date invalide : « 2026-13-01 » \\(attendu AAAA-MM-JJ\\)"):
        call_command("build_remittances", "--week-of", "2026-13-01", stdout=StringIO())
    assert not Remittance.objects.exists() and not RemittanceLine.objects.exists()
