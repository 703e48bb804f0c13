"""Building the monthly commission invoices (C13, C23, C24, L12): per creditor and structure, the commission
on the sums recovered up to the end of the month and not yet invoiced, one line per case, and a credit note
for the invoiced payments reversed since (or whose case failed). Numbers are gap-free in one series; the
Factur-X file and the e-mail follow each invoice's transaction, and a later run finishes what a crash left."""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError
from amiable.core.facturx import Line, invoice_totals
from amiable.core.money import ZERO, to_money
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Structure
from amiable.creditors.selectors import agency_get, terms_for
from amiable.invoicing import documents
from amiable.invoicing.models import Invoice, InvoicedItem, InvoiceKind, InvoiceLine, InvoiceStatus
from amiable.invoicing.selectors import (
    Item,
    invoice_pending,
    invoice_recipient,
    invoices_incomplete,
    invoices_of_month,
    month_checked,
)

logger = logging.getLogger(__name__)

SERIES = "invoice"  # one gap-free series per year for invoices and credit notes alike
PREFIX = "FA"
PAYMENT_DAYS = 30  # L441-10 of the Commercial Code: 30 days unless agreed otherwise


def _commission(base: Decimal, rate: Decimal) -> Decimal:
    """The commission on one line: base × rate / 100, rounded half-up to the cent."""
    return to_money(base * rate / 100)


@dataclass
class DraftLine:
    case_id: int
    reference: str
    base: Decimal
    commission: Decimal
    items: list[Item]


@dataclass
class Draft:
    """An invoice or credit note computed but not yet written: what a dry run shows, what a run writes."""

    kind: str
    structure: Structure
    commission_rate: Decimal
    vat_rate: Decimal
    lines: list[DraftLine]
    base: Decimal
    commission: Decimal
    vat: Decimal
    total: Decimal
    credited_id: int | None = None


def _by_case(items: list[Item]) -> list[tuple[int, str, list[Item]]]:
    cases: dict[int, tuple[str, list[Item]]] = {}
    for item in items:
        cases.setdefault(item.case_id, (item.reference, []))[1].append(item)
    return sorted(((pk, ref, its) for pk, (ref, its) in cases.items()), key=lambda c: (c[1], c[0]))


def _draft(*, kind, structure, commission_rate, vat_rate, lines, credited_id=None) -> Draft:
    """Totals the Factur-X way (`core.facturx.invoice_totals`): each line's commission as its net amount,
    VAT once on their sum, so that the stored amounts are those of the XML."""
    totals = invoice_totals([Line("commission", Decimal(1), line.commission, vat_rate) for line in lines])
    return Draft(
        kind=kind,
        structure=structure,
        commission_rate=commission_rate,
        vat_rate=vat_rate,
        lines=lines,
        base=sum((line.base for line in lines), ZERO),
        commission=totals.net,
        vat=totals.vat_total,
        total=totals.total,
        credited_id=credited_id,
    )


def _draft_invoice(structure: Structure, items: list[Item]) -> Draft:
    terms = terms_for(structure.creditor)
    rate = terms.commission_rate_for(structure)
    lines = []
    for case_id, reference, its in _by_case(items):
        base = sum((item.base for item in its), ZERO)
        lines.append(DraftLine(case_id, reference, base, _commission(base, rate), its))
    return _draft(
        kind=InvoiceKind.INVOICE, structure=structure, commission_rate=rate, vat_rate=terms.vat_rate, lines=lines
    )


def _check_parties(structure: Structure) -> None:
    """The SIRET of both sides is a legal mention (L12) and Chorus Pro refuses an invoice without the buyer's:
    refused before a number is taken, so that no numbered invoice is left unusable."""
    if not (structure.siret or structure.creditor.siret):
        raise ApplicationError(
            f"ni la structure {structure.code} ni le créancier n'ont de SIRET (mention obligatoire de la facture) : "
            "à renseigner dans l'administration ; rien n'est facturé pour cette structure."
        )


