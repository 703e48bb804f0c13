"""The files of a remittance (C21): totals to the cent per structure and week, the statement as PDF, XLSX and
CSV with one row per line and the total, the pain.001 valid against its XSD, the stored hashes, files made
once, and a cost in queries that does not grow with the lines."""

import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import xmlschema
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree
from pypdf import PdfReader

from amiable.cases.models import Debtor
from amiable.core.money import format_money
from amiable.core.sepa import xsd_path
from amiable.creditors.selectors import agency_get
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_reverse
from amiable.remittances import documents, services
from amiable.remittances.models import Remittance, RemittanceStatus
from amiable.remittances.services import remittance_complete, remittances_build
from tests.factories import make_case
from tests.remittances.helpers import (
    BIC_CSR,
    IBAN_CDOP,
    IBAN_CSR,
    bank_details,
    csv_rows,
    pay,
    pdf_text,
    read,
    sha256,
    squash,
    weeks_ago,
    xlsx_rows,
)

pytestmark = pytest.mark.django_db

D = Decimal
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def money(value) -> str:
    return squash(format_money(value))


def csv_money(value) -> str:
    return format(value, "f").replace(".", ",")


def transfer_of(remittance):
    return etree.fromstring(read(remittance.transfer_xml))


def test_each_total_is_the_weeks_net_of_its_structure_in_every_file(reference, users):
    week_of_1, start_1, end_1 = weeks_ago(1)
    week_of_2, start_2, end_2 = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, bic=BIC_CSR)
    bank_details(reference.cdop, iban=IBAN_CDOP)
    csr_a = make_case(structure=reference.csr, principal="500.00")
    csr_b = make_case(structure=reference.csr, principal="500.00")
    cdop = make_case(structure=reference.cdop, principal="500.00")
    bounced = pay(csr_a, "100.10", start_1, users.agent, method=PaymentMethod.CHEQUE)
    pay(csr_b, "33.33", end_1, users.agent)
    pay(cdop, "12.34", start_1 + timedelta(days=2), users.agent, method=PaymentMethod.CARD)
    remittances_build(week_of=week_of_1, actor=None)
    payment_reverse(payment=bounced, reversed_on=start_2, reason="Chèque impayé", actor=users.agent)
    pay(csr_a, "150.05", start_2 + timedelta(days=1), users.agent)
    pay(csr_b, "0.07", end_2, users.agent)
    pay(cdop, "40.00", start_2, users.agent)
    pay(cdop, "5.00", start_2, users.agent, method=PaymentMethod.DIRECT)  # never held by the agency
    remittances_build(week_of=week_of_2, actor=None)

    expected = {
        (reference.csr.pk, start_1): D("133.43"),
        (reference.cdop.pk, start_1): D("12.34"),
        (reference.csr.pk, start_2): D("150.05") + D("0.07") - D("100.10"),
        (reference.cdop.pk, start_2): D("40.00"),
    }
    remittances = {(r.structure_id, r.period_start): r for r in Remittance.objects.all()}
    assert set(remittances) == set(expected)
    for key, total in expected.items():
        remittance = remittances[key]
        assert remittance.total == total
        assert csv_rows(read(remittance.statement_csv))[-1][6] == csv_money(total)
        assert D(str(xlsx_rows(read(remittance.statement_xlsx))[-1][6])) == total
        assert "Total reversé" in pdf_text(read(remittance.statement_pdf))
        assert money(total) in pdf_text(read(remittance.statement_pdf))
        assert D(transfer_of(remittance).findtext(".//p:InstdAmt", namespaces=NS)) == total


def _week_with_a_reversal(reference, users):
    """CSR: week 1 remits a cheque that bounces in week 2; week 2 has two payments on the same day
    (references out of order) and a later one. Returns the week-2 remittance and its expected rows."""
    week_of_1, start_1, _ = weeks_ago(1)
    week_of_2, start_2, end_2 = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, bic=BIC_CSR, finance_email="finances-csr@cpam-paris.example")
    bounced_case = make_case(
        structure=reference.csr, reference="CSR-0300", principal="300.00", last_name="Dupont-Éloi", first_name="Anaïs"
    )
    b_case = make_case(
        structure=reference.csr, reference="CSR-0200", principal="90.00", last_name="Martin", first_name="Jean"
    )
    a_case = make_case(
        structure=reference.csr, reference="CSR-0100", principal="90.00", last_name="Nguyen", first_name="Linh"
    )
    Debtor.objects.filter(pk=b_case.debtor_id).update(civility="M")
    bounced = pay(bounced_case, "100.00", start_1, users.agent, method=PaymentMethod.CHEQUE)
    remittances_build(week_of=week_of_1, actor=None)
    payment_reverse(payment=bounced, reversed_on=start_2 + timedelta(days=2), reason="Chèque impayé", actor=users.agent)
    pay(b_case, "60.10", start_2 + timedelta(days=1), users.agent)
    pay(a_case, "45.55", start_2 + timedelta(days=1), users.agent, method=PaymentMethod.CARD)
    pay(bounced_case, "120.00", end_2, users.agent)
    remittances_build(week_of=week_of_2, actor=None)
    remittance = Remittance.objects.get(period_start=start_2)
    rows = [  # by date, then by case reference
        ("Mme", "Nguyen", "Linh", "CSR-0100", D("45.55"), start_2 + timedelta(days=1), "paiement"),
        ("M.", "Martin", "Jean", "CSR-0200", D("60.10"), start_2 + timedelta(days=1), "paiement"),
        ("Mme", "Dupont-Éloi", "Anaïs", "CSR-0300", D("-100.00"), start_2 + timedelta(days=2), "rejet"),
        ("Mme", "Dupont-Éloi", "Anaïs", "CSR-0300", D("120.00"), end_2, "paiement"),
    ]
    return remittance, rows


