"""The invoice's Factur-X file and its e-mail: the XML read back from the PDF is valid EN 16931 with the
stored totals and the buyer's Chorus Pro references, the PDF is PDF/A-3 with the legal mentions and no
debtor's name, it is stored once with its hash, and it is e-mailed to the structure's finance service (else
the creditor's contact), or left « Préparée » when there is no address."""

import hashlib
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from facturx import get_facturx_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from amiable.core.dates import add_months, month_bounds
from amiable.core.facturx import NSMAP, check_xml
from amiable.creditors.models import ContractTerms, Structure
from amiable.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from amiable.invoicing.services import invoices_build
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record, payment_reverse
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def month(n):
    return month_bounds(add_months(timezone.localdate().replace(day=1), -n))


def day(n, d):
    return month(n)[0].replace(day=d)


def pay(case, amount, on, actor, method=PaymentMethod.TRANSFER):
    return payment_record(case=case, amount=amount, collected_on=on, method=method, actor=actor)


def build(n=1):
    return invoices_build(month=month(n)[0], actor=None)


def pdf_bytes(invoice):
    with invoice.pdf.open("rb") as handle:
        return handle.read()


def text_of(data):
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


def find(root, path):
    return root.findtext(path, namespaces=NSMAP)


SUMMATION = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation"


@pytest.fixture
def chorus(reference):
    Structure.objects.filter(pk=reference.csr.pk).update(
        legal_commitment_number="EJ-2026-0042", service_code="SERV-CSR", finance_email="compta-csr@cpam.example"
    )
    reference.csr.refresh_from_db()
    return reference