def _credited_commission(items: list[Item]) -> Decimal:
    """What crediting these payments takes back of the commission of the invoice lines that carried them:
    per line, its commission × the share of its base credited so far, rounded, less what earlier credit notes
    took back of it. Partial credits add up to at most the line's commission, exactly it once all is credited:
    rounding never takes back a cent more than was invoiced."""
    total = ZERO
    by_line: dict[int, list[Item]] = {}
    for item in items:
        by_line.setdefault(item.line_id, []).append(item)
    for group in by_line.values():
        first = group[0]
        if not first.line_base:
            continue
        before = first.line_credited_before
        after = before + sum((item.base for item in group), ZERO)
        share = first.line_commission / first.line_base
        total += to_money(share * after) - to_money(share * before)
    return total


def _draft_credit(structure: Structure, items: list[Item]) -> Draft:
    """A credit note takes back each payment for what its invoice line bore (`_credited_commission`), at the
    VAT rate of the invoice that carried it; it names the first of the invoices it corrects."""
    first = min(items, key=lambda item: item.invoice_id)
    lines = []
    for case_id, reference, its in _by_case(items):
        base = sum((item.base for item in its), ZERO)
        lines.append(DraftLine(case_id, reference, base, _credited_commission(its), its))
    return _draft(
        kind=InvoiceKind.CREDIT_NOTE,
        structure=structure,
        commission_rate=first.commission_rate,
        vat_rate=first.vat_rate,
        lines=lines,
        credited_id=first.invoice_id,
    )


