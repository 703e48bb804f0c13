"""The Factur-X document of an invoice or credit note (L12): the EN 16931 XML built from the stored lines, the
visual PDF/A-3 rendered from `invoicing/invoice_pdf.html`, and the one embedded in the other.

The lines name cases by the creditor's reference only: an invoice goes to the creditor's finance service,
who has no need of the debtor's name, and never anything of the care (medical secrecy)."""

from decimal import Decimal

from django.template.loader import render_to_string

from amiable.core.facturx import Address, Buyer, Line, Seller, en16931_xml, invoice_facturx, invoice_totals
from amiable.core.money import format_money
from amiable.creditors.selectors import agency_get, terms_for
from amiable.invoicing.models import Invoice, InvoiceLine
from amiable.letters.services import letter_pdf

# The late-payment mentions (L12): a public contract's (the CPAM's) follow the public procurement code, any
# other the commercial code. 30 days either way (R2192-10 for a contracting authority, L441-10 by default).
PAYMENT_TERMS = {
    True: (
        "Paiement à 30 jours à compter de la réception de la facture. Pas d'escompte pour paiement anticipé. "
        "En cas de retard de paiement, intérêts moratoires au taux appliqué par la Banque centrale européenne "
        "à son opération de refinancement la plus récente majoré de 8 points, et indemnité forfaitaire pour "
        "frais de recouvrement de 40 € (articles R2192-10, R2192-31 et D2192-35 du code de la commande "
        "publique)."
    ),
    False: (
        "Paiement à 30 jours à compter de la date d'émission. Pas d'escompte pour paiement anticipé. "
        "En cas de retard de paiement, des pénalités sont exigibles au taux appliqué par la Banque centrale "
        "européenne à son opération de refinancement la plus récente majoré de 10 points, ainsi qu'une "
        "indemnité forfaitaire pour frais de recouvrement de 40 € (articles L441-10 et D441-5 du code de "
        "commerce)."
    ),
}


def payment_terms(invoice: Invoice) -> str:
    return PAYMENT_TERMS[terms_for(invoice.creditor).public_procurement]


CREDIT_TERMS = "Avoir à déduire d'un prochain règlement, ou remboursé par l'agence."


def percent(value: Decimal) -> str:
    """A rate the French way, without useless zeros: « 15 % », « 12,5 % »."""
    return f"{value.normalize():f}".replace(".", ",") + "\u00a0%"


def line_label(invoice: Invoice, line: InvoiceLine, reference: str) -> str:
    """What a line is, as the XML names it: the commission on the sums recovered on one case."""
    what = "Avoir sur commission de recouvrement" if invoice.is_credit_note else "Commission de recouvrement"
    return f"{what} — dossier {reference} — sommes recouvrées : {format_money(line.base)}"


def facturx_lines(invoice: Invoice, lines: list[InvoiceLine]) -> list[Line]:
    """One Factur-X line per case, quantity 1 at the line's commission: the net of each line is the
    commission already rounded to the cent, so the XML's totals are the stored ones."""
    return [
        Line(
            label=line_label(invoice, line, line.case.reference),
            quantity=Decimal(1),
            unit_price=line.commission,
            vat_rate=invoice.vat_rate,
        )
        for line in lines
    ]


def _parties(invoice: Invoice) -> tuple[Seller, Buyer]:
    agency = agency_get()
    structure, creditor = invoice.structure, invoice.creditor
    seller = Seller(
        name=agency.name,
        siret=agency.siret,
        vat_number=agency.vat_number,
        address=Address(
            line1=agency.address_line1, line2=agency.address_line2, postcode=agency.postal_code, city=agency.city
        ),
    )
    buyer = Buyer(
        name=f"{creditor.name} — {structure.name}",
        siret=structure.siret or creditor.siret,
        address=Address(
            line1=structure.address_line1,
            line2=structure.address_line2,
            postcode=structure.postal_code,
            city=structure.city,
        ),
        legal_commitment=structure.legal_commitment_number,
        service_code=structure.service_code,
    )
    return seller, buyer


def invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.select_related("case").order_by("pk"))


def invoice_xml(invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """The EN 16931 XML of the invoice; refused if its totals are not the stored ones."""
    rows = facturx_lines(invoice, lines)
    totals = invoice_totals(rows)
    if (totals.net, totals.vat_total, totals.total) != (invoice.commission, invoice.vat, invoice.total):
        raise ValueError(f"Les totaux de la facture {invoice.number} ne sont pas ceux de ses lignes.")
    seller, buyer = _parties(invoice)
    return en16931_xml(
        number=invoice.number,
        issue_date=invoice.issued_on,
        seller=seller,
        buyer=buyer,
        lines=rows,
        due_date=invoice.due_on,
        period=(invoice.period_start, invoice.period_end),
        credit_note_of=invoice.credited.number if invoice.is_credit_note else "",
        note=CREDIT_TERMS if invoice.is_credit_note else payment_terms(invoice),
        seller_iban="" if invoice.is_credit_note else agency_get().invoice_iban,
    )


def invoice_html(invoice: Invoice, lines: list[InvoiceLine]) -> str:
    seller, buyer = _parties(invoice)
    return render_to_string(
        "invoicing/invoice_pdf.html",
        {
            "agency": agency_get(),
            "invoice": invoice,
            "lines": lines,
            "buyer": buyer,
            "creditor": invoice.creditor,
            "structure": invoice.structure,
            "title": "Avoir" if invoice.is_credit_note else "Facture",
            "payment_terms": payment_terms(invoice),
            "commission_rate": percent(invoice.commission_rate),
            "vat_rate": percent(invoice.vat_rate),
        },
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    """The Factur-X PDF/A-3 of the invoice: the visual document with its XML embedded."""
    lines = invoice_lines(invoice)
    xml = invoice_xml(invoice, lines)
    return invoice_facturx(pdf=letter_pdf(invoice_html(invoice, lines)), xml=xml)