def test_the_pdf_carries_a_valid_en16931_xml_with_the_stored_totals(chorus, users):
    reference = chorus
    for amount in ("10.10", "10.10", "33.35"):
        pay(
            make_case(structure=reference.csr, principal="100.00", last_name="Martinez"), amount, day(1, 3), users.agent
        )
    build()
    invoice = Invoice.objects.get(structure=reference.csr)
    data = pdf_bytes(invoice)

    assert invoice.sha256 == hashlib.sha256(data).hexdigest()
    assert invoice.pdf.name == f"invoices/{invoice.issued_on.year}/{invoice.number}.pdf"
    filename, xml = get_facturx_xml_from_pdf(data, check_xsd=True)
    assert filename == "factur-x.xml"
    check_xml(xml)
    root = etree.fromstring(xml)
    assert find(root, "rsm:ExchangedDocument/ram:ID") == invoice.number
    assert find(root, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert find(root, f"{SUMMATION}/ram:TaxBasisTotalAmount") == f"{invoice.commission:.2f}" == "8.04"
    assert find(root, f"{SUMMATION}/ram:TaxTotalAmount") == f"{invoice.vat:.2f}" == "1.61"
    assert find(root, f"{SUMMATION}/ram:GrandTotalAmount") == f"{invoice.total:.2f}" == "9.65"
    nets = [
        node.text
        for node in root.iterfind(".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", NSMAP)
    ]
    assert sorted(nets) == sorted(f"{line.commission:.2f}" for line in invoice.lines.all()) == ["1.52", "1.52", "5.00"]
    # Chorus Pro routing and the parties' identifiers (L12).
    assert find(root, ".//ram:BuyerReference") == "SERV-CSR"
    assert find(root, ".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "EJ-2026-0042"
    assert find(root, ".//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == reference.csr.siret
    assert find(root, ".//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == "55208131766522"
    assert find(root, ".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "FR40552081317"
    assert find(root, ".//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == f"{month(1)[0]:%Y%m%d}"
    assert find(root, ".//ram:DueDateDateTime/udt:DateTimeString") == f"{invoice.due_on:%Y%m%d}"
    # How to pay: the agency's own account for its invoices, never the client-funds account.
    assert find(root, ".//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == "FR7630004000031234567890143"

    reader = PdfReader(io.BytesIO(data))
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp or 'pdfaid:part="3"' in xmp
    assert reader.metadata.title.endswith(f"facture {invoice.number}")


def test_the_pdf_shows_the_legal_mentions_and_no_debtor(chorus, users):
    reference = chorus
    case = make_case(structure=reference.csr, principal="100.00", last_name="Martinez", first_name="Lucienne")
    pay(case, "40.00", day(1, 3), users.agent)
    build()
    invoice = Invoice.objects.get(structure=reference.csr)
    text = text_of(pdf_bytes(invoice))

    for mention in (
        f"Facture n° {invoice.number}",
        "SIRET 55208131766522",  # the agency
        "FR40552081317",
        f"SIRET {reference.csr.siret}",  # the structure invoiced
        "EJ-2026-0042",
        "SERV-CSR",
        case.reference,
        "R2192-31",  # the CPAM's contract is a public one: the public procurement code's late-payment interest
        "majoré de 8 points",
        "40 €",
        "TVA à 20 %",
        "Échéance",
        "IBAN FR7630004000031234567890143",
    ):
        assert mention in text, mention
    assert "Martinez" not in text and "Lucienne" not in text  # case references only: no debtor's name


def test_the_buyers_siret_is_the_creditors_when_the_structure_has_none(reference, users):
    Structure.objects.filter(pk=reference.cesa.pk).update(siret="")
    pay(make_case(structure=reference.cesa, principal="100.00"), "40.00", day(1, 3), users.agent)
    build()
    _, xml = get_facturx_xml_from_pdf(pdf_bytes(Invoice.objects.get(structure=reference.cesa)), check_xsd=True)
    root = etree.fromstring(xml)
    assert find(root, ".//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == reference.cpam.siret


def test_a_credit_note_is_type_381_and_names_the_invoice(chorus, users):
    reference = chorus
    bounced = pay(make_case(structure=reference.csr, principal="300.00"), "100.00", day(2, 3), users.agent)
    build(2)
    payment_reverse(payment=bounced, reversed_on=day(1, 4), reason="Virement rappelé", actor=users.agent)
    build(1)
    credit = Invoice.objects.get(kind=InvoiceKind.CREDIT_NOTE)
    _, xml = get_facturx_xml_from_pdf(pdf_bytes(credit), check_xsd=True)
    root = etree.fromstring(xml)
    assert find(root, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert find(root, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == credit.credited.number
    assert find(root, f"{SUMMATION}/ram:GrandTotalAmount") == f"{credit.total:.2f}" == "18.00"
    text = text_of(pdf_bytes(credit))
    assert f"Avoir n° {credit.number}" in text
    assert "Échéance" not in text and "pénalités" not in text  # nothing is due on a credit note


def test_a_contract_outside_public_procurement_cites_the_commercial_code(reference, users):
    ContractTerms.objects.filter(creditor=reference.cpam).update(public_procurement=False)
    pay(make_case(structure=reference.csr, principal="100.00"), "40.00", day(1, 3), users.agent)
    build()
    text = text_of(pdf_bytes(Invoice.objects.get(structure=reference.csr)))
    assert "L441-10" in text and "majoré de 10 points" in text and "R2192" not in text


def test_a_structure_without_any_siret_is_not_invoiced_and_the_run_says_why(reference, users):
    from amiable.creditors.models import Creditor

    Structure.objects.filter(pk=reference.cesa.pk).update(siret="")
    Creditor.objects.filter(pk=reference.cpam.pk).update(siret="")
    pay(make_case(structure=reference.cesa, principal="100.00"), "40.00", day(1, 3), users.agent)
    pay(make_case(structure=reference.csr, principal="100.00"), "40.00", day(1, 3), users.agent)
    run = build()
    assert not Invoice.objects.filter(structure=reference.cesa).exists()
    assert Invoice.objects.filter(structure=reference.csr).exists()
    assert any("CESA" in failure and "SIRET" in failure for failure in run.failures)


def test_the_invoice_is_emailed_with_its_file(chorus, users, mailoutbox):
    reference = chorus
    pay(make_case(structure=reference.csr, principal="100.00"), "40.00", day(1, 3), users.agent)
    pay(make_case(structure=reference.cdop, principal="100.00"), "40.00", day(1, 3), users.agent)
    build()

    by_to = {message.to[0]: message for message in mailoutbox}
    assert set(by_to) == {"compta-csr@cpam.example", reference.cpam.contact_email}  # finance, else the contact
    csr = Invoice.objects.get(structure=reference.csr)
    message = by_to["compta-csr@cpam.example"]
    assert csr.number in message.subject and "7,20" in message.body.replace("\u202f", " ").replace("\xa0", " ")
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (f"{csr.number}.pdf", "application/pdf")
    assert content == pdf_bytes(csr)
    assert csr.status == InvoiceStatus.SENT and csr.emailed_to == "compta-csr@cpam.example" and csr.emailed_at

    call_command("build_invoices", "--month", f"{month(1)[0]:%Y-%m}", stdout=io.StringIO())
    assert len(mailoutbox) == 2  # never sent twice


def test_without_an_address_the_invoice_stays_prepared_until_one_is_given(reference, users, mailoutbox):
    assert not reference.other.contact_email and not reference.other_structure.finance_email
    pay(make_case(structure=reference.other_structure, principal="100.00"), "40.00", day(1, 3), users.agent)
    build()
    invoice = Invoice.objects.get(structure=reference.other_structure)
    assert invoice.pdf and invoice.status == InvoiceStatus.PREPARED and invoice.emailed_at is None
    assert mailoutbox == []

    Structure.objects.filter(pk=reference.other_structure.pk).update(finance_email="compta@autre.example")
    build()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and [m.to for m in mailoutbox] == [["compta@autre.example"]]


def test_a_failing_send_is_retried_by_the_next_run(chorus, users, mailoutbox, settings):
    pay(make_case(structure=chorus.csr, principal="100.00"), "40.00", day(1, 3), users.agent)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    run = build()
    invoice = Invoice.objects.get()
    assert run.failures and invoice.pdf and invoice.status == InvoiceStatus.PREPARED and invoice.emailed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert build().failures == []
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and len(mailoutbox) == 1
