"""The acknowledgement of receipt of a batch (CCTP 1.2, C6): a PDF for the creditor, with the full
list of the claims taken in charge as CSV and XLSX annexes.

Under article 1.2 of the CCTP the acknowledgement "emporte de manière expresse la reconnaissance"
that the creditor gives the agency the specific power to recover the listed claims amicably: it is
the mandate. The PDF therefore states exactly which file was received (name, SHA-256, transmission,
encryption, signature), what was taken in charge per structure, what was rejected and why, and it
binds the per-claim annexes by their SHA-256.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from urllib.request import url2pathname

import weasyprint
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files import File
from django.core.files.base import ContentFile
from django.db.models import Count, Sum
from django.db.models.fields.files import FieldFile
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint.urls import URLFetcher

from amiable.cases.models import Civility
from amiable.core.bulk import while_checking_constraints
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_count, to_money
from amiable.core.spreadsheets import CsvStream, XlsxStream, write_csv, write_xlsx
from amiable.core.storage import storage_location
from amiable.creditors.models import Structure
from amiable.creditors.selectors import agency_get, terms_for
from amiable.intake.models import Batch, BatchCase
from amiable.intake.validation import CleanRow

__all__ = [
    "ANNEX_HEADER",
    "FLAG_LABELS",
    "REJECTED_ROWS_IN_PDF",
    "Annexes",
    "acknowledgement_build",
    "acknowledgement_render",
    "document_location",
]

# Beyond this the PDF would run to dozens of pages; the complete list stays on the batch page.
REJECTED_ROWS_IN_PDF = 500

# Short labels for the annexes' "Signalements" column.
FLAG_LABELS = {
    "invalid_phone": "téléphone invalide",
    "invalid_email": "e-mail invalide",
    "invalid_postcode": "code postal invalide",
    "missing_address": "adresse absente",
    "formula_injection": "formule neutralisée",
}

ANNEX_HEADER = [
    "Ligne",
    "Référence",
    "Structure",
    "Civilité",
    "Nom",
    "Prénom",
    "Solde pris en charge",
    "Montant initial",
    "Date de la créance",
    "Nature",
    "Date de réception",
    "Échéance du certificat",
    "Signalements",
]
_MONEY_COLUMNS = ("Solde pris en charge", "Montant initial")
_DATE_COLUMNS = ("Date de la créance", "Date de réception", "Échéance du certificat")
# What each column holds, so that the writers format a cell by its column rather than by asking its type.
_ANNEX_TYPES = (int, str, str, str, str, str, Decimal, Decimal, date, str, date, date, str)
_ANNEX_SHEET = "Dossiers pris en charge"

# The contractual basis of the mandate is the creditor's own clause (`ContractTerms.mandate_reference`,
# article 1.2 of the CCTP for the CPAM de Paris); a creditor whose terms name none is not told of a
# contract it has not signed, only of the agreement between the parties.
_DEFAULT_MANDATE_BASIS = "la convention de recouvrement conclue entre les parties"

_CHUNK = 2000
_CIVILITY_LABELS = {value: label for value, label in Civility.choices if value}


class Annexes:
    """The CSV and XLSX annexes written as the batch's rows are checked, from the clean rows themselves (`add`, a
    chunk at a time), rather than read back from the database once they are all stored: the same
    files, without a second pass over 100,000 rows. Each cell is formatted by its column. Used as a context
    manager, so that the temporary files go whatever happens."""

    def __init__(self, *, batch: Batch, received_on: date, certificate_due_on: date):
        self._received_on = received_on
        self._certificate_due_on = certificate_due_on
        # Closed by __exit__: the files outlive this method, to the storage of the acknowledgement.
        self.csv_file = tempfile.TemporaryFile()  # noqa: SIM115
        self.xlsx_file = tempfile.TemporaryFile()  # noqa: SIM115
        self._csv = CsvStream(self.csv_file, ANNEX_HEADER, column_types=_ANNEX_TYPES)
        self._xlsx = XlsxStream(
            self.xlsx_file,
            _ANNEX_SHEET,
            ANNEX_HEADER,
            money_columns=_MONEY_COLUMNS,
            date_columns=_DATE_COLUMNS,
            title=_annex_title(batch),
            column_types=_ANNEX_TYPES,
            compresslevel=1,  # 100,000 lines: a third of the deflating time, for a file a fifth larger
        )
        self._finished = False
        self._structures: dict[str, list] = {}  # code: [count, total], for the PDF made before the batch is stored

    def add(self, rows: Iterable[CleanRow]) -> None:
        """Clean rows, in file order, as the database will hold them (names and references cut to their columns'
        lengths)."""
        received_on, due_on = self._received_on, self._certificate_due_on
        lines = [
            (
                r.line,
                r.reference[:64],
                r.structure_code,
                _CIVILITY_LABELS.get(r.civility, ""),
                r.last_name[:150],
                r.first_name[:150],
                r.balance,  # the case's claimed amount: its principal, with no interest nor other amount yet
                r.initial_amount,
                r.claim_date,
                r.basis,
                received_on,
                due_on,
                ", ".join([FLAG_LABELS.get(flag, flag) for flag in r.flags]) if r.flags else "",
            )
            for r in rows
        ]
        self._csv.write(lines)
        self._xlsx.write(lines)
        for r in rows:
            totals = self._structures.setdefault(r.structure_code, [0, ZERO])
            totals[0] += 1
            totals[1] += r.balance

    def structure_totals(self, structures: dict[str, Structure]) -> list[dict]:
        """The claims added and their total balance per structure, as `_structure_totals` reads them from the
        stored cases."""
        return [
            {"code": code, "name": structures[code].name, "count": count, "total": to_money(total)}
            for code, (count, total) in sorted(self._structures.items())
        ]

    def finish(self) -> None:
        if not self._finished:
            self._csv.close()
            self._xlsx.close()
            self._finished = True

    def __enter__(self) -> Annexes:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and not self._finished:
            self._xlsx.abort()
        self.csv_file.close()
        self.xlsx_file.close()


def acknowledgement_render(*, batch: Batch, annexes: Annexes, structures: dict[str, Structure]) -> bytes:
    """The PDF of a batch not stored yet, every row of which went through `annexes`: its numbers, counts and
    file's details set as they will be stored. Made before the import's transaction on SQLite, where that
    transaction holds the database's single write lock; `acknowledgement_build(pdf=...)` then stores it."""
    annexes.finish()
    hashes = {"csv": _sha256(annexes.csv_file), "xlsx": _sha256(annexes.xlsx_file)}
    return _render_pdf(batch, annexes=hashes, structures=annexes.structure_totals(structures))


