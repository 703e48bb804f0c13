"""The acknowledgement of receipt of a batch: PDF (the mandate), CSV and XLSX annexes."""

import csv
import hashlib
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.creditors.models import ContractTerms, Creditor
from amiable.intake.acknowledgement import ANNEX_HEADER, REJECTED_ROWS_IN_PDF, acknowledgement_build
from amiable.intake.models import Batch, BatchCase, BatchSource
from tests.factories import make_case

FORMULA = '=HYPERLINK("http://evil.example";"clic")'


def _rejected(line: int) -> dict:
    return {
        "line": line,
        "file_line": line + 1,
        "reference": f"REJ-{line:05d}",
        "errors": [{"column": "Solde", "value": "0", "reason": "zero_balance", "message": "solde nul"}],
    }


def _batch(reference, *, rejected_rows=None, creditor=None) -> Batch:
    rejected_rows = rejected_rows if rejected_rows is not None else [_rejected(2)]
    return Batch.objects.create(
        number="LOT-2026-000001",
        creditor=creditor or reference.cpam,
        source=BatchSource.CREDITOR_UPLOAD,
        received_at=datetime(2026, 11, 27, 13, 4, tzinfo=UTC),
        filename="lot-novembre.csv",
        sha256="ab" * 32,
        size=2048,
        file_format="csv",
        encoding="utf-8",
        acknowledgement_number="AR-2026-000001",
        acknowledged_at=datetime(2026, 11, 27, 13, 5, tzinfo=UTC),  # 14:05 in Paris
        row_count=2 + len(rejected_rows),
        accepted_count=2,
        rejected_count=len(rejected_rows),
        accepted_total=Decimal("1375.60"),
        rejected_rows=rejected_rows,
        unknown_columns=["Commentaire interne"],
    )


def _cases(reference, batch: Batch) -> tuple[Case, Case]:
    csr = make_case(
        structure=reference.csr,
        reference="CSR-0001",
        principal="1234.50",
        first_name=FORMULA,
        claim_date=date(2026, 3, 14),
        basis="Soins dentaires",
    )
    csr.certificate_due_on = date(2027, 11, 27)
    csr.save(update_fields=["certificate_due_on"])
    cdop = make_case(structure=reference.cdop, reference="CDOP-0002", principal="141.10", last_name="Martin")
    BatchCase.objects.create(batch=batch, case=csr, line=1, flags=["formula_injection", "invalid_phone"])
    BatchCase.objects.create(batch=batch, case=cdop, line=3, flags=[])
    return Case.objects.get(pk=csr.pk), Case.objects.get(pk=cdop.pk)


