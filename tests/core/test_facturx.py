"""The Factur-X EN 16931 XML and its PDF/A-3: valid against the XSD, exact totals, readable back from the PDF."""

import io
from datetime import date
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader

from amiable.core.facturx import (
    Address,
    Buyer,
    Line,
    Seller,
    en16931_xml,
    invoice_facturx,
    invoice_totals,
)
from amiable.letters.services import letter_pdf

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SELLER = Seller(
    name="Agence Amiable",
    siret="12345678900017",
    vat_number="FR32123456789",
    address=Address("12 rue de la Paix", "75002", "Paris"),
)
BUYER = Buyer(
    name="CPAM de Paris — Hôpital Saint-Éloi",
    siret="18000000000011",
    address=Address("21 rue Georges Auric", "75019", "Paris"),
    legal_commitment="EJ-2026-0042",
    service_code="SERV-RECOUV",
)
LINES = [
    Line("Commission dossier CP-0001 (8 % de 120,55 €)", Decimal("1"), Decimal("9.644"), Decimal("20")),
    Line("Commission dossier CP-0002 (8 % de 33,33 €)", Decimal("1"), Decimal("2.6664"), Decimal("20")),
    Line("Commission dossier CP-0003 (8 % de 0,07 €)", Decimal("1"), Decimal("0.0056"), Decimal("20")),
    Line("Frais de dossier", Decimal("3"), Decimal("1.115"), Decimal("5.5")),
]


def build(**kwargs):
    arguments = {
        "number": "FAC-2026-000012",
        "issue_date": date(2026, 12, 1),
        "seller": SELLER,
        "buyer": BUYER,
        "lines": LINES,
        "period": (date(2026, 11, 1), date(2026, 11, 30)),
        "seller_iban": "FR7630006000011234567890189",
    }
    return en16931_xml(**(arguments | kwargs))


def text(root, path):
    return root.findtext(path, namespaces=NS)


def amounts(root, path):
    return [Decimal(e.text) for e in root.iterfind(path, namespaces=NS)]


def test_the_rounding_is_per_line_then_vat_per_rate():
    totals = invoice_totals(LINES)
    # 9.644 -> 9.64; 2.6664 -> 2.67; 0.0056 -> 0.01; 3 x 1.115 = 3.345 -> 3.35 (half up)
    assert totals.lines == [Decimal("9.64"), Decimal("2.67"), Decimal("0.01"), Decimal("3.35")]
    # 20 %: basis 12.32 -> 2.464 -> 2.46; 5.5 %: basis 3.35 -> 0.18425 -> 0.18
    assert totals.vat == {
        Decimal("5.5"): (Decimal("3.35"), Decimal("0.18")),
        Decimal("20"): (Decimal("12.32"), Decimal("2.46")),
    }
    assert (totals.net, totals.vat_total, totals.total) == (Decimal("15.67"), Decimal("2.64"), Decimal("18.31"))


def test_a_half_cent_rounds_up():
    assert invoice_totals([("x", Decimal("1"), Decimal("0.125"), Decimal("20"))]).lines == [Decimal("0.13")]
    # 10.00 at 20 % with a basis of 0.025 rounding: VAT 2.50 exact; 0.03 x 20 % = 0.006 -> 0.01
    assert invoice_totals([("x", Decimal("1"), Decimal("0.03"), Decimal("20"))]).vat_total == Decimal("0.01")