@dataclass
class InvoiceRun:
    """The outcome of a run: the month's invoices and credit notes (of earlier runs too), how many were made
    now, and what could not be finished (the next run tries again)."""

    start: date
    end: date
    invoices: list[dict] = field(default_factory=list)
    created: int = 0
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The shape `build_invoices --json` promises, keys exactly those: a credit note is a row whose
        amounts are negative (what it takes back), so that the rows of a month add up to what is owed."""
        return {
            "month": f"{self.start:%Y-%m}",
            "invoices": [_json_row(row) for row in self.invoices],
            "created": self.created,
        }


def _json_row(row: dict) -> dict:
    sign = "-" if row["kind"] == InvoiceKind.CREDIT_NOTE else ""
    amounts = {key: sign + row[key] if row[key] != "0.00" else row[key] for key in JSON_AMOUNTS}
    return {"number": row["number"], "creditor": row["creditor"], "structure": row["structure"], **amounts}


JSON_AMOUNTS = ("base", "commission", "vat", "total")


def _row(*, number, kind, creditor, structure, base, commission, vat, total, status="", emailed_to="") -> dict:
    return {
        "number": number,
        "creditor": creditor,
        "structure": structure,
        "base": f"{base:.2f}",
        "commission": f"{commission:.2f}",
        "vat": f"{vat:.2f}",
        "total": f"{total:.2f}",
        "kind": kind,
        "status": status,
        "emailed_to": emailed_to,
    }


def invoices_build(*, month: date | None = None, actor=None, dry_run: bool = False) -> InvoiceRun:
    """Make the invoices and credit notes of `month` (any day of it; by default the last complete month).
    Each structure is made in its own transaction: a failure leaves the structures already made and none
    half-made. A structure that already has its invoice (or credit note) for the month gets no second one:
    what was recorded late goes into the next month's. Then the files and e-mails still missing, of this
    month or earlier ones, are completed."""
    today = timezone.localdate()
    start, end = month_checked(month, today=today)
    pending = invoice_pending(end=end)
    keys = pending.keys()
    structures = Structure.objects.select_related("creditor", "creditor__terms").in_bulk([key[1] for key in keys])
    done = set(Invoice.objects.filter(period_start=start).values_list("structure_id", "kind"))
    run = InvoiceRun(start=start, end=end)
    drafted: list[dict] = []
    for key in sorted(keys, key=lambda k: (structures[k[1]].creditor.slug, structures[k[1]].code)):
        structure = structures[key[1]]
        try:
            _check_parties(structure)
            drafts = []
            if key in pending.invoice and (structure.pk, InvoiceKind.INVOICE) not in done:
                drafts.append(_draft_invoice(structure, pending.invoice[key]))
            if key in pending.credit and (structure.pk, InvoiceKind.CREDIT_NOTE) not in done:
                drafts.append(_draft_credit(structure, pending.credit[key]))
        except ApplicationError as exc:  # no contract terms, no SIRET: the others are still invoiced
            run.failures.append(f"{structure.creditor.slug}/{structure.code} : {exc.message}")
            continue
        if dry_run:
            drafted += [
                _row(
                    number="",
                    kind=d.kind,
                    creditor=structure.creditor.slug,
                    structure=structure.code,
                    base=d.base,
                    commission=d.commission,
                    vat=d.vat,
                    total=d.total,
                )
                for d in drafts
            ]
            continue
        if not drafts:
            continue
        try:
            run.created += _invoices_make(structure=structure, start=start, end=end, drafts=drafts, actor=actor)
        except IntegrityError:
            # A run at the same moment invoiced some of these payments first: nothing of this structure was
            # written, and the next run counts what is still pending.
            logger.warning("Facturation de %s (%s) non faite : paiements pris par un autre passage.", structure, start)
    if not dry_run:
        run.failures += invoices_complete(actor=actor)
    run.invoices = [
        _row(
            number=i.number,
            kind=i.kind,
            creditor=i.creditor.slug,
            structure=i.structure.code,
            base=i.base,
            commission=i.commission,
            vat=i.vat,
            total=i.total,
            status=i.status,
            emailed_to=i.emailed_to,
        )
        for i in invoices_of_month(start)
    ] + drafted
    return run


@transaction.atomic
def _invoices_make(*, structure: Structure, start: date, end: date, drafts: list[Draft], actor) -> int:
    """One structure's invoice and credit note of the month, with their lines and the payments they carry,
    all or nothing. The structure's row is locked so that two runs at once cannot both make them."""
    Structure.objects.select_for_update().filter(pk=structure.pk).first()
    issued_on = timezone.localdate()
    made = 0
    for draft in drafts:
        if Invoice.objects.filter(structure=structure, period_start=start, kind=draft.kind).exists():
            continue
        number = f"{PREFIX}-{issued_on.year}-{sequence_next(name=SERIES, year=issued_on.year):06d}"
        invoice = Invoice.objects.create(
            number=number,
            kind=draft.kind,
            creditor_id=structure.creditor_id,
            structure=structure,
            period_start=start,
            period_end=end,
            issued_on=issued_on,
            due_on=issued_on + timedelta(days=PAYMENT_DAYS),
            credited_id=draft.credited_id,
            commission_rate=draft.commission_rate,
            vat_rate=draft.vat_rate,
            base=draft.base,
            commission=draft.commission,
            vat=draft.vat,
            total=draft.total,
        )
        lines = InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(invoice=invoice, case_id=line.case_id, base=line.base, commission=line.commission)
                for line in draft.lines
            ]
        )
        credit = draft.kind == InvoiceKind.CREDIT_NOTE
        InvoicedItem.objects.bulk_create(
            [
                # A credit takes back what the payment brought: negative, as the model says.
                InvoicedItem(
                    line=row, payment_id=item.payment_id, is_credit=credit, base=-item.base if credit else item.base
                )
                for row, line in zip(lines, draft.lines, strict=True)
                for item in line.items
            ]
        )
        audit_record(
            actor=actor,
            verb="invoice.issued",
            target=invoice,
            after={
                "number": number,
                "kind": draft.kind,
                "structure": structure.code,
                "period_start": start,
                "period_end": end,
                "credited": draft.credited_id,
                "lines": len(draft.lines),
                "payments": sum(len(line.items) for line in draft.lines),
                "commission_rate": draft.commission_rate,
                "base": draft.base,
                "commission": draft.commission,
                "vat": draft.vat,
                "total": draft.total,
            },
        )
        made += 1
    return made