def acknowledgement_build(*, batch: Batch, annexes: Annexes | None = None, pdf: bytes | None = None) -> None:
    """Render the acknowledgement PDF and its CSV/XLSX annexes and store them on the batch.

    The caller has numbered the batch (``acknowledgement_number``, ``acknowledged_at``) and stored its
    cases; this runs inside its transaction. ``annexes`` are the annexes the import wrote as it checked the
    rows; without them they are written from the batch's cases in the database. ``pdf`` is the PDF
    `acknowledgement_render` made from the same batch and ``annexes``. An acknowledgement is issued once:
    building it again for a batch that already has one is refused.
    """
    if batch.acknowledgement_pdf or batch.acknowledgement_csv or batch.acknowledgement_xlsx:
        raise ApplicationError(
            f"L'accusé de réception {batch.acknowledgement_number} a déjà été établi : il ne peut pas être refait."
        )
    number = batch.acknowledgement_number
    folder = f"{timezone.localtime(batch.acknowledged_at).year}"

    # Annexes first: the PDF prints their SHA-256, which binds the per-claim list to the mandate.
    if annexes is None:
        with tempfile.TemporaryFile() as csv_file, tempfile.TemporaryFile() as xlsx_file:
            annex_files_write(batch, csv_file, xlsx_file)
            hashes = _annexes_store(batch, csv_file, xlsx_file, folder=folder, number=number)
    else:
        annexes.finish()
        hashes = _annexes_store(batch, annexes.csv_file, annexes.xlsx_file, folder=folder, number=number)

    if pdf is None:
        pdf = _render_pdf(batch, annexes=hashes)
    batch.acknowledgement_pdf.save(f"{folder}/{number}.pdf", ContentFile(pdf), save=False)
    batch.save(update_fields=["acknowledgement_pdf", "acknowledgement_csv", "acknowledgement_xlsx"])