def test_the_xml_validates_against_the_en16931_xsd():
    xml = build()
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    root = etree.fromstring(xml)
    assert text(root, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == "urn:cen.eu:en16931:2017"
    assert text(root, "rsm:ExchangedDocument/ram:ID") == "FAC-2026-000012"
    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert text(root, ".//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20261201"


def test_the_legal_mentions_are_carried():
    root = etree.fromstring(build())
    agreement = root.find(".//ram:ApplicableHeaderTradeAgreement", NS)
    assert text(agreement, "ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == "12345678900017"
    assert text(agreement, "ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "FR32123456789"
    assert text(agreement, "ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == "18000000000011"
    assert text(agreement, "ram:BuyerTradeParty/ram:Name") == "CPAM de Paris — Hôpital Saint-Éloi"
    assert text(agreement, "ram:BuyerReference") == "SERV-RECOUV"
    assert text(agreement, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "EJ-2026-0042"
    settlement = root.find(".//ram:ApplicableHeaderTradeSettlement", NS)
    assert text(settlement, ".//ram:DueDateDateTime/udt:DateTimeString") == "20261231"
    assert text(settlement, ".//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == "20261101"
    assert text(settlement, ".//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == "FR7630006000011234567890189"


def test_the_totals_add_up_as_en16931_requires():
    root = etree.fromstring(build())
    settlement = ".//ram:ApplicableHeaderTradeSettlement"
    line_nets = amounts(root, ".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
    assert line_nets == [Decimal("9.64"), Decimal("2.67"), Decimal("0.01"), Decimal("3.35")]
    summation = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    (line_total,) = amounts(root, f"{summation}/ram:LineTotalAmount")
    (tax_total,) = amounts(root, f"{summation}/ram:TaxTotalAmount")
    (grand_total,) = amounts(root, f"{summation}/ram:GrandTotalAmount")
    (due,) = amounts(root, f"{summation}/ram:DuePayableAmount")
    assert line_total == sum(line_nets)  # BR-CO-10
    bases = amounts(root, f"{settlement}/ram:ApplicableTradeTax/ram:BasisAmount")
    vats = amounts(root, f"{settlement}/ram:ApplicableTradeTax/ram:CalculatedAmount")
    rates = amounts(root, f"{settlement}/ram:ApplicableTradeTax/ram:RateApplicablePercent")
    assert rates == [Decimal("5.50"), Decimal("20.00")]
    for basis, vat, rate in zip(bases, vats, rates, strict=True):  # BR-CO-17
        assert vat == (basis * rate / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert sum(bases) == line_total  # BR-CO-18 / BR-S-08
    assert tax_total == sum(vats) == Decimal("2.64")  # BR-CO-14
    assert grand_total == due == line_total + tax_total == Decimal("18.31")  # BR-CO-15, BR-CO-16


def test_a_credit_note_names_the_invoice_it_corrects():
    xml = build(number="AV-2026-000001", credit_note_of="FAC-2026-000012", lines=LINES[:1])
    root = etree.fromstring(xml)
    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert text(root, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == "FAC-2026-000012"


def test_optional_references_may_be_absent():
    buyer = Buyer(name="CPAM", siret="18000000000011", address=BUYER.address)
    root = etree.fromstring(build(buyer=buyer, period=None, seller_iban=""))
    assert root.find(".//ram:BuyerReference", NS) is None
    assert root.find(".//ram:BuyerOrderReferencedDocument", NS) is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"lines": []}, ValueError),
        ({"lines": [("", Decimal("1"), Decimal("1"), Decimal("20"))]}, ValueError),
        ({"lines": [("x", Decimal("1"), 1.5, Decimal("20"))]}, TypeError),
        ({"lines": [("x", Decimal("1"), Decimal("1"), Decimal("0"))]}, ValueError),
        ({"seller": Seller("Agence", "", "FR32123456789", SELLER.address)}, ValueError),
        ({"currency": "EURO"}, ValueError),
        ({"lines": [("x", Decimal("1"), Decimal("-1"), Decimal("20"))]}, ValueError),
        ({"period": (date(2026, 11, 30), date(2026, 11, 1))}, ValueError),
    ],
)
def test_a_bad_invoice_is_refused(kwargs, error):
    with pytest.raises(error):
        build(**kwargs)


def visual_pdf() -> bytes:
    html = (
        "<html lang='fr'><head><title>Facture FAC-2026-000012</title></head>"
        "<body><h1>Facture FAC-2026-000012</h1><p>Total TTC : 18,31 €</p></body></html>"
    )
    return letter_pdf(html)


def test_the_pdf_carries_the_xml_which_reads_back_with_its_totals():
    xml = build()
    pdf = invoice_facturx(pdf=visual_pdf(), xml=xml)
    filename, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert embedded == xml
    root = etree.fromstring(embedded)
    summation = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert text(root, f"{summation}/ram:GrandTotalAmount") == "18.31"
    assert text(root, f"{summation}/ram:TaxTotalAmount") == "2.64"
    reader = PdfReader(io.BytesIO(pdf))
    assert "18,31" in reader.pages[0].extract_text()
    metadata = reader.xmp_metadata
    assert metadata is not None
    xmp = metadata.stream.get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp or 'pdfaid:part="3"' in xmp
    assert "EN 16931" in xmp
    assert reader.metadata.title == "Agence Amiable : facture FAC-2026-000012"
    assert reader.metadata.subject == "Facture FAC-2026-000012 du 01/12/2026 émise par Agence Amiable"


def test_a_credit_note_pdf_says_so():
    xml = build(number="AV-2026-000001", credit_note_of="FAC-2026-000012", lines=LINES[:1])
    reader = PdfReader(io.BytesIO(invoice_facturx(pdf=visual_pdf(), xml=xml)))
    assert reader.metadata.title == "Agence Amiable : avoir AV-2026-000001"


def test_an_invalid_xml_is_not_embedded():
    with pytest.raises(ValueError, match="EN 16931"):
        invoice_facturx(pdf=visual_pdf(), xml=b"<Invoice/>")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=50),
            st.integers(min_value=0, max_value=10**7),
            st.sampled_from(["20", "10", "5.5", "2.1"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_invoice_adds_up(rows):
    lines = [("x", Decimal(q), Decimal(p).scaleb(-4), Decimal(r)) for q, p, r in rows]
    totals = invoice_totals(lines)
    for (quantity, price, _), net in zip(rows, totals.lines, strict=True):
        assert abs(net - Decimal(quantity) * Decimal(price).scaleb(-4)) <= Decimal("0.005")
    assert totals.net == sum(totals.lines) == sum(basis for basis, _ in totals.vat.values())
    for rate, (basis, vat) in totals.vat.items():
        assert abs(vat - basis * rate / 100) <= Decimal("0.005")
    assert totals.vat_total == sum(vat for _, vat in totals.vat.values())
    assert totals.total == totals.net + totals.vat_total
    assert all(value == value.quantize(Decimal("0.01")) for value in [*totals.lines, totals.net, totals.total])
