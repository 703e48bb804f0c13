"""The acknowledgement's annexes written while the rows are stored (`acknowledgement.Annexes`) are the files the
batch's cases give once read back from the database (`acknowledgement.annex_files_write`, the way they were
written before): the same CSV bytes, the same sheet and the same cell values in the XLSX."""

import hashlib
import io
import tempfile
import zipfile

import openpyxl
import pytest
from pypdf import PdfReader

from amiable.intake import pipeline, services
from amiable.intake.acknowledgement import _render_pdf, _structure_totals, annex_files_write
from amiable.intake.demo import generate_batch
from amiable.intake.models import Batch, BatchSource
from amiable.intake.services import batch_import
from tests.intake.conftest import DATA

HEADER = (
    "reference_dossier;structure;civilite;nom;prenom;adresse_ligne1;adresse_ligne2;code_postal;ville;pays;"
    "telephone;email;montant_initial;solde;date_creance;nature"
)
# Rows that test the cells' rules: names longer than their column, formulas, a control character, accents,
# no claim date nor basis, a thousands separator, no initial amount, a flagged address and phone.
ODD_ROWS = [
    f"ODD-1;CSR;Mme;{'Z' * 200};{'é' * 170};1 rue A;;75011;Paris;;06 12 34 56 78;a@exemple.fr;1 234,50;1 234,50;"
    "01/02/2025;Soins",
    'ODD-2;CDOP;M.;=HYPERLINK("x");+33 1;2 rue B;;7501;Paris;;123;pas-un-mail;10;9,99;;',
    "ODD-3;CESA;;Bell\x07e;  Léa  ;;;;;;;;;15;2025-03-04;-1 reste",
    "ODD-4;csr;Madame;D'Arc;Jeanne;3 rue C;Bât. 2;97400;Saint-Denis;La Réunion;0262 12 34 56;j@exemple.re;;"
    "250,00;28/02/2025;@SUM(1)",
]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _import(creditor, content: bytes, filename: str) -> Batch:
    outcome = batch_import(
        creditor=creditor, content=content, filename=filename, source=BatchSource.COMMAND, actor=None
    )
    assert outcome.status == "accepted", outcome.error
    return Batch.objects.select_related("creditor").get(pk=outcome.batch.pk)


def _sheet(content: bytes) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [tuple(row) for row in workbook.active.iter_rows(values_only=True)]


def _parts(content: bytes) -> dict[str, bytes]:
    """The archive's parts but the properties, which carry the moment the file was written."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "docProps/core.xml"}


def _assert_annexes_as_read_back(batch: Batch) -> None:
    with batch.acknowledgement_csv.open("rb") as handle:
        streamed_csv = handle.read()
    with batch.acknowledgement_xlsx.open("rb") as handle:
        streamed_xlsx = handle.read()
    with tempfile.TemporaryFile() as csv_file, tempfile.TemporaryFile() as xlsx_file:
        annex_files_write(batch, csv_file, xlsx_file)
        csv_file.seek(0)
        xlsx_file.seek(0)
        read_csv, read_xlsx = csv_file.read(), xlsx_file.read()

    assert streamed_csv == read_csv
    assert _parts(streamed_xlsx) == _parts(read_xlsx)
    assert _sheet(streamed_xlsx) == _sheet(read_xlsx)
    assert len(_sheet(streamed_xlsx)) == 2 + batch.accepted_count  # title, header, one line per claim


@pytest.mark.parametrize("sample", ["cpam-lot-anomalies.csv", "cpam-lot-virgule.csv", "cpam-lot-excel.xlsx"])
def test_annexes_of_a_sample_batch_are_those_read_back_from_the_database(reference, media, sample):
    batch = _import(reference.cpam, (DATA / sample).read_bytes(), sample)

    _assert_annexes_as_read_back(batch)


def test_annexes_of_a_batch_written_in_several_chunks(reference, media, monkeypatch):
    """Several chunks, more rows than the XLSX writer holds to size its columns, and the rows above."""
    monkeypatch.setattr(pipeline, "CHUNK", 97)
    lines = generate_batch(260, prefix="ANNEX").decode().splitlines()
    content = "\n".join([HEADER, *ODD_ROWS, *lines[1:]]).encode() + b"\n"

    batch = _import(reference.cpam, content, "annexes.csv")

    assert batch.accepted_count > 250
    _assert_annexes_as_read_back(batch)


def _pdf_text(pdf: bytes) -> str:
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def _stored(file) -> bytes:
    with file.open("rb") as handle:
        return handle.read()


def test_the_pdf_made_before_the_transaction_is_the_one_made_from_the_stored_cases(reference, media):
    """The PDF is made from the checked rows before the import's transaction (SQLite) or inside it (PostgreSQL):
    either way it says what the stored batch and its cases say, structure by structure."""
    batch = _import(reference.cpam, (DATA / "cpam-lot-anomalies.csv").read_bytes(), "cpam-lot-anomalies.csv")
    hashes = {
        "csv": hashlib.sha256(_stored(batch.acknowledgement_csv)).hexdigest(),
        "xlsx": hashlib.sha256(_stored(batch.acknowledgement_xlsx)).hexdigest(),
    }

    from_database = _render_pdf(batch, annexes=hashes)

    assert len({row["code"] for row in _structure_totals(batch)}) > 1
    assert _pdf_text(_stored(batch.acknowledgement_pdf)) == _pdf_text(from_database)


def test_a_batch_numbered_otherwise_than_foreseen_gets_its_acknowledgement_made_again(reference, media, monkeypatch):
    """The annexes (and on SQLite the PDF) are made before the transaction with the numbers the batch will most
    likely take; had another batch been numbered meanwhile, they are made again with the numbers taken."""
    monkeypatch.setattr(services, "_numbers_foreseen", lambda year: (f"LOT-{year}-999999", f"AR-{year}-999999"))

    batch = _import(reference.cpam, (DATA / "cpam-lot-anomalies.csv").read_bytes(), "cpam-lot-anomalies.csv")

    assert batch.number != f"LOT-{batch.received_at.year}-999999"
    _assert_annexes_as_read_back(batch)  # their title bears the numbers taken
    text = _pdf_text(_stored(batch.acknowledgement_pdf))
    assert batch.number in text and batch.acknowledgement_number in text
    assert "999999" not in text
