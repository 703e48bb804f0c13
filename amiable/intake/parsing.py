"""Reading a batch file (CSV or XLSX) into rows keyed by our field names, streaming, whatever the
header wording, delimiter or encoding the creditor's software used."""

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


# --- CSV -------------------------------------------------------------------------------------------


def _decode(content: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) when the bytes are valid UTF-8, else Windows-1252, the encoding of
    French office software; a BOM followed by Windows-1252 bytes is read as Windows-1252."""
    body, name = (content[3:], "utf-8-sig") if content.startswith(b"\xef\xbb\xbf") else (content, "utf-8")
    try:
        return body.decode("utf-8"), name
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace"), "windows-1252"


def _detect_delimiter(text: str, index: dict[str, str]) -> str:
    """The delimiter under which one of the first lines names the most of our columns (the header); on a
    tie, the one that splits the header into the most fields."""
    head = text[:20000]
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


def _csv_rows(text: str, delimiter: str):
    def open_rows():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        start = 1
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1

    return open_rows


def _looks_binary(content: bytes) -> bool:
    sample = content[:4096]
    return b"\x00" in sample or sample.startswith((b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff"))


# --- XLSX ------------------------------------------------------------------------------------------


def _xlsx_rows(content: bytes):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken archive
        raise ApplicationError(f"Le classeur XLSX est illisible ({exc.__class__.__name__}).") from exc
    if not workbook.worksheets:
        raise ApplicationError("Le classeur XLSX ne contient aucune feuille.")

    def open_rows():
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)

    return open_rows


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
        text, encoding = _decode(content)
        delimiter = _detect_delimiter(text, _synonym_index(extra_headers))
        open_rows = _csv_rows(text, delimiter)
        file_format = "csv"
    first_rows = []
    for _number, cells in open_rows():
        first_rows.append(cells)
        if len(first_rows) >= HEADER_SEARCH_ROWS:
            break
    layout = find_layout(first_rows, extra_headers=extra_headers, structure_given=structure_given)
    return ParsedFile(file_format=file_format, encoding=encoding, layout=layout, rows=RowSource(open_rows, layout))
