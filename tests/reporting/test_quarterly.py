"""The quarterly workbook (C41): its figures match the example computed by hand in quarterly_data.py, cell by
cell, per structure and in total; its charts are native Excel charts; it is stored once per quarter with its
hash, built again on demand, audited; and it costs the same number of queries at ten times the cases."""

import hashlib
import io
import zipfile
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action
from amiable.core.exceptions import ApplicationError
from amiable.payments.services import payment_record
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.quarterly import (
    DEFINITIONS,
    last_complete_quarter,
    quarter_parse,
    quarterly_figures,
    recent_quarters,
    report_is_final,
)
from amiable.reporting.services_quarterly import quarterly_report_build
from tests.factories import make_case
from tests.reporting.quarterly_data import BUILT, QUARTER, quarter_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(reference, users):
    cases = quarter_example(reference, users)
    with time_machine.travel(BUILT, tick=False):
        report = quarterly_report_build(creditor=reference.cpam, quarter=QUARTER, actor=users.supervisor)
    with report.xlsx.open("rb") as handle:
        content = handle.read()
    return report, content, cases


def _book(content: bytes):
    return openpyxl.load_workbook(io.BytesIO(content))


def _rows(sheet, *, key_columns: int = 1) -> dict:
    """The data rows of a sheet by their first column(s) (title rows and headers included, harmless)."""
    rows = {}
    for row in sheet.iter_rows(values_only=True):
        if row and row[0] is not None:
            rows[row[:key_columns] if key_columns > 1 else row[0]] = list(row[key_columns:])
    return rows


def _numbers(values):
    """Cells as openpyxl reads them back (floats) compared with the exact figures: to four places."""
    return [None if v is None else (round(Decimal(str(v)), 4) if isinstance(v, float | int) else v) for v in values]


def _names(reference):
    return {s: f"{s.code} — {s.name}" for s in (reference.csr, reference.cdop, reference.cesa)}


def test_the_quarter_is_read_and_a_bad_one_refused():
    q = quarter_parse("2026-Q3")
    assert (q.label, q.start, q.end, q.title) == ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), "3e trimestre 2026")
    assert quarter_parse("2026-t4").end == date(2026, 12, 31)
    assert quarter_parse("2027-Q1").title == "1er trimestre 2027"
    for bad in ("2026-Q5", "2026Q3", "T3 2026", "", "1999-Q1"):
        with pytest.raises(ApplicationError, match="Trimestre invalide"):
            quarter_parse(bad)
    assert last_complete_quarter(date(2026, 10, 1)).label == "2026-Q3"
    assert last_complete_quarter(date(2027, 2, 10)).label == "2026-Q4"
    labels = [q.label for q in recent_quarters(today=date(2026, 11, 2), since=date(2026, 5, 1))]
    assert labels == ["2026-Q4", "2026-Q3", "2026-Q2"]


def test_the_summary_sheet_matches_the_hand_computed_figures(built, reference):
    report, content, _ = built
    book = _book(content)
    assert book.sheetnames[:2] == ["Lisez-moi", "Synthèse"]
    rows = _rows(book["Synthèse"])
    names = _names(reference)
    # received (quarter: count, amount), recovered (quarter), in full (quarter), received (cumulated: count,
    # amount), recovered, remaining, in full, rate by count, rate by amount
    assert _numbers(rows[names[reference.csr]]) == _numbers(
        [2, 280, 110, 1, 3, 380, 150, 230, 1, Decimal("0.3333"), Decimal("0.3947")]
    )
    assert _numbers(rows[names[reference.cdop]]) == _numbers(
        [2, 350, 300, 1, 2, 350, 300, 50, 1, Decimal("0.5"), Decimal("0.8571")]
    )
    assert _numbers(rows[names[reference.cesa]]) == _numbers([0, 0, 0, 0, 1, 40, 0, 40, 0, 0, 0])
    assert _numbers(rows["Total"]) == _numbers(
        [4, 630, 410, 2, 6, 770, 450, 320, 2, Decimal("0.3333"), Decimal("0.5844")]
    )
    assert "Autre créancier" not in str(rows)  # the other creditor's case never shows
    assert report.summary == {
        "received_quarter": 4,
        "received_amount_quarter": "630.00",
        "recovered_quarter": "410.00",
        "received": 6,
        "received_amount": "770.00",
        "recovered": "450.00",
        "remaining": "320.00",
        "recovered_in_full": 2,
        "rate_by_count": "33.3",
        "rate_by_amount": "58.4",
    }
    # Amounts are formatted as euros, rates as percentages.
    sheet = book["Synthèse"]
    total_row = next(r for r in sheet.iter_rows() if r[0].value == "Total")
    assert total_row[2].number_format == '#,##0.00 "€"'
    assert total_row[11].number_format == "0.0 %"


