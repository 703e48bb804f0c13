"""Invoices and credit notes for the page tests, written directly as the monthly builder would leave them,
with a small real PDF in their FileField."""

import hashlib
import itertools
from datetime import timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from amiable.core.dates import add_months
from amiable.invoicing.models import Invoice, InvoiceKind, InvoiceLine

_seq = itertools.count(1)
PDF = b"%PDF-1.7\n% facture Factur-X de test\n%%EOF\n"


def written_invoice(
    *,
    structure,
    months_ago: int = 1,
    kind: str = InvoiceKind.INVOICE,
    cases=(),
    credited: Invoice | None = None,
    pdf: bool = True,
) -> Invoice:
    """An invoice (or credit note) of a past month, 10 % commission on 40,00 € per case, 20 % VAT."""
    first = add_months(timezone.localdate().replace(day=1), -months_ago)
    last = add_months(first, 1) - timedelta(days=1)
    base = Decimal("40.00") * max(len(cases), 1)
    commission = (base / 10).quantize(Decimal("0.01"))
    vat = (commission / 5).quantize(Decimal("0.01"))
    issued_on = add_months(first, 1)
    n = next(_seq)
    invoice = Invoice.objects.create(
        number=f"{'AV' if kind == InvoiceKind.CREDIT_NOTE else 'FA'}-T-{n:06d}",
        kind=kind,
        creditor=structure.creditor,
        structure=structure,
        period_start=first,
        period_end=last,
        issued_on=min(issued_on, timezone.localdate()),
        due_on=add_months(issued_on, 1),
        credited=credited,
        commission_rate=Decimal("10.00"),
        vat_rate=Decimal("20.00"),
        base=base,
        commission=commission,
        vat=vat,
        total=commission + vat,
    )
    for case in cases:
        InvoiceLine.objects.create(invoice=invoice, case=case, base=Decimal("40.00"), commission=Decimal("4.00"))
    if pdf:
        invoice.pdf.save(f"{invoice.number}.pdf", ContentFile(PDF), save=False)
        invoice.sha256 = hashlib.sha256(PDF).hexdigest()
        invoice.save()
    return invoice
