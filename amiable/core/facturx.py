"""Factur-X invoices: the EN 16931 (CII) XML of an invoice or credit note, and the PDF/A-3 that carries it.

The XML follows the Factur-X EN 16931 profile (UN/CEFACT Cross Industry Invoice D16B, guideline
``urn:cen.eu:en16931:2017``) and is checked against the XSD that the ``factur-x`` package ships before
it is returned; ``invoice_facturx`` embeds it into the visual PDF (PDF/A-3, as WeasyPrint renders our
documents) with the same package. Nothing is fetched: the schematron check of ``factur-x`` needs an
outside server and is not run; the arithmetic rules it would check (BR-CO-10 to BR-CO-17) hold by
construction here and are asserted in the tests.

Rounding, the EN 16931 way: each line's net amount is quantity × unit price rounded to the cent
(ROUND_HALF_UP, ``core.money.to_money``); VAT is computed once per rate on the sum of that rate's line
amounts, rounded the same way; the totals are exact sums of those rounded amounts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from facturx import generate_from_binary, xml_check_xsd
from lxml import etree

from amiable.core.money import ZERO, to_money

__all__ = [
    "Address",
    "Buyer",
    "Line",
    "Seller",
    "Totals",
    "en16931_xml",
    "invoice_facturx",
    "invoice_totals",
]

GUIDELINE = "urn:cen.eu:en16931:2017"
INVOICE, CREDIT_NOTE = "380", "381"
PAYMENT_DAYS = 30  # due date when none is given (L441-10 of the Commercial Code: 30 days by default)

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
SIRET_SCHEME = "0009"  # ISO 6523 code of the French SIRET, as Chorus Pro expects


@dataclass(frozen=True)
class Address:
    line1: str
    postcode: str
    city: str
    country: str = "FR"
    line2: str = ""


@dataclass(frozen=True)
class Seller:
    """The agency: who invoices."""

    name: str
    siret: str
    vat_number: str
    address: Address


@dataclass(frozen=True)
class Buyer:
    """The structure (or creditor) invoiced; Chorus Pro routes on its legal commitment number and service code."""

    name: str
    siret: str
    address: Address
    legal_commitment: str = ""
    service_code: str = ""


@dataclass(frozen=True)
class Line:
    label: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal  # percent, e.g. Decimal("20")


@dataclass(frozen=True)
class Totals:
    """What the invoice adds up to: net per line, VAT basis and amount per rate, and the totals."""

    lines: list[Decimal]
    vat: dict[Decimal, tuple[Decimal, Decimal]]  # rate -> (basis, VAT amount)
    net: Decimal
    vat_total: Decimal
    total: Decimal


def _decimal(value, what: str) -> Decimal:
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{what} : un Decimal est attendu.")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} invalide : {value!r}.")
    return result


def _line(value: Line | tuple) -> Line:
    line = value if isinstance(value, Line) else Line(*value)
    if not (line.label or "").strip():
        raise ValueError("Ligne de facture sans libellé.")
    rate = _decimal(line.vat_rate, "Taux de TVA")
    if not Decimal(0) < rate < Decimal(100):
        raise ValueError(f"Taux de TVA invalide : {rate} (un taux normal, en pourcentage, est attendu).")
    price = _decimal(line.unit_price, "Prix")
    if price < 0:  # BR-27: a price is never negative; a correction is a credit note
        raise ValueError(f"Prix unitaire négatif sur la ligne « {line.label} » : émettez un avoir.")
    return Line(line.label.strip(), _decimal(line.quantity, "Quantité"), price, rate)


def invoice_totals(lines: list[Line | tuple]) -> Totals:
    """The invoice's amounts with the documented rounding: per line to the cent, then VAT per rate."""
    checked = [_line(line) for line in lines]
    nets = [to_money(line.quantity * line.unit_price) for line in checked]
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line, net in zip(checked, nets, strict=True):
        bases[line.vat_rate.normalize()] += net
    vat = {rate: (basis, to_money(basis * rate / 100)) for rate, basis in sorted(bases.items())}
    net_total = to_money(sum(nets, ZERO))
    vat_total = to_money(sum((amount for _, amount in vat.values()), ZERO))
    return Totals(lines=nets, vat=vat, net=net_total, vat_total=vat_total, total=to_money(net_total + vat_total))


def _sub(parent, tag: str, text: str | None = None, **attrib) -> etree._Element:
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", **attrib)
    if text is not None:
        node.text = text
    return node


def _amount(value: Decimal) -> str:
    return f"{to_money(value):.2f}"