def test_recovered_per_month_and_cohorts(built, reference):
    _, content, _ = built
    book = _book(content)
    names = _names(reference)
    months = book["Recouvré par mois"]
    header = next(r for r in months.iter_rows(values_only=True) if r[0] == "Mois")
    assert list(header) == ["Mois", "Total", *(names[s] for s in (reference.cdop, reference.cesa, reference.csr))]
    by_month = {r[0].date(): _numbers(r[1:]) for r in months.iter_rows(min_row=5, values_only=True) if r[0]}
    assert list(by_month)[0] == date(2025, 10, 1) and list(by_month)[-1] == date(2026, 9, 1)  # twelve months
    assert len(by_month) == 12
    # total, CDOP, CESA, CSR; E's 20.00 paid and reversed in September nets to nothing
    assert by_month[date(2026, 6, 1)] == _numbers([40, 0, 0, 40])
    assert by_month[date(2026, 7, 1)] == _numbers([60, 0, 0, 60])
    assert by_month[date(2026, 8, 1)] == _numbers([50, 0, 0, 50])
    assert by_month[date(2026, 9, 1)] == _numbers([300, 300, 0, 0])
    assert by_month[date(2026, 5, 1)] == _numbers([0, 0, 0, 0])

    cohorts = {}
    for row in book["Cohortes"].iter_rows(values_only=True):
        if row[0] and row[0] != "Structure" and hasattr(row[1], "year"):
            cohorts[(row[0], row[1].date())] = _numbers([v for v in row[2:] if v is not None])
    # cases, claimed, then the share recovered by the end of M+0, M+1…, up to September
    assert cohorts[("Total", date(2026, 1, 1))] == _numbers([1, 40] + [0] * 9)
    assert cohorts[("Total", date(2026, 5, 1))] == _numbers([1, 100, 0, Decimal("0.4"), 1, 1, 1])
    assert cohorts[("Total", date(2026, 7, 1))] == _numbers([2, 500, 0, Decimal("0.1"), Decimal("0.7")])
    assert cohorts[("Total", date(2026, 8, 1))] == _numbers([1, 80, 0, 0])
    assert cohorts[("Total", date(2026, 9, 1))] == _numbers([1, 50, 0])
    assert cohorts[(names[reference.csr], date(2026, 7, 1))] == _numbers([1, 200, 0, Decimal("0.25"), Decimal("0.25")])
    assert cohorts[(names[reference.cdop], date(2026, 7, 1))] == _numbers([1, 300, 0, 0, 1])
    assert cohorts[(names[reference.cesa], date(2026, 1, 1))] == _numbers([1, 40] + [0] * 9)
    assert len(cohorts) == 5 + 3 + 2 + 1


def test_statuses_plans_and_certificates(built, reference):
    _, content, _ = built
    book = _book(content)
    names = _names(reference)
    statuses = _rows(book["Statuts"])
    # total, CDOP, CESA, CSR (status at the build: A and D « Soldé », B on its plan, C and F irrecoverable)
    assert statuses["Nouveau"] == [1, 1, 0, 0]
    assert statuses["Plan d'apurement"] == [1, 0, 0, 1]
    assert statuses["Soldé"] == [2, 1, 0, 1]
    assert statuses["Irrécouvrable"] == [2, 0, 1, 1]
    assert statuses["En cours"] == [0, 0, 0, 0]

    plans = _rows(book["Plans"])
    # granted, honoured, broken in the quarter; granted, honoured, broken cumulated; running now
    assert plans[names[reference.csr]] == [1, 0, 1, 2, 0, 1, 1]
    assert plans[names[reference.cdop]] == [2, 1, 0, 2, 1, 0, 0]  # E's plan broke after the quarter
    assert plans[names[reference.cesa]] == [0, 0, 0, 0, 0, 0, 0]
    assert plans["Total"] == [3, 1, 1, 4, 1, 1, 1]

    certificates = _rows(book["Certificats"], key_columns=2)
    assert certificates[(names[reference.csr], "Débiteur introuvable")] == [1, 1]
    assert certificates[(names[reference.cesa], "Décès du débiteur")] == [0, 1]
    assert certificates[(names[reference.cesa], "Insolvabilité du débiteur")] == [0, 0]  # revoked
    assert certificates[("Total", "Débiteur introuvable")] == [1, 1]
    assert certificates[("Total", "Décès du débiteur")] == [0, 1]
    assert certificates[("Total", "Tous motifs")] == [1, 2]
    assert certificates[(names[reference.cdop], "Tous motifs")] == [0, 0]


