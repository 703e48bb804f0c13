"""Reading a batch file (CSV or XLSX) into rows keyed by our field names, streaming, whatever the
header wording, delimiter or encoding the creditor's software used."""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from amiable.core.exceptions import ApplicationError

# Our fields (named as the case and debtor fields they become), their French names in messages, and the
# header wordings seen in creditors' files (compared once normalised: no accents, no case, no spaces or
# punctuation). Rows are keyed by these field names, whatever the file's wording or column order.
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reference": ("référence", ("reference", "referencedossier", "refdossier", "numerodossier", "referencecreance")),
    "structure": ("structure", ("structure", "structuredesoins", "codestructure", "centre", "centredesante")),
    "civility": ("civilité", ("civilite", "titre")),
    "last_name": ("nom", ("nom", "nomdefamille", "nomusage", "nomdebiteur")),
    "first_name": ("prénom", ("prenom", "prenomdebiteur")),
    "address_line1": ("adresse", ("adresse", "adresse1", "adresseligne1", "ligneadresse1", "voie")),
    "address_line2": ("complément d'adresse", ("adresse2", "adresseligne2", "complementdadresse", "complementadresse")),
    "postal_code": ("code postal", ("codepostal", "cp")),
    "city": ("ville", ("ville", "commune", "localite")),
    "country": ("pays", ("pays",)),
    "phone": ("téléphone", ("telephone", "tel", "portable", "mobile", "numerodetelephone")),
    "email": ("e-mail", ("email", "courriel", "mail", "adresseemail", "adressemail")),
    "initial_amount": ("montant initial", ("montantinitial", "montantdorigine", "montantorigine")),
    "principal_amount": ("solde", ("solde", "soldedeladette", "soldedu", "montantdu", "restedu", "resteadu")),
    "claim_date": ("date de la créance", ("datecreance", "datedelacreance")),
    "basis": ("nature", ("nature", "naturedelacreance", "fondement", "motif")),
}
REQUIRED = ("reference", "last_name", "principal_amount", "structure")
HEADER_SEARCH_ROWS = 11  # the header may follow up to 10 title or blank rows
CSV_DELIMITERS = (";", ",", "\t")

# Bounds on what a file may hold, far above any real batch (a cell of the batch format is a name, an address
# line, an amount: tens of characters), so that a hostile or broken file is refused in bounded memory and time
# instead of being read whole (docs/operations.md, « Fichiers reçus : limites et refus »).
MAX_CELL_CHARS = 5_000  # one cell or CSV field
MAX_CSV_RECORD_CHARS = 100_000  # one CSV record (a line, or several when a quoted field spans lines)
XLSX_MAX_ENTRIES = 1_000  # files in the archive (an ordinary workbook has about ten)
XLSX_MAX_TOTAL = 1024 * 1024 * 1024  # all parts, uncompressed
XLSX_MAX_SHEET = 256 * 1024 * 1024  # one worksheet, uncompressed (100,000 rows take about 60 MB)
XLSX_MAX_SHARED_STRINGS = 48 * 1024 * 1024  # the shared strings, read whole by openpyxl
XLSX_MAX_OTHER_XML = 4 * 1024 * 1024  # any other XML part (workbook, styles, relationships…), read whole
XLSX_MAX_RATIO = 200  # uncompressed / compressed size of a part over XLSX_RATIO_FROM bytes; a zip bomb is ~1000
XLSX_RATIO_FROM = 1024 * 1024
XLSX_MAX_XML_RUN = 64 * 1024  # bytes between two "<" of an XML part: one text node or one tag
XLSX_MAX_ROW_ELEMENTS = 10_000  # XML elements in one row of the sheet (cells, values, rich-text runs)