def document_location(file: FieldFile) -> str | None:
    """Where an acknowledgement's document is, for the operator (`core.storage.storage_location`)."""
    return storage_location(file.name if file else None, file.storage if file else None)


def _sha256(handle) -> str:
    handle.seek(0)
    digest = hashlib.file_digest(handle, "sha256").hexdigest()
    handle.seek(0)
    return digest


# --- Annexes ---------------------------------------------------------------------------------------


def annex_files_write(batch: Batch, csv_file, xlsx_file) -> None:
    """Both annexes of a batch whose cases are stored, read from the database (one pass each)."""
    write_csv(csv_file, ANNEX_HEADER, _annex_rows(batch))
    write_xlsx(
        xlsx_file,
        _ANNEX_SHEET,
        ANNEX_HEADER,
        _annex_rows(batch),
        money_columns=_MONEY_COLUMNS,
        date_columns=_DATE_COLUMNS,
        title=_annex_title(batch),
    )


def _annex_title(batch: Batch) -> str:
    return (
        f"Accusé de réception {batch.acknowledgement_number} — lot {batch.number} — {batch.creditor.name} : "
        "créances prises en charge"
    )


def _annexes_store(batch: Batch, csv_file, xlsx_file, *, folder: str, number: str) -> dict[str, str]:
    """Store the annexes on the batch (not saved yet); their SHA-256."""
    hashes = {"csv": _sha256(csv_file), "xlsx": _sha256(xlsx_file)}
    batch.acknowledgement_csv.save(f"{folder}/{number}.csv", File(csv_file), save=False)
    batch.acknowledgement_xlsx.save(f"{folder}/{number}.xlsx", File(xlsx_file), save=False)
    return hashes


def _annex_rows(batch: Batch):
    """One row per claim taken in charge, in file order, streamed from the database.

    ``values_list`` rather than model instances: the joins of select_related without building three
    objects per row, which matters at 100,000 rows; ``iterator`` keeps memory flat.
    """
    lines = (
        BatchCase.objects.filter(batch=batch)
        .order_by("line")
        .values_list(
            "line",
            "case__reference",
            "case__structure__code",
            "case__debtor__civility",
            "case__debtor__last_name",
            "case__debtor__first_name",
            "case__claimed_amount",
            "case__initial_amount",
            "case__claim_date",
            "case__basis",
            "case__received_on",
            "case__certificate_due_on",
            "flags",
        )
        .iterator(chunk_size=_CHUNK)
    )
    for line, reference, code, civility, last_name, first_name, claimed, initial, *rest in lines:
        claim_date, basis, received_on, certificate_due_on, flags = rest
        yield [
            line,
            reference,
            code,
            _CIVILITY_LABELS.get(civility, ""),
            last_name,
            first_name,
            to_money(claimed),
            to_money(initial),
            claim_date,
            basis,
            received_on,
            certificate_due_on,
            ", ".join(FLAG_LABELS.get(flag, flag) for flag in flags or ()),
        ]


# --- PDF -------------------------------------------------------------------------------------------


def _structure_totals(batch: Batch) -> list[dict]:
    """Claims taken in charge and their total balance per structure, in one grouped query."""
    rows = (
        BatchCase.objects.filter(batch=batch)
        .values("case__structure_id", "case__structure__code", "case__structure__name")
        .annotate(count=Count("pk"), total=Sum("case__claimed_amount"))
        .order_by("case__structure__code")
    )
    return [
        {
            "code": row["case__structure__code"],
            "name": row["case__structure__name"],
            "count": row["count"],
            # SQLite sums decimals through floating point: back to exact cents.
            "total": to_money(row["total"] if row["total"] is not None else ZERO),
        }
        for row in rows
    ]