def test_delays_actions_and_clocks(built, reference):
    _, content, _ = built
    book = _book(content)
    names = _names(reference)
    delays = _rows(book["Délais"])
    # first payment: (count, median, mean) in the quarter, then cumulated; full recovery: the same
    assert _numbers(delays[names[reference.csr]]) == _numbers([1, 36, 36, 2, 36, 36, 1, 71, 71, 1, 71, 71])
    assert _numbers(delays[names[reference.cdop]]) == _numbers([1, 57, 57, 1, 57, 57, 1, 57, 57, 1, 57, 57])
    assert _numbers(delays[names[reference.cesa]]) == [0, None, None] * 4
    assert _numbers(delays["Total"]) == _numbers([2, Decimal("46.5"), Decimal("46.5"), 3, 36, 43, 2, 64, 64, 2, 64, 64])

    actions = _rows(book["Actions"], key_columns=2)
    # actions, cases reached, cases paid within 30 days, yield
    assert _numbers(actions[(names[reference.csr], "Courrier")]) == _numbers([2, 2, 0, 0])
    assert _numbers(actions[(names[reference.csr], "E-mail")]) == _numbers([3, 2, 2, 1])
    assert _numbers(actions[(names[reference.cdop], "SMS")]) == _numbers([1, 1, 1, 1])
    assert _numbers(actions[(names[reference.cdop], "Appel")]) == _numbers([1, 1, 0, 0])  # June's call left out
    assert _numbers(actions[(names[reference.cesa], "Appel")]) == [0, 0, 0, None]
    assert _numbers(actions[("Total", "E-mail")]) == _numbers([3, 2, 2, 1])
    assert _numbers(actions[("Total", "Courrier")]) == _numbers([2, 2, 0, 0])

    clocks = _rows(book["Échéances"], key_columns=2)
    csr, cdop, cesa = (names[s] for s in (reference.csr, reference.cdop, reference.cesa))
    # met, missed, late at the build, share met = met ÷ (met + missed + late)
    certificate = "Certificat d'irrécouvrabilité"
    assert _numbers(clocks[(certificate, csr)]) == _numbers([0, 1, 1, 0])  # C closed after its due date, B open
    assert _numbers(clocks[(certificate, cdop)]) == _numbers([1, 0, 0, 1])  # D paid in full before it
    assert _numbers(clocks[(certificate, cesa)]) == _numbers([1, 0, 0, 1])  # F's closure before it (not the revoked)
    assert _numbers(clocks[(certificate, "Total")]) == _numbers([2, 1, 1, Decimal("0.5")])  # A's due in October
    question = "Question du créancier"
    assert _numbers(clocks[(question, csr)]) == _numbers([1, 0, 1, Decimal("0.5")])  # answered in time; still open
    assert _numbers(clocks[(question, cdop)]) == [0, 0, 0, None]
    assert _numbers(clocks[(question, "Total")]) == _numbers([1, 0, 1, Decimal("0.5")])  # cancelled, October's out
    assert _numbers(clocks[("Décompte financier", csr)]) == _numbers([0, 1, 0, 0])  # answered a day late
    assert _numbers(clocks[("Décompte financier", "Total")]) == _numbers([0, 1, 0, 0])
    assert _numbers(clocks[("Réunion demandée", "Sans dossier")]) == _numbers([1, 0, 0, 1])  # held the day before
    assert _numbers(clocks[("Réunion demandée", "Total")]) == _numbers([1, 0, 0, 1])
    # The money of the weeks of 20/07, 10/08 and 31/08 is in no remittance: three weeks late (the remittances
    # stored by hand cover no payment); E's reversed payment held nothing.
    assert _numbers(clocks[("Reversement de la semaine", "Total")]) == _numbers([0, 0, 3, 0])
    # CSR's commissions from June (A's 40.00) not invoiced by 31/07; CDOP's September is due in October.
    assert _numbers(clocks[("Factures du mois", "Total")]) == _numbers([0, 0, 1, 0])
    for kind in ("Restitution des pièces", "Contestation des créances déclarées (surendettement)"):
        assert _numbers(clocks[(kind, "Total")]) == [0, 0, 0, None]
    assert ("Reversement de la semaine", csr) not in clocks  # the creditor's clocks: a total only