def _pdf_text(batch: Batch) -> str:
    with batch.acknowledgement_pdf.open("rb") as handle:
        raw = handle.read()
    assert raw.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)
    # Amounts use narrow / no-break spaces; lines may wrap anywhere: compare on single spaces.
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_acknowledgement_files(reference, media):
    batch = _batch(reference)
    csr, cdop = _cases(reference, batch)

    acknowledgement_build(batch=batch)

    batch.refresh_from_db()
    assert batch.acknowledgement_pdf.name == "intake/2026/AR-2026-000001.pdf"
    assert batch.acknowledgement_csv.name == "intake/2026/AR-2026-000001.csv"
    assert batch.acknowledgement_xlsx.name == "intake/2026/AR-2026-000001.xlsx"

    text = _pdf_text(batch)
    for expected in (
        "Accusé de réception de créances",
        "Amiable Recouvrement SAS",
        "SIRET 55208131766522",
        "Caisse Primaire d'Assurance Maladie de Paris",
        "AR-2026-000001",
        "émis le 27/11/2026 à 14:05",
        "LOT-2026-000001",
        "27/11/2026 à 14:04",
        "lot-novembre.csv",
        "ab" * 32,
        "Dépôt par le créancier",
        "Fichier non chiffré",
        "Non signé",
        "Commentaire interne",
        "Garantie financière",  # the agency's legal mentions, in the footer
    ):
        assert expected in text, expected
    # Per structure: code, name, count and French total; then the grand total.
    assert f"CSR Centre de Santé Réaumur 1 {_plain(format_money(Decimal('1234.50')))}" in text
    assert f"CDOP Centre Dentaire d'Orthodontie de Paris 1 {_plain(format_money(Decimal('141.10')))}" in text
    assert "1 234,50 €" in text and "141,10 €" in text
    assert f"Total 2 {_plain(format_money(Decimal('1375.60')))}" in text
    # The rejected row: data line, file line, reference and French message.
    assert "2 3 REJ-00002" in text
    assert "solde nul" in text and "valeur reçue « 0 »" in text
    # The mandate (CCTP 1.2).
    assert "mandat de recouvrement amiable" in text
    assert "article 1.2" in text and "pouvoir spécifique" in text and "recouvrer amiablement" in text
    # The annexes are bound by their hash.
    for field in (batch.acknowledgement_csv, batch.acknowledgement_xlsx):
        with field.open("rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() in text
    # No health detail in the PDF: the nature of the claim is only in the annexes.
    assert "Soins dentaires" not in text
    # The formula is not in the PDF either (names are not printed there).
    assert "HYPERLINK" not in text

    with batch.acknowledgement_csv.open("rb") as handle:
        raw = handle.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ANNEX_HEADER
    assert len(rows) == 3
    assert rows[1] == [
        "1",
        "CSR-0001",
        "CSR",
        "Mme",
        "Dupont",
        "'" + FORMULA,
        "1234,50",
        "1234,50",
        "14/03/2026",
        "Soins dentaires",
        "02/11/2026",
        "27/11/2027",
        "formule neutralisée, téléphone invalide",
    ]
    assert rows[2][:7] == ["3", "CDOP-0002", "CDOP", "Mme", "Martin", "Marie", "141,10"]
    assert rows[2][8] == "" and rows[2][11] == "" and rows[2][12] == ""

    with batch.acknowledgement_xlsx.open("rb") as handle:
        workbook = openpyxl.load_workbook(io.BytesIO(handle.read()))
    sheet = workbook.worksheets[0]
    assert "AR-2026-000001" in sheet["A1"].value
    assert [c.value for c in sheet[2]] == ANNEX_HEADER
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert len(data) == 2
    first, second = data
    assert first[:6] == [1, "CSR-0001", "CSR", "Mme", "Dupont", "'" + FORMULA]
    assert sheet["F3"].data_type == "s"  # text, not a formula cell
    for value, case in ((first[6], csr), (second[6], cdop)):
        assert isinstance(value, int | float)
        assert Decimal(str(value)) == case.claimed_amount
    assert Decimal(str(first[7])) == csr.initial_amount
    # Real dates (openpyxl reads them back as datetimes at midnight).
    assert [first[i].date() for i in (8, 10, 11)] == [date(2026, 3, 14), date(2026, 11, 2), date(2027, 11, 27)]
    assert [sheet.cell(row=3, column=i + 1).number_format for i in (8, 10, 11)] == ["DD/MM/YYYY"] * 3
    assert first[12] == "formule neutralisée, téléphone invalide"
    assert second[8] is None


def test_rejected_rows_are_capped_in_the_pdf(reference, media):
    count = REJECTED_ROWS_IN_PDF + 7
    batch = _batch(reference, rejected_rows=[_rejected(n) for n in range(1, count + 1)])
    _cases(reference, batch)

    acknowledgement_build(batch=batch)

    batch.refresh_from_db()
    text = _pdf_text(batch)
    assert f"REJ-{REJECTED_ROWS_IN_PDF:05d}" in text
    assert f"REJ-{REJECTED_ROWS_IN_PDF + 1:05d}" not in text
    assert "… et 7 autres lignes rejetées, non reproduites ici" in text
    assert "la liste complète des lignes rejetées figure sur la page du lot LOT-2026-000001" in text


def test_batch_without_claims_taken_in_charge(reference, media):
    batch = _batch(reference)
    Batch.objects.filter(pk=batch.pk).update(row_count=1, accepted_count=0, accepted_total=Decimal("0"))
    batch.refresh_from_db()

    acknowledgement_build(batch=batch)

    batch.refresh_from_db()
    text = _pdf_text(batch)
    assert "Aucune créance de ce fichier n'a été prise en charge" in text
    assert "ne vaut mandat de recouvrement amiable pour aucune créance" in text
    with batch.acknowledgement_csv.open("rb") as handle:
        assert handle.read().decode("utf-8-sig").splitlines() == [";".join(ANNEX_HEADER)]


def test_acknowledgement_is_issued_once(reference, media):
    batch = _batch(reference)
    _cases(reference, batch)
    acknowledgement_build(batch=batch)
    names = (batch.acknowledgement_pdf.name, batch.acknowledgement_csv.name, batch.acknowledgement_xlsx.name)

    with pytest.raises(ApplicationError, match="déjà été établi"):
        acknowledgement_build(batch=batch)

    batch.refresh_from_db()
    assert (batch.acknowledgement_pdf.name, batch.acknowledgement_csv.name, batch.acknowledgement_xlsx.name) == names
    assert sorted(p.name for p in (media / "intake" / "2026").iterdir()) == [
        "AR-2026-000001.csv",
        "AR-2026-000001.pdf",
        "AR-2026-000001.xlsx",
    ]


def test_another_creditor_is_not_told_of_the_cpam_contract(reference, media):
    batch = _batch(reference, creditor=reference.other)
    BatchCase.objects.create(batch=batch, case=make_case(structure=reference.other_structure), line=1)

    acknowledgement_build(batch=batch)

    text = _pdf_text(batch)
    assert "CCTP" not in text
    assert "Conformément à la convention de recouvrement conclue entre les parties" in text
    assert "que le créancier, Autre créancier, donne ainsi pouvoir spécifique à Amiable Recouvrement SAS" in text


def test_the_mandate_cites_the_clause_of_the_creditors_own_contract(reference, media):
    ContractTerms.objects.filter(creditor=reference.other).update(
        mandate_reference="l'article 4 de la convention de recouvrement du 2 mars 2026"
    )
    batch = _batch(reference, creditor=Creditor.objects.get(pk=reference.other.pk))  # terms read afresh
    BatchCase.objects.create(batch=batch, case=make_case(structure=reference.other_structure), line=1)

    acknowledgement_build(batch=batch)

    text = _pdf_text(batch)
    assert "Conformément à l'article 4 de la convention de recouvrement du 2 mars 2026, il emporte" in text
    assert "CCTP" not in text


def test_creditor_text_is_escaped_and_nothing_is_fetched(reference, media):
    markup = '<img src="https://tracker.example/x.png"><b>REF</b>'
    batch = _batch(reference, rejected_rows=[{**_rejected(1), "reference": markup}])
    _cases(reference, batch)

    acknowledgement_build(batch=batch)

    batch.refresh_from_db()
    # Printed as text, not interpreted (compared without spaces: the long reference wraps).
    assert markup.replace(" ", "") in _pdf_text(batch).replace(" ", "")


def test_documents_fetch_only_local_static_files():
    from amiable.intake.acknowledgement import _documents_stylesheet, _LocalFilesOnly

    stylesheet = _documents_stylesheet()
    fetcher = _LocalFilesOnly(roots=(stylesheet.parent.parent,))
    for url in ("https://tracker.example/x.png", "http://127.0.0.1/", "file:///etc/passwd", "ftp://x.example/a"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    response = fetcher.fetch(stylesheet.as_uri())
    assert b"@page" in response.read()
    response.close()
