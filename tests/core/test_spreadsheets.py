"""CSV and XLSX exports: French-Excel conventions, exact amounts, real dates, no formula injection."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from amiable.core.spreadsheets import DATE_FORMAT, MONEY_FORMAT, neutralise, write_csv, write_xlsx

HEADER = ["Référence", "Nom", "Solde", "Date de la créance", "Reçu le", "Nombre"]
ROWS = [
    ["REF-1", '=HYPERLINK("http://x.example";"clic")', Decimal("1234.56"), date(2026, 1, 2), None, 3],
    ["REF-2", "Dupont", Decimal("0.10"), None, datetime(2026, 11, 27, 13, 5, tzinfo=UTC), 0],
    ["-2+3", "@SUM(A1)", Decimal("1234567890.12"), date(2025, 12, 31), None, None],
]


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+33612345678",
        "-2",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "  =1",
        "\n+1",
        "\u00a0@x",
        "\tplain",
        '=HYPERLINK("http://x.example";"clic")',
    ],
)
def test_neutralise_prefixes_formula_like_text(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Dupont", "", "Marie-Claire", "a=b", "12", "É=1", " Dupont"])
def test_neutralise_leaves_ordinary_text(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [None, 3, -2, Decimal("-1.50"), date(2026, 1, 1), True])
def test_neutralise_leaves_non_text_unchanged(value):
    assert neutralise(value) is value


def _read_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8, not Windows-1252
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_is_french_excel_and_neutralised(tmp_path):
    path = tmp_path / "export.csv"
    assert write_csv(path, HEADER, ROWS) == 3
    rows = _read_csv(path.read_bytes())
    assert rows[0] == HEADER
    assert rows[1] == ["REF-1", '\'=HYPERLINK("http://x.example";"clic")', "1234,56", "02/01/2026", "", "3"]
    # Aware datetimes are shown in Paris time.
    assert rows[2] == ["REF-2", "Dupont", "0,10", "", "27/11/2026 14:05", "0"]
    assert rows[3] == ["'-2+3", "'@SUM(A1)", "1234567890,12", "31/12/2025", "", ""]


def test_csv_to_binary_and_text_files():
    binary = io.BytesIO()
    write_csv(binary, ["A"], [["x;y"], [Decimal("1E+2")]])
    assert not binary.closed
    assert _read_csv(binary.getvalue()) == [["A"], ["x;y"], ["100"]]

    text = io.StringIO(newline="")
    write_csv(text, ["A"], [["=1"]])
    assert text.getvalue() == "\ufeffA\r\n'=1\r\n"


def test_csv_streams_a_generator(tmp_path):
    path = tmp_path / "big.csv"
    rows = ([n, Decimal(n) / 100] for n in range(5000))
    assert write_csv(path, ["N", "Montant"], rows) == 5000
    lines = _read_csv(path.read_bytes())
    assert lines[-1] == ["4999", "49,99"]


def test_xlsx_numbers_dates_and_neutralised_text(tmp_path):
    path = tmp_path / "export.xlsx"
    count = write_xlsx(
        path,
        "Dossiers",
        HEADER,
        iter(ROWS),
        money_columns=["Solde"],
        date_columns=[3],
        title="Titre du classeur",
    )
    assert count == 3
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Dossiers"]
    assert sheet["A1"].value == "Titre du classeur"
    assert [c.value for c in sheet[2]] == HEADER
    assert all(c.font.b for c in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:F5"
    assert sheet.column_dimensions["B"].width > 10

    first, second, third = sheet[3], sheet[4], sheet[5]
    # The formula is stored as text with the apostrophe, not as a formula cell.
    assert first[1].value == '\'=HYPERLINK("http://x.example";"clic")'
    assert first[1].data_type == "s"
    assert third[0].value == "'-2+3" and third[1].value == "'@SUM(A1)"
    # Amounts are numbers equal to the Decimals, with the euro format.
    for row, expected in ((first, "1234.56"), (second, "0.10"), (third, "1234567890.12")):
        assert isinstance(row[2].value, int | float)
        assert Decimal(str(row[2].value)) == Decimal(expected)
        assert row[2].number_format == MONEY_FORMAT
    # Dates are real dates with the French format; an aware datetime is written in Paris time.
    # (openpyxl reads dates back as naive datetimes.)
    assert isinstance(first[3].value, datetime) and first[3].value.date() == date(2026, 1, 2)
    assert first[3].number_format == DATE_FORMAT
    assert second[4].value.timetuple()[:6] == (2026, 11, 27, 14, 5, 0)
    assert first[5].value == 3


def test_xlsx_without_title_and_awkward_text(tmp_path):
    path = tmp_path / "export.xlsx"
    write_xlsx(path, "Feuille: [1]/2", ["A", "B"], [["#N/A", "bell\x07"], ["ok", None]])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    assert sheet.title == "Feuille- -1--2"
    assert sheet.freeze_panes == "A2"
    assert sheet["A2"].value == "#N/A" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == "bell\ufffd"  # a control character XML cannot carry
    assert sheet.max_row == 3


def test_xlsx_refuses_float_amounts(tmp_path):
    with pytest.raises(TypeError, match="flottant"):
        write_xlsx(tmp_path / "x.xlsx", "S", ["Montant"], [[1.5]], money_columns=[0])


def test_xlsx_unknown_column_name(tmp_path):
    with pytest.raises(ValueError, match="Colonne inconnue"):
        write_xlsx(tmp_path / "x.xlsx", "S", ["Montant"], [], money_columns=["Solde"])


def test_xlsx_totals_row_is_bold_below_the_data_and_outside_the_filter(tmp_path):
    path = tmp_path / "export.xlsx"
    totals = ["Total", None, Decimal("1234567891.78"), None, None, 3]

    count = write_xlsx(path, "Dossiers", HEADER, iter(ROWS), money_columns=["Solde"], title="T", totals=totals)

    assert count == 3  # data rows only
    sheet = openpyxl.load_workbook(path)["Dossiers"]
    assert sheet.auto_filter.ref == "A2:F5"
    assert [c.value for c in sheet[6]] == [None] * 6  # an empty row between the data and the totals
    row = sheet[7]
    assert Decimal(str(row[2].value)) == Decimal("1234567891.78")
    assert row[0].value == "Total" and row[0].font.b
    assert row[2].font.b and row[2].number_format == MONEY_FORMAT
    assert row[5].value == 3 and row[5].font.b and row[5].number_format == "General"
    assert sheet.max_row == 7


def test_xlsx_totals_text_is_neutralised_too(tmp_path):
    path = tmp_path / "export.xlsx"
    write_xlsx(path, "S", ["A"], [["x"]], totals=["=1+1"])
    sheet = openpyxl.load_workbook(path)["S"]
    assert sheet["A3"].value is None  # header, one data row, the empty row, then the totals
    assert sheet["A4"].value == "'=1+1" and sheet["A4"].data_type == "s"