def test_the_first_sheet_explains_each_figure(built):
    _, content, _ = built
    readme = _book(content)["Lisez-moi"]
    explained = {row[0]: row[1] for row in readme.iter_rows(values_only=True) if row[0]}
    for name, text in DEFINITIONS:
        assert explained[name] == text
    assert explained["Produit le"] == "15/10/2026 à 09:00"


def test_the_charts_are_native_excel_charts(built):
    _, content, _ = built
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {"xl/charts/chart1.xml", "xl/charts/chart2.xml", "xl/charts/chart3.xml"} <= names
    charts = [archive.read(f"xl/charts/chart{n}.xml").decode() for n in (1, 2, 3)]
    # A bar chart of the monthly totals, a line per month of receipt, a pie of the statuses: each reads its sheet.
    assert "<barChart>" in charts[0] and "<f>'Recouvré par mois'!$B$5:$B$16</f>" in charts[0]
    assert "<lineChart>" in charts[1] and charts[1].count("<ser>") == 5
    assert "<f>'Cohortes'!$E$5:$M$5</f>" in charts[1]  # January: M+0 to M+8
    assert "<pieChart>" in charts[2] and "<f>'Statuts'!$B$5:$B$12</f>" in charts[2]
    assert 'Target="/xl/drawings/drawing1.xml"' in archive.read("xl/worksheets/_rels/sheet3.xml.rels").decode()


def test_the_workbook_is_stored_with_its_hash_audited_and_replaced_when_built_again(
    built, reference, users, django_capture_on_commit_callbacks
):
    report, content, _ = built
    assert report.xlsx_sha256 == hashlib.sha256(content).hexdigest()
    assert (report.quarter, report.period_start, report.period_end) == ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30))
    assert report.built_by == users.supervisor
    first = AuditEvent.objects.get(verb="quarterly_report.built")
    assert first.creditor_pk == reference.cpam.pk and first.actor == users.supervisor
    assert first.after["sha256"] == report.xlsx_sha256 and first.after["replaced"] is False
    assert first.after["figures"]["recovered"] == "450.00"
    old_name, storage = report.xlsx.name, report.xlsx.storage

    # Built after the quarter's end, it is final: the creditor may not replace it, the agency may.
    with time_machine.travel("2026-10-16 09:00 +02:00", tick=False):
        with pytest.raises(ApplicationError, match="3e trimestre 2026 sont définitives : produites le 15/10/2026"):
            quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
        with pytest.raises(ApplicationError, match="Seule l'agence"):
            quarterly_report_build(
                creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin, replace_final=True
            )
    report.refresh_from_db()
    assert report.built_by == users.supervisor and storage.exists(old_name)
    with time_machine.travel("2026-10-16 09:00 +02:00", tick=False), django_capture_on_commit_callbacks(execute=True):
        again = quarterly_report_build(
            creditor=reference.cpam, quarter="2026-q3", actor=users.agent, replace_final=True
        )
    assert QuarterlyReport.objects.count() == 1 and again.pk == report.pk
    assert again.built_by == users.agent
    with again.xlsx.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == again.xlsx_sha256
    assert again.xlsx_sha256 != report.xlsx_sha256  # built at another time: « Produit le » differs
    assert not storage.exists(old_name) and storage.exists(again.xlsx.name)
    second = AuditEvent.objects.filter(verb="quarterly_report.built").latest("pk")
    assert second.before == {"sha256": report.xlsx_sha256} and second.after["replaced"] is True


