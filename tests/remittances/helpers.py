"""Shared by the remittance tests: weeks, payments, bank details, reading the stored files back."""

import csv
import hashlib
import io
from datetime import timedelta

from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from amiable.creditors.models import Structure
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record
from amiable.remittances.selectors import week_before

IBAN_CSR = "FR1420041010050500013M02606"
BIC_CSR = "PSSTFRPPPAR"
IBAN_CDOP = "FR7630001007941234567890185"


def today():
    return timezone.localdate()


def weeks_ago(n):
    """(week_of, monday, sunday) of the complete week n weeks before the last one (0: the last one)."""
    week_of = today() - timedelta(days=7 * n)
    start, end = week_before(week_of)
    return week_of, start, end


def pay(case, amount, on, actor, method=PaymentMethod.TRANSFER):
    return payment_record(case=case, amount=amount, collected_on=on, method=method, actor=actor)


def bank_details(structure, *, iban="", bic="", finance_email=""):
    Structure.objects.filter(pk=structure.pk).update(
        remittance_iban=iban, remittance_bic=bic, finance_email=finance_email
    )


def read(file) -> bytes:
    with file.open("rb") as handle:
        return handle.read()


def sha256(file) -> str:
    return hashlib.sha256(read(file)).hexdigest()


def squash(text: str) -> str:
    """Single ordinary spaces: pypdf wraps lines, amounts hold no-break spaces."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def xlsx_rows(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [tuple(cell for cell in row) for row in sheet.iter_rows(values_only=True)]
