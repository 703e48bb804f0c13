"""`refresh_statistics`: the rollup the dashboards read equals the hand-counted figures of a small portfolio,
per structure and in total, replaces the creditor's rows on each run, and costs the same number of queries
whatever the number of cases."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.cases.models import Case, CaseStatus
from amiable.reporting.models import StatsRollup
from amiable.reporting.services_rollup import stats_refresh
from tests.factories import make_case
from tests.reporting.data import NOW, TODAY, more_cases, portfolio


def _figures(creditor, structure=None) -> dict:
    rows = StatsRollup.objects.filter(creditor=creditor, structure=structure)
    return {(r.metric, r.period, r.dimension): (r.count, r.amount) for r in rows}


@pytest.fixture
def refreshed(reference, users):
    with time_machine.travel(NOW, tick=False):
        data = portfolio(reference, users)
        call_command("refresh_statistics", "--creditor", "cpam-paris", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return data


def test_the_creditors_totals_match_the_hand_count(reference, refreshed):
    total = _figures(reference.cpam)
    assert total[("claimed", None, "")] == (4, Decimal("680.00"))
    assert total[("recovered", None, "")] == (1, Decimal("210.00"))  # A paid in full; 100 + 50 + 60
    # Cohorts by month of receipt.
    assert total[("cohort_claimed", date(2026, 10, 1), "")] == (2, Decimal("280.00"))
    assert total[("cohort_recovered", date(2026, 10, 1), "")] == (0, Decimal("50.00"))
    assert total[("cohort_claimed", date(2026, 5, 1), "")] == (1, Decimal("100.00"))
    assert total[("cohort_recovered", date(2026, 5, 1), "")] == (1, Decimal("100.00"))
    assert total[("cohort_claimed", date(2025, 9, 1), "")] == (1, Decimal("300.00"))
    # Recovered per month of the money's movement: the reversal takes back in November.
    assert total[("recovered_month", date(2026, 6, 1), "")] == (1, Decimal("100.00"))
    assert total[("recovered_month", date(2026, 10, 1), "")] == (1, Decimal("50.00"))
    assert total[("recovered_month", date(2026, 11, 1), "")] == (3, Decimal("60.00"))  # 30 + 60 − 30
    # Channels: the cases reached at least once by each.
    assert total[("channel_claimed", None, "letter")] == (2, Decimal("300.00"))
    assert total[("channel_recovered", None, "letter")] == (1, Decimal("150.00"))
    assert total[("channel_claimed", None, "call")] == (1, Decimal("200.00"))
    assert total[("channel_recovered", None, "call")] == (0, Decimal("50.00"))
    assert total[("channel_claimed", None, "email")] == (1, Decimal("300.00"))
    assert ("channel_claimed", None, "sms") not in total  # only the other creditor's case had an SMS
    # Open cases by age on 20/11/2026.
    assert total[("age_band", None, "0-3")] == (2, Decimal("230.00"))  # B 150 + D 80
    assert total[("age_band", None, "12+")] == (1, Decimal("240.00"))  # C
    assert ("age_band", None, "3-6") not in total
    assert total[("status", None, "paid")] == (1, Decimal("0.00"))


def test_each_structure_has_its_own_rows_that_sum_to_the_total(reference, refreshed):
    csr, cdop = _figures(reference.cpam, reference.csr), _figures(reference.cpam, reference.cdop)
    assert csr[("claimed", None, "")] == (2, Decimal("300.00"))
    assert csr[("recovered", None, "")] == (1, Decimal("150.00"))
    assert cdop[("claimed", None, "")] == (2, Decimal("380.00"))
    assert cdop[("recovered", None, "")] == (0, Decimal("60.00"))
    assert cdop[("age_band", None, "12+")] == (1, Decimal("240.00"))
    assert _figures(reference.cpam, reference.cesa) == {}
    total = _figures(reference.cpam)
    for key, (count, amount) in total.items():
        if key[0] == "clock":
            continue  # not a total: the creditor's own clocks (test below)
        parts = [f[key] for f in (csr, cdop) if key in f]
        assert (sum(c for c, _ in parts), sum(a for _, a in parts)) == (count, amount), key


def test_the_clocks_are_counted_per_structure_kind_month_and_state(reference, refreshed):
    """C's certificate (received 1 September 2025, still open) is late since 1 September 2026: counted on its
    structure's row; the row without a structure holds only the creditor's own clocks (remittances…)."""
    cdop, csr = _figures(reference.cpam, reference.cdop), _figures(reference.cpam, reference.csr)
    assert cdop[("clock", date(2026, 9, 1), "certificate:late")] == (1, Decimal("0.00"))
    assert [key for key in cdop if key[0] == "clock"] == [("clock", date(2026, 9, 1), "certificate:late")]
    assert not [key for key in csr if key[0] == "clock"]  # A's and B's certificates are due after the window
    own = {key: count for key, (count, _) in _figures(reference.cpam).items() if key[0] == "clock"}
    assert {dimension.split(":")[0] for _, _, dimension in own} == {"remittance", "invoice"}
    # June's money (A's payment) was never remitted nor its commission invoiced: both are late.
    assert own[("clock", date(2026, 6, 1), "remittance:late")] == 1
    assert own[("clock", date(2026, 7, 1), "invoice:late")] == 1  # June's invoices, due by 31 July


def test_a_refresh_replaces_the_creditors_rows_and_leaves_the_others(reference, refreshed, users):
    with time_machine.travel(NOW, tick=False):
        stats_refresh(creditor=reference.other, actor=None)
        other_rows = StatsRollup.objects.filter(creditor=reference.other).count()
        before = StatsRollup.objects.filter(creditor=reference.cpam).count()
        stats_refresh(creditor=reference.cpam, actor=None)
    assert StatsRollup.objects.filter(creditor=reference.cpam).count() == before
    assert StatsRollup.objects.filter(creditor=reference.other).count() == other_rows
    assert _figures(reference.other)[("claimed", None, "")] == (1, Decimal("999.00"))


def test_the_refresh_costs_the_same_queries_whatever_the_number_of_cases(reference, refreshed):
    def queries() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as captured:
            stats_refresh(creditor=reference.cpam, today=TODAY, actor=None)
        return len(captured)

    first = queries()
    more_cases(reference, 30)
    for n in range(10):  # clocks due in the window: certificates late, met and missed
        case = make_case(structure=reference.cdop, principal="10.00", received_on=date(2025, 10, 1 + n))
        if n % 3:  # ended in June (before its due date in October: met) or late October (missed)
            ended = NOW.replace(month=11 - n % 2 * 5, day=1) - timedelta(days=n)
            Case.objects.filter(pk=case.pk).update(status=CaseStatus.PAID, status_changed_at=ended)
    assert queries() == first
    assert first <= 25  # four for the figures, the others for the clocks (one per kind, and the money's)
    assert _figures(reference.cpam)[("claimed", None, "")] == (44, Decimal("1080.00"))
    cdop = _figures(reference.cpam, reference.cdop)
    october = date(2026, 10, 1)
    assert [cdop[("clock", october, f"certificate:{state}")][0] for state in ("met", "missed", "late")] == [3, 3, 4]


def test_the_command_refuses_an_unknown_creditor(db, reference):
    with pytest.raises(CommandError, match="Créancier inconnu"):
        call_command("refresh_statistics", "--creditor", "inconnu")
    assert not StatsRollup.objects.exists()


def test_the_command_refreshes_every_active_creditor(reference, refreshed, capsys):
    with time_machine.travel(NOW, tick=False):
        call_command("refresh_statistics")
    out = capsys.readouterr().out
    assert "cpam-paris" in out and "autre-creancier" in out
    assert StatsRollup.objects.filter(creditor=reference.other).exists()