def test_who_may_build_and_which_quarter(reference, users):
    with time_machine.travel(BUILT, tick=False):
        for person in (users.csr_only, users.other_admin):
            with pytest.raises(ApplicationError, match="toutes les structures"):
                quarterly_report_build(creditor=reference.cpam, quarter=QUARTER, actor=person)
        with pytest.raises(ApplicationError, match="n'a pas commencé"):
            quarterly_report_build(creditor=reference.cpam, quarter="2027-Q1", actor=None)
        with pytest.raises(ApplicationError, match="Trimestre invalide"):
            quarterly_report_build(creditor=reference.cpam, quarter="2026-Q7", actor=None)
        # The quarter in progress may be built: its figures run to the day.
        report = quarterly_report_build(creditor=reference.cpam, quarter="2026-Q4", actor=users.collaborator)
    assert report.quarter == "2026-Q4" and report.built_by == users.collaborator
    assert not AuditEvent.objects.filter(verb="quarterly_report.built", actor=users.csr_only).exists()


def test_a_partial_workbook_is_replaced_a_final_one_only_by_the_agency(reference, users):
    """Built during its quarter, a workbook is partial: the creditor may build it again; built after the
    quarter's end it is final (`report_is_final`), refused to the creditor."""
    with time_machine.travel("2026-09-15 10:00 +02:00", tick=False):
        partial = quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
    assert not report_is_final(partial)
    with time_machine.travel("2026-09-30 23:00 +02:00", tick=False):  # the quarter's last day: still partial
        partial = quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
    assert not report_is_final(partial)
    with time_machine.travel("2026-10-01 00:30 +02:00", tick=False):
        final = quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
    assert final.pk == partial.pk and report_is_final(final)
    with (
        time_machine.travel("2026-10-02 10:00 +02:00", tick=False),
        pytest.raises(ApplicationError, match="définitives"),
    ):
        quarterly_report_build(creditor=reference.cpam, quarter="2026-Q3", actor=users.creditor_admin)
    assert AuditEvent.objects.filter(verb="quarterly_report.built").count() == 3


def _cases_with_everything(reference, users, count: int, start: int) -> None:
    for n in range(start, start + count):
        structure = (reference.csr, reference.cdop, reference.cesa)[n % 3]
        case = make_case(structure=structure, reference=f"QC-{n}", principal="100.00", received_on=date(2026, 7, 1))
        payment_record(
            case=case,
            amount="100.00" if n % 2 else "30.00",
            collected_on=date(2026, 8, 1 + n % 20),
            method="transfer",
            actor=users.agent,
        )
        Action.objects.create(
            case=case, channel=("letter", "email", "sms", "call")[n % 4], at=BUILT.replace(month=7), summary="x"
        )


def test_the_number_of_queries_does_not_grow_with_the_cases(reference, users):
    quarter = quarter_parse(QUARTER)
    counts = []
    with time_machine.travel(BUILT, tick=False):
        for count, start in ((3, 0), (30, 3)):
            _cases_with_everything(reference, users, count, start)
            with CaptureQueriesContext(connection) as queries:
                figures = quarterly_figures(creditor=reference.cpam, quarter=quarter)
            counts.append(len(queries))
            assert figures.money[None].received == start + count
    assert counts[0] == counts[1] <= 29, counts  # 13 of them the clocks (`clock_counts`)


def test_building_the_workbook_costs_the_same_queries_at_ten_and_a_hundred_cases(reference, users):
    """The whole build — figures, workbook, storing, audit — reads aggregates only: a hundred cases cost the
    queries of ten, so a million cost them too (`manage.py bench_quarterly` times it)."""
    counts = []
    with time_machine.travel(BUILT, tick=False):
        for count, start in ((10, 0), (90, 10)):
            _cases_with_everything(reference, users, count, start)
            with CaptureQueriesContext(connection) as queries:
                report = quarterly_report_build(
                    creditor=reference.cpam, quarter=QUARTER, actor=None, replace_final=True
                )
            counts.append(len(queries))
            assert report.summary["received"] == start + count
    assert counts[0] == counts[1], counts
