"""`seed_volume` run small: the rows it writes hold together as the application's own writes would (balances,
allocations, plans, remittances, ledger, the folded search columns), the same seed gives the same data, and
it refuses the production settings and a database that already has cases. No timing is asserted."""

import io
from collections import Counter, defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from amiable.accounts.models import Role, User
from amiable.cases.models import Case, CaseStatus, ContactPoint, Debtor, Task, TaskStatus
from amiable.cases.search import contact_search_value, debtor_search_name, search_filter
from amiable.cases.selectors import case_counters_drift, case_totals, task_agents_drift
from amiable.contact.models import CallRecord
from amiable.core.models import NumberSequence
from amiable.core.money import ZERO
from amiable.creditor_requests.models import CreditorRequest
from amiable.creditors.models import Creditor
from amiable.ledger.models import LedgerAccount
from amiable.ledger.selectors import ledger_balance
from amiable.letters.models import Letter, LetterKind
from amiable.ops import volume, volume_sql
from amiable.payments.models import Allocation, Instalment, InstalmentStatus, Payment, Plan
from amiable.remittances.models import Remittance, RemittanceLine

N = 400


def _seed(*args, cases=N):
    call_command("seed_volume", "--cases", str(cases), *args, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def seeded(db):
    _seed("--creditors", "3", "--seed", "7")


def test_the_volume_has_the_cases_people_and_work_asked_for(seeded):
    assert Case.objects.count() == N
    assert Creditor.objects.count() == 3
    statuses = Counter(Case.objects.values_list("status", flat=True))
    assert set(statuses) == set(CaseStatus)  # every status, for lists and filters to find
    assert statuses[CaseStatus.IN_PROGRESS] > statuses[CaseStatus.SUSPENDED]
    dates = sorted(Case.objects.values_list("received_on", flat=True))
    assert (dates[-1] - dates[0]).days > 2 * 365
    open_cases = Case.objects.filter(status__in=CaseStatus.OPEN)
    assert open_cases.filter(assigned_agent__isnull=True).exists()
    assert open_cases.filter(assigned_agent__isnull=False).values("assigned_agent").distinct().count() > 2
    assert Debtor.objects.count() < N  # some debtors owe several claims
    assert Letter.objects.filter(kind=LetterKind.FIRST).count() == Case.objects.exclude(status=CaseStatus.NEW).count()
    assert Letter.objects.filter(kind=LetterKind.REMINDER, first_letter__isnull=False).exists()
    assert CallRecord.objects.exists() and CreditorRequest.objects.exists()
    assert Task.objects.filter(status=TaskStatus.OPEN, case__status__in=CaseStatus.OPEN).exists()

    roles = Counter(User.objects.filter(email__endswith=f"@{volume.DOMAIN}").values_list("role", flat=True))
    assert roles[Role.AGENT] == volume.AGENT_COUNT and roles[Role.SUPERVISOR] == 1 and roles[Role.AGENCY_ADMIN] == 1
    for creditor in Creditor.objects.all():
        full, limited = (User.objects.get(email=e) for e in volume.creditor_emails(creditor.slug))
        assert full.creditor == creditor and full.allowed_structure_ids is None
        assert limited.creditor == creditor and len(limited.allowed_structure_ids) == 1
    assert User.objects.get(email=volume.agent_email(1)).check_password("Amiable-demo-2026")


def test_the_derived_search_columns_are_those_the_application_keeps(seeded):
    for debtor in Debtor.objects.all():
        assert debtor.search_name == debtor_search_name(first_name=debtor.first_name, last_name=debtor.last_name)
    points = ContactPoint.objects.all()
    assert {p.kind for p in points} == {"address", "phone", "email"}
    for point in points:
        assert point.search_value == contact_search_value(kind=point.kind, value=point.value, raw_value=point.raw_value)
    assert Debtor.objects.filter(last_name__regex=r"[éèêëàâîïôöûüç]").exists()
    # The search finds a debtor by a name typed without accents and a phone written with spaces.
    debtor = Debtor.objects.filter(last_name__regex=r"[éèê]", contact_points__kind="phone").first()
    plain = debtor.search_name
    assert Case.objects.filter(debtor=debtor).first() in search_filter(Case.objects.all(), plain)
    phone = debtor.contact_points.get(kind="phone").value
    spaced = " ".join(("0" + phone[3:])[i : i + 2] for i in range(0, 10, 2))
    assert set(Case.objects.filter(debtor=debtor)) <= set(search_filter(Case.objects.all(), spaced))


def test_the_money_holds_together(seeded):
    paid = defaultdict(lambda: ZERO)
    for case_id, amount in Payment.objects.values_list("case_id", "amount"):
        paid[case_id] += amount
    allocated = dict(Allocation.objects.values("case_id").annotate(s=Sum("amount")).values_list("case_id", "s"))
    for case in Case.objects.all():
        assert case.paid_amount == paid[case.pk] == allocated.get(case.pk, ZERO)
        assert case.balance == case.claimed_amount - case.paid_amount  # nothing overpaid
        assert case.overpaid_amount == ZERO
        if case.status == CaseStatus.PAID:
            assert case.balance == ZERO
        if case.status == CaseStatus.NEW:
            assert case.paid_amount == ZERO
    for plan in Plan.objects.all():
        instalments = list(Instalment.objects.filter(plan=plan))
        assert sum(i.amount for i in instalments) == plan.total == plan.case.claimed_amount
        assert plan.case.paid_amount == sum(i.paid_amount for i in instalments)
        assert plan.missed_count == sum(1 for i in instalments if i.status == InstalmentStatus.MISSED)
    assert Plan.objects.count() == Case.objects.filter(status=CaseStatus.PAYMENT_PLAN).count()

    # What was remitted left the client-funds account; what was not is still held for the structures.
    for remittance in Remittance.objects.all():
        lines = RemittanceLine.objects.filter(remittance=remittance)
        assert lines.aggregate(s=Sum("amount"))["s"] == remittance.total
        assert set(lines.values_list("payment__case__structure_id", flat=True)) == {remittance.structure_id}
    unremitted = Payment.objects.filter(remittance_line__isnull=True).aggregate(s=Sum("amount"))["s"] or ZERO
    # The remitted mark is what the application sets: exactly the payments in a remittance.
    assert set(Payment.objects.filter(remitted=True).values_list("pk", flat=True)) == set(
        Payment.objects.filter(remittance_line__isnull=False).values_list("pk", flat=True)
    )
    assert Remittance.objects.exists() and unremitted > ZERO
    assert ledger_balance(account=LedgerAccount.CREDITOR_FUNDS) == unremitted
    assert ledger_balance(account=LedgerAccount.BANK) == unremitted

    # Later documents are numbered after the generated ones.
    last = Letter.objects.order_by("-number").values_list("number", flat=True).first()
    year = int(last.split("-")[1])
    assert NumberSequence.objects.get(name="letter", year=year).last == int(last.split("-")[2])


def test_the_case_counters_count_what_was_written(seeded):
    """The bulk writes (COPY on PostgreSQL) go through the case table's triggers like any other write."""
    assert case_counters_drift() == []
    # The tasks written by COPY carry their case's agent too (« Ma journée » reads it).
    assert task_agents_drift() == []
    assert Task.objects.filter(agent__isnull=False).exists()
    supervisor = User.objects.get(email=volume.SUPERVISOR_EMAIL)
    assert case_totals(user=supervisor)["count"] == Case.objects.count() == N


def test_the_remittances_of_the_past_are_complete(seeded):
    """Three years of remittances made and sent long ago: the daily run finds none to make again (it used to
    lay out a PDF statement for each of them, for many minutes, in the load test)."""
    from amiable.remittances.models import Remittance
    from amiable.remittances.services import remittances_complete

    assert Remittance.objects.exists()
    assert remittances_complete() == []


def test_the_daily_invoicing_of_the_volume_refuses_no_structure(seeded):
    """Every bench creditor has the SIRET an invoice must carry: the daily run's invoicing (dry run here)
    refuses none of their structures (it used to fail the load test's daily run)."""
    from amiable.invoicing.services import invoices_build

    run = invoices_build(month=None, actor=None, dry_run=True)

    assert run.failures == []


def test_postgresql_writes_the_cases_set_based(seeded):
    """On PostgreSQL each table is one INSERT ... SELECT: as many queries for 600 cases as for 30. On SQLite the
    rows are built in Python and written by groups: more cases, more INSERTs."""
    counts = []
    for cases in (30, 600):
        with CaptureQueriesContext(connection) as queries:
            _seed("--append", cases=cases)
        counts.append(len(queries))
    assert Case.objects.count() == N + 630
    if connection.vendor == "postgresql":
        assert counts[0] == counts[1]
    else:
        assert counts[0] < counts[1]


def test_the_tables_keep_their_indexes_and_keys(db):
    """PostgreSQL drops the filled tables' indexes and foreign keys for the load and puts them back after."""
    tables = volume_sql.FILLED

    def schema():
        with connection.cursor() as cursor:
            return {
                m._meta.db_table: connection.introspection.get_constraints(cursor, m._meta.db_table) for m in tables
            }

    before = schema()
    _seed()
    assert schema() == before
    assert any(c["foreign_key"] for c in before[Case._meta.db_table].values())
    assert sum(c["index"] for c in before[Case._meta.db_table].values()) > 3


def test_the_same_seed_gives_the_same_cases(seeded):
    _seed("--creditors", "3", "--seed", "7", "--append")

    fields = ("debtor__last_name", "debtor__first_name", "status", "principal_amount", "paid_amount", "received_on")
    rows = list(Case.objects.order_by("pk").values_list(*fields, "structure__code"))
    assert len(rows) == 2 * N
    assert rows[:N] == rows[N:]
    assert Letter.objects.values("number").distinct().count() == Letter.objects.count()


def test_another_seed_gives_other_cases(seeded):
    _seed("--creditors", "3", "--seed", "8", "--append")

    names = list(Case.objects.order_by("pk").values_list("debtor__last_name", flat=True))
    assert names[:N] != names[N:]


def test_a_database_with_cases_is_refused_without_append(seeded):
    with pytest.raises(CommandError, match="--append"):
        _seed()
    assert Case.objects.count() == N


def test_production_settings_refuse_it(db, settings):
    settings.SETTINGS_MODULE = "config.settings.prod"

    with pytest.raises(CommandError, match="réglages de production"):
        _seed()
    assert not Case.objects.exists()