# --- completing: the Factur-X file, then the e-mail ------------------------------------------------------


def invoices_complete(*, actor=None) -> list[str]:
    """Store the Factur-X file of every invoice that has none, then e-mail those not yet sent that have an
    address. One invoice that fails does not stop the others; the failures are returned, in French, and
    the next run tries them again."""
    failures = []
    for invoice in invoices_incomplete():
        try:
            if not invoice.pdf:
                invoice = _document_store(invoice=invoice, actor=actor)
            if invoice.status == InvoiceStatus.PREPARED and invoice.emailed_at is None:
                _send(invoice=invoice, actor=actor)
        except Exception as exc:  # a rendering or mail failure must leave the other invoices to be finished
            logger.exception("Facture %s non terminée", invoice.number)
            failures.append(f"{invoice.number} : {exc}")
    return failures


def _store(invoice: Invoice, pdf: bytes) -> None:
    """Store the file under the invoice's number. A file already there was left by a transaction that rolled
    back after writing it (the row still has none): it is replaced."""
    name = f"invoices/{invoice.issued_on.year}/{invoice.number}.pdf"
    storage = invoice.pdf.storage
    if storage.exists(name):
        storage.delete(name)
    invoice.pdf.save(name.removeprefix("invoices/"), ContentFile(pdf), save=False)


def _document_store(*, invoice: Invoice, actor) -> Invoice:
    """Render the Factur-X PDF/A-3 of an invoice, then store it once with its SHA-256. The rendering is done
    outside any transaction: a second of WeasyPrint must not hold the database (on SQLite a write
    transaction locks it whole)."""
    pdf = documents.invoice_pdf(invoice)
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("creditor", "structure", "credited")
            .get(pk=invoice.pk)
        )
        if invoice.pdf:
            return invoice  # stored by a run at the same moment
        invoice.sha256 = hashlib.sha256(pdf).hexdigest()
        _store(invoice, pdf)
        try:
            invoice.save(update_fields=["pdf", "sha256"])
            audit_record(
                actor=actor,
                verb="invoice.document_stored",
                target=invoice,
                after={"number": invoice.number, "file": invoice.pdf.name, "sha256": invoice.sha256},
            )
        except BaseException:
            invoice.pdf.delete(save=False)
            raise
    return invoice


def _send(*, invoice: Invoice, actor) -> bool:
    """E-mail the invoice with its Factur-X file attached, then mark it sent; False when there is no address
    (it stays « Préparée », in the creditor's portal). A failing send raises and changes nothing. The SMTP
    exchange is outside any transaction, as the rendering is; of two runs sending at the same moment, only
    the first marking counts."""
    invoice = Invoice.objects.select_related("creditor", "structure", "credited").get(pk=invoice.pk)
    to = invoice_recipient(invoice)
    if not to or not invoice.pdf or invoice.emailed_at is not None or invoice.status != InvoiceStatus.PREPARED:
        return False
    with invoice.pdf.open("rb") as handle:
        pdf = handle.read()
    if hashlib.sha256(pdf).hexdigest() != invoice.sha256:
        raise ApplicationError(f"Le fichier de la facture {invoice.number} ne correspond plus à son empreinte.")
    agency = agency_get()
    context = {"agency": agency, "invoice": invoice, "creditor": invoice.creditor, "structure": invoice.structure}
    kind = "Avoir" if invoice.is_credit_note else "Facture"
    message = EmailMessage(
        subject=f"{kind} {invoice.number} — commissions de recouvrement — {invoice.structure.name}",
        body=render_to_string("invoicing/invoice_email.txt", context),
        to=[to],
        reply_to=[agency.email] if agency.email else None,
    )
    message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
    message.send()
    with transaction.atomic():
        marked = Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True, status=InvoiceStatus.PREPARED).update(
            emailed_to=to, emailed_at=timezone.now(), status=InvoiceStatus.SENT
        )
        if marked:
            audit_record(actor=actor, verb="invoice.sent", target=invoice, after={"number": invoice.number, "to": to})
    return bool(marked)
