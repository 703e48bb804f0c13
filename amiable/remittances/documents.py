"""The files of a remittance: the detailed statement the creditor receives (C21) — one row per payment
remitted or reversal taken back, with the debtor's civility and names, the creditor's case reference, the
amount and the date — as a PDF/A, an XLSX and a CSV, and the SEPA transfer (pain.001.001.09) the agency
hands to its bank. Building only: nothing here is stored, sent or audited (see `services.remittance_complete`).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property

from django.template.loader import render_to_string
from django.utils import timezone
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban

from amiable.cases.models import Civility
from amiable.core.dates import next_business_day
from amiable.core.money import ZERO
from amiable.core.sepa import Transfer, credit_transfer_xml
from amiable.core.spreadsheets import write_csv, write_xlsx
from amiable.creditors.models import Agency, Structure
from amiable.creditors.selectors import agency_get
from amiable.letters.services import letter_pdf
from amiable.remittances.models import Remittance, RemittanceLine

__all__ = [
    "HEADER",
    "PAYMENT",
    "REVERSAL",
    "Statement",
    "StatementRow",
    "file_names",
    "remittance_info",
    "statement_csv",
    "statement_get",
    "statement_pdf",
    "statement_xlsx",
    "transfer_message_id",
    "transfer_problem",
    "transfer_xml",
]

PAYMENT, REVERSAL = "paiement", "rejet"
HEADER = [
    "Reversement",
    "Structure",
    "Civilité",
    "Nom",
    "Prénom",
    "Référence du dossier",
    "Montant recouvré",
    "Date de recouvrement",
    "Nature",
]
_MONEY_COLUMNS = ("Montant recouvré",)
_DATE_COLUMNS = ("Date de recouvrement",)
_CIVILITY_LABELS = {value: label for value, label in Civility.choices if value}


@dataclass(frozen=True)
class StatementRow:
    """One line of the statement: a payment (its collection date) or a reversal (its date, « rejet »)."""

    civility: str
    last_name: str
    first_name: str
    reference: str
    amount: Decimal
    on: date
    nature: str


@dataclass(frozen=True)
class Statement:
    """The lines of a remittance, read once; the total and the table of the spreadsheets are computed once
    too, on first use, and shared by the check of the total, the XLSX and the CSV."""

    remittance: Remittance
    agency: Agency
    rows: list[StatementRow]

    @cached_property
    def total(self) -> Decimal:
        return sum((row.amount for row in self.rows), ZERO)

    @property
    def count(self) -> int:
        return len(self.rows)

    @cached_property
    def table(self) -> list[list]:
        """One list of cells per line, as the XLSX and the CSV write them (HEADER's columns)."""
        number, code = self.remittance.number, self.remittance.structure.code
        return [
            [number, code, row.civility, row.last_name, row.first_name, row.reference, row.amount, row.on, row.nature]
            for row in self.rows
        ]


_STATEMENT_COLUMNS = {
    PAYMENT: (
        "payment__collected_on",
        "payment__case__reference",
        "payment__case__debtor__civility",
        "payment__case__debtor__last_name",
        "payment__case__debtor__first_name",
    ),
    REVERSAL: (
        "reversal__reversed_on",
        "reversal__case__reference",
        "reversal__case__debtor__civility",
        "reversal__case__debtor__last_name",
        "reversal__case__debtor__first_name",
    ),
}


def statement_get(remittance: Remittance) -> Statement:
    """The statement of a remittance, read in two queries whatever its number of lines (the agency and the
    lines with their payment or reversal, case and debtor, as plain values: no model built per line).
    `remittance` comes with its creditor and structure. Rows are in date order, then by case reference."""
    lines = RemittanceLine.objects.filter(remittance=remittance).values_list(
        "pk", "amount", "payment_id", *_STATEMENT_COLUMNS[PAYMENT], *_STATEMENT_COLUMNS[REVERSAL]
    )
    rows = []
    for pk, amount, payment_id, *columns in lines.order_by():
        nature = PAYMENT if payment_id is not None else REVERSAL
        on, reference, civility, last_name, first_name = columns[:5] if nature == PAYMENT else columns[5:]
        rows.append(
            (
                (on, reference, pk),
                StatementRow(
                    civility=_CIVILITY_LABELS.get(civility, ""),
                    last_name=last_name,
                    first_name=first_name,
                    reference=reference,
                    amount=amount,
                    on=on,
                    nature=nature,
                ),
            )
        )
    rows.sort(key=lambda pair: pair[0])
    return Statement(remittance=remittance, agency=agency_get(), rows=[row for _, row in rows])


def file_names(remittance: Remittance) -> dict[str, str]:
    """Where each file is stored, under the remittance's number and the year of that number (the field's
    `upload_to` adds « remittances/ »)."""
    year = remittance.number.split("-")[1]
    stem = f"{year}/{remittance.number}"
    return {
        "statement_pdf": f"{stem}.pdf",
        "statement_xlsx": f"{stem}.xlsx",
        "statement_csv": f"{stem}.csv",
        "transfer_xml": f"{stem}-pain001.xml",
    }


def _period(remittance: Remittance) -> str:
    return f"semaine du {remittance.period_start:%d/%m/%Y} au {remittance.period_end:%d/%m/%Y}"


# --- the statement --------------------------------------------------------------------------------------


# A PDF lists at most this many lines (about 45 pages); a larger week's PDF gives its totals per day and leaves
# the lines to the XLSX and CSV sent with it. WeasyPrint lays a table out at about 50 lines a second and keeps
# every page in memory: a week of 33,000 lines took more than a quarter of an hour and 3 GB, for a document
# nobody reads on paper, when the spreadsheets of the same lines take seconds.
PDF_LINES_MAX = 2000


@dataclass(frozen=True)
class DayTotal:
    on: date
    count: int
    amount: Decimal


def _day_totals(statement: Statement) -> list[DayTotal]:
    totals: dict[date, list] = {}
    for row in statement.rows:
        entry = totals.setdefault(row.on, [0, ZERO])
        entry[0] += 1
        entry[1] += row.amount
    return [DayTotal(on=on, count=count, amount=amount) for on, (count, amount) in sorted(totals.items())]


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF/A, drawn like the letters (nothing fetched from outside): one row per line, or,
    beyond `PDF_LINES_MAX` lines, one row per day (the lines are in the XLSX and the CSV)."""
    remittance = statement.remittance
    detailed = statement.count <= PDF_LINES_MAX
    html = render_to_string(
        "remittances/statement_pdf.html",
        {
            "s": statement,
            "detailed": detailed,
            "days": None if detailed else _day_totals(statement),
            "lines_max": PDF_LINES_MAX,
            "remittance": remittance,
            "agency": statement.agency,
            "creditor": remittance.creditor,
            "structure": remittance.structure,
        },
    )
    return letter_pdf(html)


def _totals(statement: Statement) -> list:
    lines = f"{statement.count} ligne{'s' if statement.count >= 2 else ''}"
    return ["Total", statement.remittance.structure.code, "", "", "", lines, statement.total, None, ""]


def _title(statement: Statement) -> str:
    remittance = statement.remittance
    structure = remittance.structure
    return (
        f"Relevé de reversement {remittance.number} — {statement.agency.name} pour {remittance.creditor.name} — "
        f"structure {structure.code} {structure.name} — {_period(remittance)}"
    )


def statement_xlsx(statement: Statement) -> bytes:
    """The statement as a workbook: the title row names the agency, creditor, structure, number and week;
    one row per line; the total below, outside the filter."""
    out = io.BytesIO()
    write_xlsx(
        out,
        f"Reversement {statement.remittance.number}",
        HEADER,
        statement.table,
        money_columns=_MONEY_COLUMNS,
        date_columns=_DATE_COLUMNS,
        title=_title(statement),
        totals=_totals(statement),
        compresslevel=1,  # a week of 33,000 lines: a third of the deflating time, for a file a fifth larger
    )
    return out.getvalue()


def statement_csv(statement: Statement) -> bytes:
    """The statement as a French-Excel CSV: each row carries the number and the structure, so that weeks
    can be put end to end; the last row is the total."""
    out = io.BytesIO()
    write_csv(out, HEADER, itertools.chain(statement.table, [_totals(statement)]))
    return out.getvalue()


# --- the transfer ---------------------------------------------------------------------------------------


def transfer_problem(structure: Structure) -> str:
    """Why no transfer can be made to the structure, in French, or "" when its bank details are usable.
    Read from the structure as it is now: once its IBAN is entered, the next run makes the transfer."""
    iban = stdnum_iban.compact(structure.remittance_iban or "")
    bic = stdnum_bic.compact(structure.remittance_bic or "")
    where = "à renseigner sur la fiche de la structure dans l'administration"
    if not iban:
        return f"la structure {structure.code} n'a pas d'IBAN de reversement ({where})."
    if not stdnum_iban.is_valid(iban):
        return f"l'IBAN de reversement de la structure {structure.code} (« {iban} ») est invalide ({where})."
    if bic and not stdnum_bic.is_valid(bic):
        return f"le BIC de reversement de la structure {structure.code} (« {bic} ») est invalide ({where})."
    return ""


def transfer_message_id(remittance: Remittance) -> str:
    return f"{remittance.number}-VIR"


def remittance_info(remittance: Remittance) -> str:
    return f"Reversement {remittance.number} {_period(remittance)}"


def transfer_xml(statement: Statement, *, on: date | None = None) -> bytes:
    """The pain.001.001.09 file: one transfer of the remittance's total from the agency's client-funds
    account to the structure's account, its end-to-end reference the remittance's number (it comes back
    on the bank statement and identifies the remittance there). The beneficiary is the creditor, holder
    of the account; the structure is named in the remittance information by the number. Executed on the
    next business day from `on` (today by default). Raises ValueError when an account is refused."""
    remittance = statement.remittance
    structure = remittance.structure
    agency = statement.agency
    today = on or timezone.localdate()
    return credit_transfer_xml(
        message_id=transfer_message_id(remittance),
        debtor_name=agency.name,
        debtor_iban=agency.client_account_iban,
        debtor_bic=agency.client_account_bic,
        transfers=[
            Transfer(
                end_to_end_id=remittance.number,
                amount=remittance.total,
                creditor_name=remittance.creditor.name,
                creditor_iban=structure.remittance_iban,
                creditor_bic=structure.remittance_bic,
                remittance_info=remittance_info(remittance),
            )
        ],
        execution_date=next_business_day(today),
    )