def test_the_statement_holds_each_line_and_the_total_in_pdf_xlsx_and_csv(reference, users):
    remittance, rows = _week_with_a_reversal(reference, users)
    total = D("125.65")
    assert remittance.total == total
    agency = agency_get()

    text = pdf_text(read(remittance.statement_pdf))
    for fact in (
        agency.name,
        reference.cpam.name,
        "CSR — Centre de Santé Réaumur",
        f"Relevé détaillé de reversement n° {remittance.number}",
        f"du lundi {remittance.period_start:%d/%m/%Y} au dimanche {remittance.period_end:%d/%m/%Y}",
        "Nombre de lignes 4",
        f"Montant reversé {money(total)}",
        f"Total reversé (4 lignes) {money(total)}",
    ):
        assert fact in text
    positions = []
    for civility, last, first, ref, amount, on, nature in rows:
        line = f"{on:%d/%m/%Y} {civility} {last} {first} {ref}{' rejet' if nature == 'rejet' else ''} {money(amount)}"
        assert line in text
        positions.append(text.index(line))
    assert positions == sorted(positions)

    table = csv_rows(read(remittance.statement_csv))
    assert table[0] == documents.HEADER
    assert table[1:-1] == [
        [remittance.number, "CSR", c, last, first, ref, csv_money(amount), f"{on:%d/%m/%Y}", nature]
        for c, last, first, ref, amount, on, nature in rows
    ]
    assert table[-1][0] == "Total" and table[-1][5] == "4 lignes" and table[-1][6] == csv_money(total)

    sheet = xlsx_rows(read(remittance.statement_xlsx))
    assert remittance.number in sheet[0][0] and agency.name in sheet[0][0] and "CSR" in sheet[0][0]
    assert list(sheet[1]) == documents.HEADER
    data = sheet[2 : 2 + len(rows)]
    assert [
        (c, last, first, ref, D(str(amount)), on.date(), nature)
        for _, _, c, last, first, ref, amount, on, nature in data
    ] == [(c or None, *rest) for c, *rest in rows]
    assert sheet[-1][0] == "Total" and D(str(sheet[-1][6])) == total


def test_the_transfer_is_valid_and_carries_the_number_the_iban_and_the_exact_amount(reference, users):
    remittance, _ = _week_with_a_reversal(reference, users)
    xml = read(remittance.transfer_xml)
    xmlschema.XMLSchema(str(xsd_path())).validate(xml.decode())
    root = etree.fromstring(xml)
    agency = agency_get()
    assert [e.text for e in root.iterfind(".//p:EndToEndId", namespaces=NS)] == [remittance.number]
    assert root.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == IBAN_CSR
    assert root.findtext(".//p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == BIC_CSR
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == agency.client_account_iban
    assert D(root.findtext(".//p:InstdAmt", namespaces=NS)) == remittance.total == D("125.65")
    assert D(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS)) == remittance.total
    assert root.findtext(".//p:GrpHdr/p:MsgId", namespaces=NS) == f"{remittance.number}-VIR"
    assert root.findtext(".//p:RmtInf/p:Ustrd", namespaces=NS) == (
        f"Reversement {remittance.number} semaine du {remittance.period_start:%d/%m/%Y} "
        f"au {remittance.period_end:%d/%m/%Y}"
    )
    assert remittance.status == RemittanceStatus.SENT and remittance.sent_at is not None


def test_each_file_is_stored_under_the_number_with_its_hash(reference, users):
    remittance, _ = _week_with_a_reversal(reference, users)
    year = remittance.number.split("-")[1]
    stem = f"remittances/{year}/{remittance.number}"
    files = {
        remittance.statement_pdf: (f"{stem}.pdf", remittance.statement_pdf_sha256),
        remittance.statement_xlsx: (f"{stem}.xlsx", remittance.statement_xlsx_sha256),
        remittance.statement_csv: (f"{stem}.csv", remittance.statement_csv_sha256),
        remittance.transfer_xml: (f"{stem}-pain001.xml", remittance.transfer_sha256),
    }
    for file, (name, digest) in files.items():
        assert file.name == name
        assert len(digest) == 64 and sha256(file) == digest
    reader = PdfReader(io.BytesIO(read(remittance.statement_pdf)))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(=\"|>)3", xmp), xmp  # PDF/A-3b, the archival format
    assert remittance.documents_at is not None