def _rejected_rows(batch: Batch) -> list[dict]:
    shown = []
    for row in (batch.rejected_rows or [])[:REJECTED_ROWS_IN_PDF]:
        errors = []
        for error in row.get("errors", []):
            value = str(error.get("value") or "")
            errors.append(
                {
                    "column": error.get("column", ""),
                    "message": error.get("message", ""),
                    "value": value if len(value) <= 80 else value[:79] + "…",
                }
            )
        shown.append(
            {
                "line": row.get("line"),
                "file_line": row.get("file_line"),
                "reference": row.get("reference", ""),
                "errors": errors,
            }
        )
    return shown


def _pdf_context(batch: Batch, annexes: dict[str, str], structures: list[dict] | None = None) -> dict:
    creditor = batch.creditor
    if structures is None:
        structures = _structure_totals(batch)
    rejected = _rejected_rows(batch)
    rejected_total = max(len(batch.rejected_rows or []), batch.rejected_count)
    return {
        "agency": agency_get(),
        "creditor": creditor,
        "batch": batch,
        "structures": structures,
        "taken_count": sum(s["count"] for s in structures),
        "taken_total": sum((s["total"] for s in structures), ZERO),
        "rejected": rejected,
        "rejected_more": rejected_total - len(rejected),
        "mandate_basis": terms_for(creditor).mandate_reference or _DEFAULT_MANDATE_BASIS,
        "annex_csv_name": f"{batch.acknowledgement_number}.csv",
        "annex_xlsx_name": f"{batch.acknowledgement_number}.xlsx",
        "annex_csv_sha256": annexes["csv"],
        "annex_xlsx_sha256": annexes["xlsx"],
        "size_display": format_count(batch.size),
    }


def _render_pdf(batch: Batch, annexes: dict[str, str], structures: list[dict] | None = None) -> bytes:
    """The PDF, laid out while PostgreSQL checks the keys of the rows the import wrote (`while_checking_constraints`):
    the two longest steps after the writing, each on its own core. The page's text is made before: it queries."""
    html = render_to_string("intake/acknowledgement_pdf.html", _pdf_context(batch, annexes, structures))
    stylesheet = _documents_stylesheet()
    fetcher = _LocalFilesOnly(roots=(stylesheet.parent.parent,))
    return while_checking_constraints(
        lambda: weasyprint.HTML(string=html, base_url=str(stylesheet.parent), url_fetcher=fetcher).write_pdf(
            stylesheets=[weasyprint.CSS(filename=str(stylesheet), url_fetcher=fetcher)],
            # PDF/A-3b: an archival document (fonts embedded, colour profile, metadata).
            pdf_variant="pdf/a-3b",
        )
    )


@lru_cache(maxsize=1)
def _documents_stylesheet() -> Path:
    path = finders.find("css/documents.css")
    if not path:
        raise RuntimeError("Feuille de style des documents introuvable : css/documents.css.")
    return Path(path).resolve()


class _LocalFilesOnly(URLFetcher):
    """Documents never reach the network: only ``data:`` URLs and files of the app's static folder.

    The templates hold no external URL and creditor data is auto-escaped, so this is a second lock:
    a stray ``<img src="https://…">`` or ``file:///etc/…`` is refused rather than fetched."""

    def __init__(self, *, roots, **kwargs):
        super().__init__(allowed_protocols={"file", "data"}, **kwargs)
        self._roots = tuple(Path(root).resolve() for root in roots) + tuple(
            Path(d).resolve() for d in getattr(settings, "STATICFILES_DIRS", ())
        )

    def fetch(self, url, headers=None):
        if url.startswith("file:"):
            path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
            if not any(path.is_relative_to(root) for root in self._roots):
                raise ValueError(f"Ressource refusée dans un document : {url}")
        return super().fetch(url, headers)