def normalise_header(text: object) -> str:
    """« Solde de la dette (€) » -> « soldedeladette »."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", ascii_only.lower())


def column_label(column: str) -> str:
    return COLUMNS[column][0]


@dataclass
class Layout:
    """Where each of our columns sits in the file, and what was ignored."""

    header_index: int  # 0-based index of the header row among the file's rows
    positions: dict[str, int]
    unknown: list[str] = field(default_factory=list)


@dataclass
class RawRow:
    """One data row of the file, its cells keyed by field name (`COLUMNS`); a column the file lacks is absent."""

    line: int  # data rows numbered from 1 (header and title rows not counted)
    file_line: int  # line (CSV) or row (XLSX) of the file, as a spreadsheet shows it
    values: dict[str, object]


@dataclass
class ParsedFile:
    file_format: str
    encoding: str
    layout: Layout
    rows: "RowSource"


def _synonym_index(extra: dict[str, str]) -> dict[str, str]:
    index = {}
    for column, (_label, synonyms) in COLUMNS.items():
        for synonym in synonyms:
            index[synonym] = column
    for header, column in extra.items():
        index[normalise_header(header)] = column
    return index


def _match_header(cells: list[object], index: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for i, cell in enumerate(cells):
        key = normalise_header(cell)
        if not key:
            continue
        column = index.get(key)
        if column and column not in positions:
            positions[column] = i
        else:
            unknown.append(str(cell).strip())
    return positions, unknown


def find_layout(first_rows: list[list[object]], *, extra_headers: dict[str, str], structure_given: bool) -> Layout:
    """The header row is the first of the top rows that names at least two of our columns; a missing
    required column refuses the whole file."""
    index = _synonym_index(extra_headers)
    for i, cells in enumerate(first_rows[:HEADER_SEARCH_ROWS]):
        positions, unknown = _match_header(cells, index)
        if len(positions) >= 2:
            required = [c for c in REQUIRED if not (c == "structure" and structure_given)]
            missing = [c for c in required if c not in positions]
            if missing:
                names = ", ".join(f"« {column_label(c)} »" for c in missing)
                raise ApplicationError(
                    f"Colonne obligatoire absente : {names} (ligne d'en-tête {i + 1} du fichier). "
                    "Les colonnes obligatoires sont la référence, le nom, le solde et la structure."
                )
            return Layout(header_index=i, positions=positions, unknown=unknown)
    if not any(any(str(c or "").strip() for c in row) for row in first_rows):
        raise ApplicationError("Le fichier est vide : il ne contient aucune ligne.")
    raise ApplicationError(
        "Ligne d'en-tête introuvable : aucune des 11 premières lignes ne nomme les colonnes attendues "
        "(référence, nom, solde, structure…)."
    )


class RowSource:
    """Re-iterable rows of the file (the import reads them twice: references first, then the rows)."""

    def __init__(self, open_rows, layout: Layout):
        self._open_rows = open_rows
        self.layout = layout

    def __iter__(self) -> Iterator[RawRow]:
        line = 0
        positions = self.layout.positions.items()
        for index, (file_line, cells) in enumerate(self._open_rows()):
            if index <= self.layout.header_index:
                continue
            if not any(str(c).strip() for c in cells if c is not None):
                continue  # blank rows are not data rows
            line += 1
            values = {column: (cells[pos] if pos < len(cells) else None) for column, pos in positions}
            yield RawRow(line=line, file_line=file_line, values=values)


# --- CSV ---------------------------------------------------------------------------------------------

DECODE_CHUNK = 1024 * 1024


def _detect_encoding(content: bytes) -> tuple[str, int, str]:
    """(codec, bytes to skip, name recorded on the batch): UTF-8 (with or without BOM) when the bytes are valid
    UTF-8, else Windows-1252, the encoding of French office software; a BOM followed by Windows-1252 bytes is
    read as Windows-1252. Checked chunk by chunk, so that the text is never held whole (a 100 MB file could
    take 400 MB as one Python string)."""
    start, name = (3, "utf-8-sig") if content.startswith(b"\xef\xbb\xbf") else (0, "utf-8")
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for offset in range(start, len(content), DECODE_CHUNK):
            decoder.decode(view[offset : offset + DECODE_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252", start, "windows-1252"
    return "utf-8", start, name


def _text_stream(content: bytes, codec: str, skip: int) -> io.TextIOWrapper:
    """The file as text, decoded as it is read; newlines are left as written (a quoted field may hold one)."""
    raw = io.BytesIO(content)
    raw.seek(skip)
    return io.TextIOWrapper(raw, encoding=codec, errors="replace", newline="")


def _detect_delimiter(head: str, index: dict[str, str]) -> str:
    """The delimiter under which one of the first lines names the most of our columns (the header); on a
    tie, the one that splits the header into the most fields."""
    first_lines = [line for line in head.splitlines() if line.strip()][:HEADER_SEARCH_ROWS]
    best, best_score = ";", (-1, -1)
    for delimiter in CSV_DELIMITERS:
        for line in first_lines:
            cells = next(csv.reader([line], delimiter=delimiter))
            positions, _unknown = _match_header(cells, index)
            score = (len(positions), len(cells))
            if score > best_score:
                best, best_score = delimiter, score
    return best


class _BoundedLines:
    """The lines given to the CSV reader, refusing a record longer than MAX_CSV_RECORD_CHARS as it is read: the
    reader builds a whole record (all its fields) before returning it, so the bound must come first. An unclosed
    quote, which swallows the rest of the file into one field, is the usual cause."""

    def __init__(self, stream: io.TextIOWrapper):
        self._stream = stream
        self.record_chars = 0
        self.line = 0  # physical lines read

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self._stream.readline(MAX_CSV_RECORD_CHARS + 1)
        if not line:
            raise StopIteration
        self.line += 1
        self.record_chars += len(line)
        if self.record_chars > MAX_CSV_RECORD_CHARS:
            raise ApplicationError(
                f"Le fichier CSV est illisible à partir de la ligne {self.line} : un enregistrement dépasse "
                f"{_number(MAX_CSV_RECORD_CHARS)} caractères (guillemet non refermé ?)."
            )
        return line


def _csv_rows(content: bytes, codec: str, skip: int, delimiter: str):
    def open_rows():
        lines = _BoundedLines(_text_stream(content, codec, skip))
        reader = csv.reader(lines, delimiter=delimiter)
        start = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ApplicationError(
                    f"Le fichier CSV est illisible à la ligne {lines.line} : corrigez-le puis transmettez-le à nouveau."
                ) from exc
            lines.record_chars = 0
            yield start, cells
            start = lines.line + 1

    return open_rows


def _looks_binary(content: bytes) -> bool:
    sample = content[:4096]
    return b"\x00" in sample or sample.startswith((b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff"))


# --- XLSX ------------------------------------------------------------------------------------------


def _number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo"


def _xlsx_refused(reason: str) -> ApplicationError:
    return ApplicationError(f"Le classeur XLSX est refusé : {reason}. Rien n'a été enregistré.")


def _is_sheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def _part_limit(name: str) -> int | None:
    """How many uncompressed bytes a part may hold, or None for a part that is never read (images…)."""
    if _is_sheet(name):
        return XLSX_MAX_SHEET
    if name == "xl/sharedStrings.xml":
        return XLSX_MAX_SHARED_STRINGS
    if name.endswith((".xml", ".rels")):
        return XLSX_MAX_OTHER_XML
    return None


def _xlsx_inspect(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook from its central directory before anything is decompressed: too many parts, a part
    or a whole larger than the bounds, or compressed beyond any real spreadsheet's ratio (a zip bomb)."""
    entries = archive.infolist()
    if len(entries) > XLSX_MAX_ENTRIES:
        raise _xlsx_refused(f"il contient {_number(len(entries))} fichiers (au plus {_number(XLSX_MAX_ENTRIES)})")
    total = 0
    for info in entries:
        total += info.file_size
        limit = _part_limit(info.filename)
        if limit is not None and info.file_size > limit:
            raise _xlsx_refused(
                f"la partie « {info.filename[:100]} » occupe {_megabytes(info.file_size)} une fois décompressée "
                f"(au plus {_megabytes(limit)})"
            )
        if info.file_size > XLSX_RATIO_FROM and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
            raise _xlsx_refused(
                f"la partie « {info.filename[:100]} » est comprimée plus de {XLSX_MAX_RATIO} fois "
                "(bombe de décompression ?)"
            )
    if total > XLSX_MAX_TOTAL:
        raise _xlsx_refused(
            f"il occupe {_megabytes(total)} une fois décompressé (au plus {_megabytes(XLSX_MAX_TOTAL)})"
        )


