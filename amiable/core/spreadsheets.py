"""CSV and XLSX exports that open cleanly in a French spreadsheet and cannot carry a formula.

Every export of the project goes through here so that two rules hold everywhere:

* text that a spreadsheet would evaluate as a formula (``=``, ``+``, ``-``, ``@``, possibly after
  whitespace, or a leading tab / carriage return) is prefixed with an apostrophe — the OWASP advice
  against CSV injection. This matters for XLSX too: openpyxl itself turns any string starting with
  ``=`` into a formula cell, and spreadsheet applications re-evaluate cells that a user edits;
* CSV files are what French Excel opens with a double click: UTF-8 with a BOM, ``;`` between
  fields, a decimal comma and dd/mm/yyyy dates. XLSX cells keep real numbers and dates (amounts
  stay exact ``Decimal`` until openpyxl writes them) with French-looking formats.

Both writers stream: rows are consumed one by one from any iterable (typically a queryset's
``.iterator()``), so memory stays flat whatever the number of rows.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TypeVar

from django.utils import timezone
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "MONEY_FORMAT",
    "CsvStream",
    "XlsxStream",
    "neutralise",
    "write_csv",
    "write_xlsx",
]

T = TypeVar("T")

# Characters that make a spreadsheet evaluate a cell (OWASP "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@")
# Tab and carriage return are dangerous as a first character on their own (OWASP list).
_DANGEROUS_FIRST = ("\t", "\r")

# Number formats of the XLSX cells. Excel wants literal text in a format quoted: an unquoted "€"
# is repaired by some versions and refused by others; the space is one of the characters allowed
# bare. The separators are localised by the application: a French Excel shows "1 234,56 €".
MONEY_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"

# Column widths are estimated from the header and the first rows only, so that widths can be
# written before the rows (write-only mode) without reading the whole stream.
_WIDTH_SAMPLE_ROWS = 200
_MIN_WIDTH, _MAX_WIDTH = 8, 60
# Excel's sheet names: at most 31 characters, none of []:*?/\ .
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def neutralise(value: T) -> T:
    """Prefix with ``'`` a string that a spreadsheet would run as a formula; anything else unchanged.

    ``"=HYPERLINK(...)"``, ``"+33..."``, ``"-2"``, ``"@SUM(...)"``, ``"  =1"``, ``"\\t=1"`` all get the
    apostrophe; ``"Dupont"``, ``""`` and non-strings (numbers, dates, None) are returned as given.
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0].isalnum():  # neither whitespace, a formula's first character, a tab nor a return
        return value
    if value.startswith(_DANGEROUS_FIRST) or value.lstrip().startswith(_FORMULA_STARTS):
        return "'" + value  # type: ignore[return-value]
    return value


# --- CSV -------------------------------------------------------------------------------------------


def _csv_cell(value: object) -> str:
    """One CSV field the way French Excel reads it back: 1234,56 ; 27/11/2026 ; text neutralised."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):  # before int: bool is an int
        return "oui" if value else "non"
    if isinstance(value, Decimal):
        # "f" never switches to exponent notation (str(Decimal("1E+2")) would print "1E+2").
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, datetime):  # before date: a datetime is a date
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    return neutralise(str(value))


def write_csv(
    path_or_file: str | os.PathLike | IO[bytes] | IO[str],
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """Write ``header`` then ``rows`` as a French-Excel CSV (UTF-8 with BOM, ``;``, decimal comma,
    dd/mm/yyyy dates, every text cell neutralised); returns the number of data rows written.

    ``path_or_file`` is a path, or an open binary or text file (left open; a text file should have
    been opened with ``newline=""``).
    """
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "w", encoding="utf-8-sig", newline="") as handle:
            return _write_csv_text(handle, header, rows)
    if isinstance(path_or_file, io.TextIOBase):
        path_or_file.write("\ufeff")
        return _write_csv_text(path_or_file, header, rows)
    stream = CsvStream(path_or_file, header)
    stream.write(rows)
    return stream.close()


def _write_csv_text(handle: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        count += 1
    return count


class CsvStream:
    """`write_csv` into an open binary file, fed rows as they come (a chunk at a time) rather than pulling them
    from one iterable; the same bytes. ``column_types`` (one type or None per column) lets each cell of that
    exact type be formatted without asking its type; any other value goes through the general rule."""

    def __init__(self, handle: IO[bytes], header: Sequence[str], *, column_types: Sequence[type | None] = ()):
        self._text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="", write_through=True)
        self._writer = csv.writer(self._text, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._writer.writerow([_csv_cell(h) for h in header])
        self._formats = [_csv_format(kind) for kind in column_types]
        self.count = 0

    def write(self, rows: Iterable[Sequence[object]]) -> None:
        formats, writerow = self._formats, self._writer.writerow
        count = 0
        for row in rows:
            if formats:
                writerow([f(v) for f, v in zip(formats, row, strict=True)])
            else:
                writerow([_csv_cell(v) for v in row])
            count += 1
        self.count += count

    def close(self) -> int:
        """Flush and leave the caller's file open; the number of data rows written."""
        self._text.flush()
        self._text.detach()
        return self.count


