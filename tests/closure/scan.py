"""Look for marker values in every text column of every table (raw SQL) and in every stored file."""

import io
import zipfile
from pathlib import Path

from django.apps import apps
from django.db import connection, models
from openpyxl import load_workbook
from pypdf import PdfReader

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.BinaryField)


def scan_tables(markers) -> set[tuple[str, str, str]]:
    """(table, column, marker) for each marker found in a text, JSON or binary column."""
    found = set()
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            if not model._meta.managed or model._meta.proxy:
                continue
            table = model._meta.db_table
            for field in model._meta.concrete_fields:
                if not isinstance(field, TEXT_FIELDS):
                    continue
                column = connection.ops.quote_name(field.column)
                cursor.execute(f"SELECT {column} FROM {connection.ops.quote_name(table)}")
                for (value,) in cursor.fetchall():
                    if value is None:
                        continue
                    text = bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else value
                    text = str(text).lower()
                    found.update((table, field.column, m) for m in markers if m in text)
    return found


def _text_of(name: str, data: bytes) -> str:
    lower = name.lower()
    if lower.endswith(".pdf"):
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    if lower.endswith(".xlsx"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row if cell
        )
    if lower.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(_text_of(member, archive.read(member)) for member in archive.namelist())
    return data.decode("utf-8", "replace")


def scan_files(root: Path, markers) -> set[tuple[str, str]]:
    """(file, marker) for each marker found in a file under `root` (PDF text, XLSX cells, ZIP members…)."""
    found = set()
    for path in Path(root).rglob("*"):
        if path.is_file():
            text = _text_of(path.name, path.read_bytes()).lower()
            found.update((str(path.relative_to(root)), m) for m in markers if m in text)
    return found