class _XmlGuard(io.RawIOBase):
    """A part of the workbook as it is decompressed, counting the bytes really produced (a central directory can
    lie) and refusing a text node or a tag longer than XLSX_MAX_XML_RUN bytes and CDATA sections, so that the XML
    parser never builds a huge string. Wraps what the parser reads, so nothing is decompressed twice."""

    def __init__(self, source, *, name: str, limit: int):
        self._source = source
        self._name = name
        self._limit = limit
        self._size = 0
        self._run = 0  # bytes since the last "<"
        self._tail = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._source.read(min(len(buffer), 64 * 1024))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ApplicationError(f"Le classeur XLSX est endommagé ({self._name[:100]} illisible).") from exc
        self.check(data)
        buffer[: len(data)] = data
        return len(data)

    def check(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise _xlsx_refused(
                f"la partie « {self._name[:100]} » dépasse {_megabytes(self._limit)} une fois décompressée"
            )
        if b"<![CDATA[" in self._tail + data[:9] or b"<![CDATA[" in data:
            raise _xlsx_refused(f"la partie « {self._name[:100]} » contient une section CDATA")
        self._tail = data[-9:]
        pieces = data.split(b"<")
        longest = self._run + len(pieces[0])
        if len(pieces) > 1:
            longest = max(longest, max(map(len, pieces[1:])))
            self._run = len(pieces[-1])
        else:
            self._run = longest
        if longest > XLSX_MAX_XML_RUN:
            raise _xlsx_refused(
                f"la partie « {self._name[:100]} » contient un texte ou une balise de plus de "
                f"{_number(XLSX_MAX_XML_RUN)} octets"
            )


def _xlsx_check_parts(archive: zipfile.ZipFile) -> None:
    """Decompress every XML part that openpyxl reads whole (all but the worksheets, guarded while they are
    parsed) through `_XmlGuard`, before openpyxl opens the workbook."""
    for info in archive.infolist():
        limit = _part_limit(info.filename)
        if limit is None or _is_sheet(info.filename):
            continue
        try:
            with archive.open(info) as part:
                guard = _XmlGuard(part, name=info.filename, limit=limit)
                while guard.read(64 * 1024):
                    pass
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise ApplicationError(f"Le classeur XLSX est endommagé ({info.filename[:100]} illisible).") from exc


def _xlsx_rows(content: bytes):
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ApplicationError("Le classeur XLSX est endommagé.") from exc
    _xlsx_inspect(archive)
    _xlsx_check_parts(archive)
    try:
        reader = _workbook_reader(content)
    except ApplicationError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise ApplicationError(f"Le classeur XLSX est illisible ({exc.__class__.__name__}).") from exc
    if reader.first_sheet is None:
        raise ApplicationError("Le classeur XLSX ne contient aucune feuille.")

    def open_rows():
        yield from _sheet_rows(reader)

    return open_rows


def _workbook_reader(content: bytes):
    """openpyxl's reader of a workbook (shared strings, styles for the dates, the 1904 calendar), but parsing no
    worksheet: openpyxl's read-only sheets each parse their whole sheet when they are made (to find its
    dimension), outside `_XmlGuard` and keeping an element per row. Only the first worksheet's path is kept,
    for `_sheet_rows`."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    class FirstSheetReader(ExcelReader):
        first_sheet: str | None = None

        def read(self):
            self.read_manifest()
            self.read_strings()
            self.read_workbook()
            apply_stylesheet(self.archive, self.wb)
            for _sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.first_sheet = rel.target
                    return

    reader = FirstSheetReader(io.BytesIO(content), read_only=True, data_only=True)
    reader.read()
    return reader


def _sheet_rows(reader):
    """The rows of the first sheet, as openpyxl's own `iter_rows(values_only=True)` gives them (missing rows
    come empty), but in bounded memory: openpyxl keeps every parsed element under its parent until the end of
    the sheet, and trusts the declared dimension (a sheet "A1:XFD1048576" pads every row to 16,384 cells).
    Here each element is dropped once read, a row may hold at most XLSX_MAX_ROW_ELEMENTS elements, and the XML
    goes through `_XmlGuard`. openpyxl's parser reads the cells (types, shared strings, dates); openpyxl is
    pinned (requirements.txt), since its reader's steps and this parser are its internals."""
    from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser
    from openpyxl.xml.functions import iterparse

    name = reader.first_sheet
    workbook = reader.wb
    with reader.archive.open(name) as part:
        guard = io.BufferedReader(_XmlGuard(part, name=name, limit=XLSX_MAX_SHEET))
        parser = WorkSheetParser(
            guard,
            reader.shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        stack: list = []
        in_row = 0  # elements of the current row
        expected = 1  # the next row number, for missing rows
        try:
            for event, element in iterparse(guard, events=("start", "end")):
                if event == "start":
                    if in_row or element.tag == ROW_TAG:
                        in_row += 1
                        if in_row > XLSX_MAX_ROW_ELEMENTS:
                            raise _xlsx_refused(
                                f"une ligne de la feuille compte plus de {_number(XLSX_MAX_ROW_ELEMENTS)} éléments"
                            )
                    stack.append(element)
                    continue
                stack.pop()
                if element.tag == ROW_TAG:
                    number, cells = parser.parse_row(element)
                    in_row = 0
                    while expected < number:
                        yield expected, []
                        expected += 1
                    values: list[object] = [None] * (max((c["column"] for c in cells), default=0))
                    for cell in cells:
                        values[cell["column"] - 1] = cell["value"]
                    yield number, values
                    expected = number + 1
                if in_row == 0 and stack:
                    element.clear()
                    stack[-1].remove(element)
        except ApplicationError:
            raise
        except Exception as exc:  # a malformed sheet: XML syntax, a bad cell reference or value
            raise ApplicationError(f"Le classeur XLSX est illisible ({exc.__class__.__name__}).") from exc


def _bounded_cells(open_rows):
    """Refuse a cell longer than MAX_CELL_CHARS: far beyond any cell of a batch, it is a broken or hostile file."""

    def bounded():
        for number, cells in open_rows():
            for position, cell in enumerate(cells):
                if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                    raise ApplicationError(
                        f"Ligne {number} du fichier, colonne {position + 1} : la cellule compte "
                        f"{_number(len(cell))} caractères (au plus {_number(MAX_CELL_CHARS)}). Le fichier est "
                        "refusé : corrigez-le puis transmettez-le à nouveau."
                    )
            yield number, cells

    return bounded


# --- entry point -------------------------------------------------------------------------------------


def parse(content: bytes, *, extra_headers: dict[str, str], structure_given: bool) -> ParsedFile:
    """Recognise the format by content and locate the columns; refuse an unreadable or empty file."""
    if not content or not content.strip():
        raise ApplicationError("Le fichier est vide.")
    if content.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(io.BytesIO(content)):
            raise ApplicationError("Le classeur XLSX est endommagé.")
        open_rows = _xlsx_rows(content)
        file_format, encoding = "xlsx", ""
    elif _looks_binary(content):
        raise ApplicationError(
            "Format non reconnu : le fichier n'est ni un CSV (texte séparé par ; , ou tabulation) ni un classeur XLSX."
        )
    else:
        codec, skip, encoding = _detect_encoding(content)
        head = _text_stream(content, codec, skip).read(20000)
        delimiter = _detect_delimiter(head, _synonym_index(extra_headers))
        open_rows = _csv_rows(content, codec, skip, delimiter)
        file_format = "csv"
    open_rows = _bounded_cells(open_rows)
    first_rows = []
    for _number, cells in open_rows():
        first_rows.append(cells)
        if len(first_rows) >= HEADER_SEARCH_ROWS:
            break
    layout = find_layout(first_rows, extra_headers=extra_headers, structure_given=structure_given)
    return ParsedFile(file_format=file_format, encoding=encoding, layout=layout, rows=RowSource(open_rows, layout))