def _csv_text(value: object) -> str:
    return neutralise(value) if value.__class__ is str else _csv_cell(value)


def _csv_int(value: object) -> str:
    return str(value) if value.__class__ is int else _csv_cell(value)


def _csv_decimal(value: object) -> str:
    return format(value, "f").replace(".", ",") if value.__class__ is Decimal else _csv_cell(value)


def _csv_date_format():
    memo: dict[date, str] = {}  # a column's dates repeat: each is formatted once

    def format_date(value: object) -> str:
        if value.__class__ is not date:
            return _csv_cell(value)
        text = memo.get(value)
        if text is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            text = memo[value] = f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
        return text

    return format_date


def _csv_format(kind: type | None):
    """The formatting `_csv_cell` gives a value of exactly the type `kind`, quicker."""
    if kind is date:
        return _csv_date_format()
    return {str: _csv_text, int: _csv_int, Decimal: _csv_decimal}.get(kind, _csv_cell)


# Values remembered per column by the writers (a bound, so that memory stays flat over unique values).
_MEMO_SIZE = 4096


# --- XLSX ------------------------------------------------------------------------------------------


def _column_indexes(columns: Iterable[int | str], header: Sequence[str]) -> frozenset[int]:
    """Columns given by 0-based index or by header text, as 0-based indexes."""
    indexes = set()
    for column in columns:
        if isinstance(column, str):
            try:
                indexes.add(list(header).index(column))
            except ValueError:
                raise ValueError(f"Colonne inconnue : {column!r}.") from None
        else:
            indexes.add(column)
    return frozenset(indexes)


def _xlsx_text(value: str) -> str:
    # openpyxl refuses control characters that XML 1.0 cannot carry; a creditor's file may hold
    # some. Show that something was there rather than fail the whole export.
    if not value.isprintable():  # printable text holds none of the control characters
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return neutralise(value)


def _display_width(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return len(format(value, ",.2f")) + 2
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0)


def write_xlsx(
    path: str | os.PathLike | IO[bytes],
    sheet_title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    money_columns: Iterable[int | str] = (),
    date_columns: Iterable[int | str] = (),
    title: str | None = None,
    totals: Sequence[object] | None = None,
    compresslevel: int | None = None,
) -> int:
    """Write a one-sheet workbook, streaming; returns the number of data rows written.

    ``money_columns`` and ``date_columns`` (0-based indexes or header texts) get the formats
    ``MONEY_FORMAT`` and ``DATE_FORMAT``; amounts must be ``Decimal`` (or int) and are written as exact
    decimal numbers, never through float. Any other date or datetime is also shown the French way.
    Aware datetimes are written in Paris time (Excel has no time zones). An optional ``title`` goes in a
    first row above the header. The header is bold, frozen and filterable; column widths are estimated
    from the header and the first rows (``compresslevel``: zlib's, as for ``XlsxStream``). An optional ``totals`` row is written in bold below the data, after
    an empty row and outside the filter's range, so that sorting or filtering the data leaves it in place.

    The sheet's XML is written straight into the zip archive: openpyxl's writer, even in write-only
    mode, costs about 0.1 ms a row, which is most of the time of a 100,000-row acknowledgement.
    Strings are inline strings, so no shared-strings table has to be kept in memory.
    """
    stream = XlsxStream(
        path,
        sheet_title,
        header,
        money_columns=money_columns,
        date_columns=date_columns,
        title=title,
        compresslevel=compresslevel,
    )
    try:
        stream.write(rows)
    except BaseException:
        stream.abort()
        raise
    return stream.close(totals=totals)