def _rate(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _date(parent, tag: str, value: date) -> None:
    _sub(_sub(parent, tag), "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(parent, tag: str, *, name: str, siret: str, address: Address, vat_number: str = "") -> None:
    party = _sub(parent, tag)
    _sub(party, "ram:Name", name)
    if siret:
        _sub(_sub(party, "ram:SpecifiedLegalOrganization"), "ram:ID", siret.replace(" ", ""), schemeID=SIRET_SCHEME)
    postal = _sub(party, "ram:PostalTradeAddress")
    _sub(postal, "ram:PostcodeCode", address.postcode)
    _sub(postal, "ram:LineOne", address.line1)
    if address.line2:
        _sub(postal, "ram:LineTwo", address.line2)
    _sub(postal, "ram:CityName", address.city)
    _sub(postal, "ram:CountryID", address.country)
    if vat_number:
        _sub(_sub(party, "ram:SpecifiedTaxRegistration"), "ram:ID", vat_number.replace(" ", ""), schemeID="VA")


def en16931_xml(
    *,
    number: str,
    issue_date: date,
    seller: Seller,
    buyer: Buyer,
    lines: list[Line | tuple],
    currency: str = "EUR",
    due_date: date | None = None,
    period: tuple[date, date] | None = None,
    seller_iban: str = "",
    credit_note_of: str = "",
    note: str = "",
) -> bytes:
    """The Factur-X EN 16931 XML of invoice `number` (a credit note when `credit_note_of` names the invoice
    it corrects, amounts then positive). `period` is the invoiced period; `seller_iban` adds the SEPA
    transfer details. Raises ValueError when the result does not match the EN 16931 XSD."""
    if not number or not lines:
        raise ValueError("Une facture a un numéro et au moins une ligne.")
    if not re.fullmatch(r"[A-Z]{3}", currency or ""):
        raise ValueError(f"Devise invalide : « {currency} » (code ISO 4217 attendu, par exemple EUR).")
    if not seller.siret or not seller.vat_number:
        raise ValueError("Le SIRET et le numéro de TVA de l'agence sont des mentions obligatoires.")
    if period is not None and period[0] > period[1]:
        raise ValueError(f"Période facturée à l'envers : du {period[0]} au {period[1]}.")
    totals = invoice_totals(lines)
    checked = [_line(line) for line in lines]
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    document = _sub(root, "rsm:ExchangedDocument")
    _sub(document, "ram:ID", number)
    _sub(document, "ram:TypeCode", CREDIT_NOTE if credit_note_of else INVOICE)
    _date(document, "ram:IssueDateTime", issue_date)
    if note:
        _sub(_sub(document, "ram:IncludedNote"), "ram:Content", note)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for index, (line, net) in enumerate(zip(checked, totals.lines, strict=True), start=1):
        item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(index))
        _sub(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.label)
        price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
        _sub(price, "ram:ChargeAmount", f"{line.unit_price:f}")
        _sub(
            _sub(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", _quantity(line.quantity), unitCode="C62"
        )
        settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:CategoryCode", "S")
        _sub(tax, "ram:RateApplicablePercent", _rate(line.vat_rate))
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", _amount(net))

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    if buyer.service_code:
        _sub(agreement, "ram:BuyerReference", buyer.service_code)
    _party(
        agreement,
        "ram:SellerTradeParty",
        name=seller.name,
        siret=seller.siret,
        address=seller.address,
        vat_number=seller.vat_number,
    )
    _party(agreement, "ram:BuyerTradeParty", name=buyer.name, siret=buyer.siret, address=buyer.address)
    if buyer.legal_commitment:
        _sub(_sub(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", buyer.legal_commitment)
    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", currency)
    if seller_iban:
        means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "ram:TypeCode", "58")  # SEPA credit transfer
        _sub(_sub(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", seller_iban.replace(" ", ""))
    for rate, (basis, amount) in totals.vat.items():
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _amount(amount))
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:BasisAmount", _amount(basis))
        _sub(tax, "ram:CategoryCode", "S")
        _sub(tax, "ram:RateApplicablePercent", _rate(rate))
    if period is not None:
        billing = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date(billing, "ram:StartDateTime", period[0])
        _date(billing, "ram:EndDateTime", period[1])
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _date(terms, "ram:DueDateDateTime", due_date or issue_date + timedelta(days=PAYMENT_DAYS))
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(totals.net))
    _sub(summation, "ram:TaxBasisTotalAmount", _amount(totals.net))
    _sub(summation, "ram:TaxTotalAmount", _amount(totals.vat_total), currencyID=currency)
    _sub(summation, "ram:GrandTotalAmount", _amount(totals.total))
    _sub(summation, "ram:DuePayableAmount", _amount(totals.total))
    if credit_note_of:
        _sub(_sub(settlement, "ram:InvoiceReferencedDocument"), "ram:IssuerAssignedID", credit_note_of)

    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    check_xml(xml)
    return xml


def check_xml(xml: bytes) -> None:
    """Raise ValueError unless `xml` is valid against the Factur-X EN 16931 XSD shipped with factur-x."""
    try:
        xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:  # factur-x raises a bare Exception on an invalid document
        raise ValueError(f"XML Factur-X non conforme au schéma EN 16931 : {exc}") from exc


def invoice_facturx(*, pdf: bytes, xml: bytes) -> bytes:
    """The Factur-X PDF/A-3: the visual `pdf` (a PDF/A, as WeasyPrint renders it) with `xml` embedded as
    factur-x.xml. The XML is checked against the EN 16931 XSD first."""
    check_xml(xml)
    return generate_from_binary(
        pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, lang="fr-FR", pdf_metadata=_metadata(xml)
    )


def _metadata(xml: bytes) -> dict[str, str]:
    """The PDF's title and subject in French (factur-x would write them in English)."""
    root = etree.fromstring(xml)
    number = root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NSMAP)
    credit = root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NSMAP) == CREDIT_NOTE
    kind, issued_by = ("Avoir", "émis") if credit else ("Facture", "émise")
    issued = root.findtext("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", namespaces=NSMAP)
    seller = root.findtext(".//ram:SellerTradeParty/ram:Name", namespaces=NSMAP)
    day = f"{issued[6:8]}/{issued[4:6]}/{issued[0:4]}"
    return {
        "author": seller,
        "keywords": f"Factur-X, {kind}",
        "title": f"{seller} : {kind.lower()} {number}",
        "subject": f"{kind} {number} du {day} {issued_by} par {seller}",
    }
