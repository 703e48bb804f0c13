"""Remittances for the page tests: made by the weekly run from real payments, or written directly (many of
them, for the query counts), with small real files in their FileFields as the files' builder would store."""

import hashlib
import itertools
from datetime import timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from amiable.payments.services import payment_record
from amiable.remittances.models import Remittance
from amiable.remittances.selectors import week_before
from amiable.remittances.services import remittances_build
from tests.factories import make_case

_seq = itertools.count(1)

# What each stored file holds in the tests: the downloads must hand out exactly these bytes.
CONTENTS = {
    "pdf": b"%PDF-1.7\n% releve de reversement\n%%EOF\n",
    "xlsx": b"PK\x03\x04 classeur de test",
    "csv": "Débiteur;Référence;Montant\nDUPONT Marie;REF-1;40,00\n".encode(),
    "sepa": b'<?xml version="1.0" encoding="UTF-8"?><Document>virement</Document>',
}
FIELDS = {
    "pdf": ("statement_pdf", "statement_pdf_sha256", "pdf"),
    "xlsx": ("statement_xlsx", "statement_xlsx_sha256", "xlsx"),
    "csv": ("statement_csv", "statement_csv_sha256", "csv"),
    "sepa": ("transfer_xml", "transfer_sha256", "xml"),
}


def attach_files(remittance: Remittance) -> Remittance:
    """Store the four files of a remittance, as `remittance_complete` does: once, with their SHA-256."""
    for kind, (field, sha_field, extension) in FIELDS.items():
        getattr(remittance, field).save(f"{remittance.number}.{extension}", ContentFile(CONTENTS[kind]), save=False)
        setattr(remittance, sha_field, hashlib.sha256(CONTENTS[kind]).hexdigest())
    remittance.documents_at = timezone.now()
    remittance.save()
    return remittance


def built_remittance(*, structure, actor, payments=(("40.00", "Dupont"), ("25.50", "Martin"))) -> Remittance:
    """The last complete week's remittance of a structure, made by the weekly run from real payments (one
    case per payment, with the debtor's last name given), with its files."""
    start, _end = week_before(timezone.localdate())
    for amount, last_name in payments:
        case = make_case(structure=structure, principal="200.00", last_name=last_name)
        payment_record(case=case, amount=Decimal(amount), collected_on=start, method="transfer", actor=actor)
    remittances_build(actor=None)
    return attach_files(Remittance.objects.get(structure=structure, period_start=start))


def written_remittance(*, structure, weeks_ago: int, total: str = "10.00", files: bool = True) -> Remittance:
    """A remittance written directly (no lines), for lists of many rows."""
    start, end = week_before(timezone.localdate() - timedelta(days=7 * weeks_ago))
    remittance = Remittance.objects.create(
        number=f"RV-T-{next(_seq):06d}",
        creditor=structure.creditor,
        structure=structure,
        period_start=start,
        period_end=end,
        total=Decimal(total),
    )
    return attach_files(remittance) if files else remittance