def test_files_already_stored_are_not_rebuilt(reference, users, monkeypatch):
    remittance, _ = _week_with_a_reversal(reference, users)
    before = {name: sha256(getattr(remittance, name)) for name in (*services.STATEMENT_FILES, "transfer_xml")}
    built = []
    for name in ("statement_pdf", "statement_xlsx", "statement_csv", "transfer_xml"):
        real = getattr(documents, name)
        monkeypatch.setattr(documents, name, lambda *a, _real=real, _name=name, **k: built.append(_name) or _real(*a))
    remittance.emailed_at = None  # even when the pass looks at it again, for its e-mail
    Remittance.objects.filter(pk=remittance.pk).update(emailed_at=None)
    services.remittances_complete(actor=None)
    assert built == []
    remittance.refresh_from_db()
    assert {name: sha256(getattr(remittance, name)) for name in before} == before


def test_completing_costs_the_same_queries_for_2_or_20_lines(reference, users, monkeypatch):
    week_of, start, _ = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, finance_email="finances-csr@cpam-paris.example")
    bank_details(reference.cdop, iban=IBAN_CDOP, finance_email="finances-cdop@cpam-paris.example")
    for structure, n in ((reference.csr, 2), (reference.cdop, 20)):
        for i in range(n):
            pay(make_case(structure=structure, principal="100.00"), f"{10 + i}.01", start, users.agent)
    monkeypatch.setattr(services, "remittances_complete", lambda **kwargs: [])
    remittances_build(week_of=week_of, actor=None)
    small = Remittance.objects.select_related("creditor", "structure").get(structure=reference.csr)
    large = Remittance.objects.select_related("creditor", "structure").get(structure=reference.cdop)
    assert (small.lines.count(), large.lines.count()) == (2, 20)
    counts = []
    for remittance in (small, large):
        with CaptureQueriesContext(connection) as queries:
            outcome = remittance_complete(remittance=remittance, actor=None)
        assert outcome.made == ["CSV", "XLSX", "PDF", "pain.001"] and outcome.emailed_to
        counts.append(len(queries))
    assert counts[0] == counts[1]
    for remittance in Remittance.objects.all():
        assert remittance.status == RemittanceStatus.SENT and remittance.emailed_at is not None


def test_the_statement_reads_its_lines_in_a_fixed_number_of_queries(reference, users, django_assert_num_queries):
    remittance, rows = _week_with_a_reversal(reference, users)
    remittance = Remittance.objects.select_related("creditor", "structure").get(pk=remittance.pk)
    with django_assert_num_queries(2):  # the agency, the lines with their payments, cases and debtors
        statement = documents.statement_get(remittance)
    assert [(r.last_name, r.amount, r.on) for r in statement.rows] == [(r[1], r[4], r[5]) for r in rows]
    assert isinstance(statement.rows[0].on, type(rows[0][5])) and not isinstance(statement.rows[0].on, datetime)


def test_a_week_beyond_the_pdf_limit_gives_its_totals_per_day_and_leaves_the_lines_to_the_spreadsheets(
    reference, users, monkeypatch
):
    """A PDF of tens of thousands of lines takes WeasyPrint a quarter of an hour: past `PDF_LINES_MAX` lines it
    sums the week per day, and says the XLSX and CSV (which keep every line) hold the detail."""
    remittance, rows = _week_with_a_reversal(reference, users)
    statement = documents.statement_get(
        Remittance.objects.select_related("creditor", "structure").get(pk=remittance.pk)
    )
    monkeypatch.setattr(documents, "PDF_LINES_MAX", 3)

    text = pdf_text(documents.statement_pdf(statement))

    assert "Ce reversement compte 4 lignes, plus que les 3 qu'un relevé PDF détaille" in text
    day_1, day_2, end = rows[0][5], rows[2][5], rows[3][5]
    assert f"{day_1:%d/%m/%Y} 2 {money(D('105.65'))}" in text
    assert f"{day_2:%d/%m/%Y} 1 {money(D('-100.00'))}" in text
    assert f"{end:%d/%m/%Y} 1 {money(D('120.00'))}" in text
    assert f"Total reversé (4 lignes) {money(D('125.65'))}" in text
    assert "Nguyen" not in text and "CSR-0100" not in text
    # The spreadsheets of the same statement keep one row per line.
    assert len(csv_rows(documents.statement_csv(statement))) == 1 + 4 + 1
