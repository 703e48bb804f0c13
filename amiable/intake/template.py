"""The batch template a creditor downloads from the upload page: the columns its files are read with (its own
headers where the agency mapped some, else ours) and one example line, in CSV and XLSX, formulas neutralised."""

import io
from datetime import date
from decimal import Decimal

from amiable.core.spreadsheets import write_csv, write_xlsx
from amiable.creditors.models import Creditor, Structure
from amiable.intake.models import ColumnMapping
from amiable.intake.parsing import COLUMNS

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXAMPLE = {
    "reference": "2026-000123",
    "civility": "MME",
    "last_name": "Martin",
    "first_name": "Claire",
    "address_line1": "12 rue des Lilas",
    "address_line2": "Bâtiment B",
    "postal_code": "75011",
    "city": "Paris",
    "country": "France",
    "phone": "06 12 34 56 78",
    "email": "claire.martin@exemple.fr",
    "initial_amount": Decimal("150.00"),
    "principal_amount": Decimal("120.50"),
    "claim_date": date(2026, 3, 15),
    "basis": "Soins non pris en charge",
}


def template_columns(*, creditor: Creditor) -> list[tuple[str, str]]:
    """(field, header) of every column, in our order: the creditor's first mapped header, else our name."""
    mapped: dict[str, str] = {}
    for mapping in ColumnMapping.objects.filter(creditor=creditor).order_by("column", "header"):
        mapped.setdefault(mapping.column, mapping.header)
    return [(name, mapped.get(name, label)) for name, (label, _synonyms) in COLUMNS.items()]


def batch_template(*, creditor: Creditor, kind: str) -> tuple[bytes, str, str]:
    """The template file's bytes, its name and its content type; the example line uses one of the
    creditor's own structure codes, so that the template imports as it is."""
    if kind not in CONTENT_TYPES:
        raise ValueError(kind)
    structure = Structure.objects.filter(creditor=creditor, is_active=True).order_by("code").first()
    columns = template_columns(creditor=creditor)
    header = [h for _name, h in columns]
    row = [structure.code if name == "structure" and structure else EXAMPLE.get(name, "") for name, _h in columns]
    buffer = io.BytesIO()
    if kind == "csv":
        write_csv(buffer, header, [row])
    else:
        money = [i for i, (name, _h) in enumerate(columns) if name in {"initial_amount", "principal_amount"}]
        dates = [i for i, (name, _h) in enumerate(columns) if name == "claim_date"]
        write_xlsx(buffer, "Créances", header, [row], money_columns=money, date_columns=dates)
    return buffer.getvalue(), f"modele-lot-{creditor.slug}.{kind}", CONTENT_TYPES[kind]