class XlsxStream:
    """`write_xlsx` fed rows as they come (a chunk at a time) rather than pulling them from one iterable; the
    same workbook. The first rows are held until there are enough of them to estimate the column widths.
    ``column_types`` (one type or None per column) lets each cell of that exact type be written without asking
    its type; any other value goes through the general rule. ``compresslevel`` is zlib's (1 to 9, 6 when None):
    1 deflates a sheet three times faster into a file a fifth larger."""

    def __init__(
        self,
        path: str | os.PathLike | IO[bytes],
        sheet_title: str,
        header: Sequence[str],
        *,
        money_columns: Iterable[int | str] = (),
        date_columns: Iterable[int | str] = (),
        title: str | None = None,
        column_types: Sequence[type | None] = (),
        compresslevel: int | None = None,
    ):
        self._path = path
        self._compresslevel = compresslevel
        self._sheet_title = sheet_title
        self._header = list(header)
        self._money = _column_indexes(money_columns, self._header)
        self._dates = _column_indexes(date_columns, self._header)
        self._title = title
        self._letters = [get_column_letter(i + 1) for i in range(max(len(self._header), 1) + 64)]
        if column_types and len(column_types) != len(self._header):
            raise ValueError("Un type par colonne de l'en-tête, ou aucun.")
        self._cells = [_xlsx_tail(index, kind, self._money, self._dates) for index, kind in enumerate(column_types)]
        self._sample: list[Sequence[object]] | None = []
        self._archive: zipfile.ZipFile | None = None
        self._raw = self._out = None
        self._number = self._header_row = 2 if title else 1
        self.count = 0

    def write(self, rows: Iterable[Sequence[object]]) -> None:
        rows = iter(rows)
        if self._sample is not None:
            self._sample.extend(itertools.islice(rows, _WIDTH_SAMPLE_ROWS - len(self._sample)))
            if len(self._sample) < _WIDTH_SAMPLE_ROWS:
                return
            self._start()
        self._write_rows(rows)

    def close(self, *, totals: Sequence[object] | None = None) -> int:
        """End the sheet and the archive (an open file given is left open); the number of data rows written."""
        if self._sample is not None:
            self._start()
        out, number, letters = self._out, self._number, self._letters
        if totals is not None:
            number += 2
            cells = "".join(
                _cell(f"{letters[index]}{number}", index, value, self._money, self._dates, bold=True)
                for index, value in enumerate(totals)
                if value is not None
            )
            out.write(f'<row r="{number}">{cells}</row>')
        out.write("</sheetData>")
        header_row, count = self._header_row, self.count
        if self._header:
            out.write(f'<autoFilter ref="A{header_row}:{letters[len(self._header) - 1]}{header_row + max(count, 1)}"/>')
        out.write(
            '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
        )
        out.flush()
        out.detach()
        self._raw.close()
        self._archive.close()
        return count

    def abort(self) -> None:
        """Close what is open after a failure (the workbook is not usable)."""
        if self._out is not None:
            self._out.detach()
        if self._raw is not None:
            self._raw.close()
        if self._archive is not None:
            self._archive.close()

    def _start(self) -> None:
        """Open the archive and write everything up to the first data row, the widths from the rows held."""
        sample, self._sample = self._sample, None
        header, money, dates, title = self._header, self._money, self._dates, self._title
        widths = []
        for index, heading in enumerate(header):
            width = max([len(heading) + 2] + [_display_width(row[index]) for row in sample if index < len(row)])
            if index in money:
                width = max(width, 14)
            elif index in dates:
                width = max(width, 11)
            widths.append(min(max(width, _MIN_WIDTH), _MAX_WIDTH) + 1)
        header_row = self._header_row
        sheet_name = _SHEET_TITLE_FORBIDDEN.sub("-", self._sheet_title)[:31] or "Feuille 1"
        archive = self._archive = zipfile.ZipFile(
            self._path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=self._compresslevel
        )
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("docProps/core.xml", _core_properties(title))
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=_xml(sheet_name)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr(
            "xl/styles.xml", _STYLES.format(money=_xml(MONEY_FORMAT), date=DATE_FORMAT, datetime=DATETIME_FORMAT)
        )
        self._raw = archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        out = self._out = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")
        out.write(_SHEET_START)
        out.write(
            f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{header_row}" topLeftCell="A{header_row + 1}" '
            'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        )
        if widths:
            out.write("<cols>")
            out.write(
                "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths))
            )
            out.write("</cols>")
        out.write("<sheetData>")
        if title:
            out.write(
                f'<row r="1"><c r="A1" s="{_S_TITLE}" t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(title))}</t></is></c></row>'
            )
        cells = "".join(
            f'<c r="{self._letters[i]}{header_row}" s="{_S_HEADER}" t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(h))}</t></is></c>'
            for i, h in enumerate(header)
        )
        out.write(f'<row r="{header_row}">{cells}</row>')
        self._write_rows(sample)

    def _write_rows(self, rows: Iterable[Sequence[object]]) -> None:
        out, letters, money, dates, typed = self._out, self._letters, self._money, self._dates, self._cells
        number, count = self._number, 0
        parts: list[str] = []
        for row in rows:
            number += 1
            count += 1
            parts.append(f'<row r="{number}">')
            if typed:
                for letter, tail, value in zip(letters, typed, row, strict=False):  # rows as long as the header
                    if value is not None:
                        parts.append(f'<c r="{letter}{number}"{tail(value)}')
            else:
                for index, value in enumerate(row):
                    if value is not None:
                        parts.append(f'<c r="{letters[index]}{number}"{_cell_tail(index, value, money, dates)}')
            parts.append("</row>")
            if len(parts) > 4096:
                out.write("".join(parts))
                parts = []
        out.write("".join(parts))
        self._number, self.count = number, self.count + count


def _xlsx_tail(index: int, kind: type | None, money: frozenset[int], dates: frozenset[int]):
    """A function value → the cell's XML after its reference, as `_cell` writes it; quicker for a value of type
    `kind`, and a text or date written once per distinct value."""

    def general(value: object) -> str:
        return _cell_tail(index, value, money, dates)

    if kind is str or kind is date:
        memo: dict[object, str] = {}

        def remembered(value: object) -> str:
            if value.__class__ is not kind:  # 1, True and 1.0 are equal keys: only one type is remembered
                return general(value)
            tail = memo.get(value)
            if tail is None:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                tail = memo[value] = general(value)
            return tail

        return remembered
    if kind is int or kind is Decimal:
        style = f' s="{_S_MONEY}"' if index in money else ""

        def number(value: object) -> str:
            if value.__class__ is int:
                return f"{style}><v>{value!r}</v></c>"
            if value.__class__ is Decimal:
                return f"{style}><v>{format(value, 'f')}</v></c>"
            return general(value)

        return number
    return general


_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001  (serial dates are wall-clock, without zone)
_S_HEADER, _S_MONEY, _S_DATE, _S_DATETIME, _S_TITLE, _S_BOLD, _S_BOLD_MONEY = 1, 2, 3, 4, 5, 6, 7


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _cell(
    ref: str, index: int, value: object, money: frozenset[int], dates: frozenset[int], *, bold: bool = False
) -> str:
    return f'<c r="{ref}"{_cell_tail(index, value, money, dates, bold=bold)}'


def _cell_tail(index: int, value: object, money: frozenset[int], dates: frozenset[int], *, bold: bool = False) -> str:
    """A cell's XML after its reference (`<c r="A1"`)."""
    if isinstance(value, str):
        style = f' s="{_S_BOLD}"' if bold else ""
        return f'{style} t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(value))}</t></is></c>'
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, float) and index in money:
        raise TypeError("Montant en nombre flottant refusé : utilisez Decimal.")
    if isinstance(value, Decimal | int | float):
        styles = {(True, False): _S_MONEY, (True, True): _S_BOLD_MONEY, (False, True): _S_BOLD}
        code = styles.get((index in money, bold))
        style = f' s="{code}"' if code else ""
        number = format(value, "f") if isinstance(value, Decimal) else repr(value)
        return f"{style}><v>{number}</v></c>"
    if isinstance(value, datetime):
        if timezone.is_aware(value):  # Excel has no time zones: Paris wall-clock time
            value = timezone.localtime(value).replace(tzinfo=None)
        delta = value - _EXCEL_EPOCH
        serial = delta.days + delta.seconds / 86400
        style = _S_DATE if index in dates else _S_DATETIME
        return f' s="{style}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f' s="{_S_DATE}"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>'
    return f' t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(str(value)))}</t></is></c>'


def _core_properties(title: str | None) -> str:
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    title_xml = f"<dc:title>{_xml(title)}</dc:title>" if title else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{title_xml}<dc:creator>Amiable</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created></cp:coreProperties>'
    )


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Styles: 0 default, 1 header (bold, shaded, bottom border, wrapped), 2 money, 3 date, 4 date-time, 5 title,
# 6 bold and 7 bold money (a totals row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="{money}"/><numFmt numFmtId="165" formatCode="{date}"/>'
    '<numFmt numFmtId="166" formatCode="{datetime}"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="13"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFE8ECF2"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left/><right/><top/><bottom style="thin"><color rgb="FF555555"/></bottom><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="8"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/></sheetPr>'
)
