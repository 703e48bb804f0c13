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
import functools
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
    text = io.TextIOWrapper(path_or_file, encoding="utf-8-sig", newline="", write_through=True)
    try:
        return _write_csv_text(text, header, rows)
    finally:
        text.flush()
        text.detach()  # leave the caller's binary file open


def _write_csv_text(handle: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        count += 1
    return count


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
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))


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
) -> int:
    """Write a one-sheet workbook, streaming; returns the number of data rows written.

    ``money_columns`` and ``date_columns`` (0-based indexes or header texts) get the formats
    ``MONEY_FORMAT`` and ``DATE_FORMAT``; amounts must be ``Decimal`` (or int) and are written as exact
    decimal numbers, never through float. Any other date or datetime is also shown the French way.
    Aware datetimes are written in Paris time (Excel has no time zones). An optional ``title`` goes in a
    first row above the header. The header is bold, frozen and filterable; column widths are estimated
    from the header and the first rows. An optional ``totals`` row is written in bold below the data, after
    an empty row and outside the filter's range, so that sorting or filtering the data leaves it in place.

    The sheet's XML is written straight into the zip archive: openpyxl's writer, even in write-only
    mode, costs about 0.1 ms a row, which is most of the time of a 100,000-row acknowledgement.
    Strings are inline strings, so no shared-strings table has to be kept in memory.
    """
    header = list(header)
    money = _column_indexes(money_columns, header)
    dates = _column_indexes(date_columns, header)
    rows = iter(rows)
    sample = list(itertools.islice(rows, _WIDTH_SAMPLE_ROWS))
    letters = [get_column_letter(i + 1) for i in range(max(len(header), 1) + 64)]

    widths = []
    for index, heading in enumerate(header):
        width = max([len(heading) + 2] + [_display_width(row[index]) for row in sample if index < len(row)])
        if index in money:
            width = max(width, 14)
        elif index in dates:
            width = max(width, 11)
        widths.append(min(max(width, _MIN_WIDTH), _MAX_WIDTH) + 1)
    header_row = 2 if title else 1
    sheet_name = _SHEET_TITLE_FORBIDDEN.sub("-", sheet_title)[:31] or "Feuille 1"

    count = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("docProps/core.xml", _core_properties(title))
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=_xml(sheet_name)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr(
            "xl/styles.xml", _STYLES.format(money=_xml(MONEY_FORMAT), date=DATE_FORMAT, datetime=DATETIME_FORMAT)
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out.write(_SHEET_START)
            out.write(
                f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{header_row}" topLeftCell="A{header_row + 1}" '
                'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            )
            if widths:
                out.write("<cols>")
                out.write(
                    "".join(
                        f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths)
                    )
                )
                out.write("</cols>")
            out.write("<sheetData>")
            if title:
                out.write(
                    f'<row r="1"><c r="A1" s="{_S_TITLE}" t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(title))}</t></is></c></row>'
                )
            cells = "".join(
                f'<c r="{letters[i]}{header_row}" s="{_S_HEADER}" t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(h))}</t></is></c>'
                for i, h in enumerate(header)
            )
            out.write(f'<row r="{header_row}">{cells}</row>')
            number = header_row
            text_tail, date_tail = _text_tail, _date_tail
            for row in itertools.chain(sample, rows):
                number += 1
                parts = [f'<row r="{number}">']
                for index, value in enumerate(row):
                    # Texts and plain dates, most cells, without the call to `_cell` (same XML).
                    kind = type(value)
                    if kind is str:
                        parts.append(f'<c r="{letters[index]}{number}"' + text_tail(value, False))
                    elif kind is date:
                        parts.append(f'<c r="{letters[index]}{number}"' + date_tail(value))
                    elif value is not None:
                        parts.append(_cell(f"{letters[index]}{number}", index, value, money, dates))
                parts.append("</row>")
                out.write("".join(parts))
                count += 1
            if totals is not None:
                number += 2
                cells = "".join(
                    _cell(f"{letters[index]}{number}", index, value, money, dates, bold=True)
                    for index, value in enumerate(totals)
                    if value is not None
                )
                out.write(f'<row r="{number}">{cells}</row>')
            out.write("</sheetData>")
            if header:
                out.write(f'<autoFilter ref="A{header_row}:{letters[len(header) - 1]}{header_row + max(count, 1)}"/>')
            out.write(
                '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
            )
            out.flush()
            out.detach()
    return count


_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001  (serial dates are wall-clock, without zone)
_S_HEADER, _S_MONEY, _S_DATE, _S_DATETIME, _S_TITLE, _S_BOLD, _S_BOLD_MONEY = 1, 2, 3, 4, 5, 6, 7


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# A sheet repeats the same texts and dates on many rows (a number, a code, a civility, the days of a week):
# what follows the reference of such a cell is made once and reused. Bounded: a column of unique names only
# churns the cache.
@functools.lru_cache(maxsize=4096)
def _text_tail(value: str, bold: bool) -> str:
    style = f' s="{_S_BOLD}"' if bold else ""
    return f'{style} t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(value))}</t></is></c>'


@functools.lru_cache(maxsize=1024)
def _date_tail(value: date) -> str:
    return f' s="{_S_DATE}"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>'


def _cell(
    ref: str, index: int, value: object, money: frozenset[int], dates: frozenset[int], *, bold: bool = False
) -> str:
    if type(value) is str:
        return f'<c r="{ref}"' + _text_tail(value, bold)
    if isinstance(value, str):
        style = f' s="{_S_BOLD}"' if bold else ""
        return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(value))}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, float) and index in money:
        raise TypeError("Montant en nombre flottant refusé : utilisez Decimal.")
    if isinstance(value, Decimal | int | float):
        styles = {(True, False): _S_MONEY, (True, True): _S_BOLD_MONEY, (False, True): _S_BOLD}
        code = styles.get((index in money, bold))
        style = f' s="{code}"' if code else ""
        number = format(value, "f") if isinstance(value, Decimal) else repr(value)
        return f'<c r="{ref}"{style}><v>{number}</v></c>'
    if isinstance(value, datetime):
        if timezone.is_aware(value):  # Excel has no time zones: Paris wall-clock time
            value = timezone.localtime(value).replace(tzinfo=None)
        delta = value - _EXCEL_EPOCH
        serial = delta.days + delta.seconds / 86400
        style = _S_DATE if index in dates else _S_DATETIME
        return f'<c r="{ref}" s="{style}"><v>{serial!r}</v></c>'
    if type(value) is date:
        return f'<c r="{ref}"' + _date_tail(value)
    if isinstance(value, date):
        return f'<c r="{ref}" s="{_S_DATE}"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_xml(_xlsx_text(str(value)))}</t></is></c>'


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
