"""The agency's invoice pages: the list and its filters at a constant cost, an invoice with its lines and its
PDF (exact bytes, no cache, access logged), and an invoice marked paid by a supervisor or an agency admin —
once, at a date neither in the future nor before its issue; never a credit note."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from amiable.audit.models import AccessKind, AccessLogEntry, AuditEvent
from amiable.core.exceptions import ApplicationError
from amiable.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from amiable.invoicing.settlement import invoice_mark_paid
from tests.factories import make_case
from tests.invoicing.pages_data import PDF, written_invoice

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def today():
    return timezone.localdate()


def test_the_list_shows_invoices_and_credit_notes(client, reference, users):
    cases = [make_case(structure=reference.csr, last_name=name) for name in ("Durand", "Petit")]
    invoice = written_invoice(structure=reference.csr, months_ago=2, cases=cases)
    note = written_invoice(
        structure=reference.csr, months_ago=1, kind=InvoiceKind.CREDIT_NOTE, credited=invoice, cases=cases[:1]
    )
    pending = written_invoice(structure=reference.other_structure, months_ago=1, pdf=False)
    client.force_login(users.agent)
    page = text_of(client.get(reverse("invoicing:list")))
    assert "3 documents." in page
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    [row] = [r for r in rows if invoice.number in r and "Facture" in r]
    assert reference.cpam.name in row and ">CSR<" in row and ">2<" in row
    assert "9,60" in row and "Préparée" in row  # 10 % of 80,00 € plus 20 % VAT
    assert reverse("invoicing:pdf", args=[invoice.pk]) in row
    [row] = [r for r in rows if note.number in r]
    assert f"Avoir de {invoice.number}" in row and "−4,80" in row
    [row] = [r for r in rows if pending.number in r]
    assert "En préparation" in row and reference.other.name in row
    assert page.index(note.number) < page.index(invoice.number)  # the latest month first


def test_the_filters_narrow_the_list(client, reference, users):
    csr = written_invoice(structure=reference.csr, months_ago=1)
    csr_old = written_invoice(structure=reference.csr, months_ago=3)
    note = written_invoice(structure=reference.csr, months_ago=2, kind=InvoiceKind.CREDIT_NOTE, credited=csr_old)
    other = written_invoice(structure=reference.other_structure, months_ago=1)
    Invoice.objects.filter(pk=csr_old.pk).update(status=InvoiceStatus.PAID, paid_on=today())
    client.force_login(users.agent)
    url = reverse("invoicing:list")

    def numbers(**params):
        return set(
            re.findall(r'<th scope="row"><a href="[^"]+">([A-Z]{2}-T-\d{6})</a></th>', text_of(client.get(url, params)))
        )

    assert numbers() == {csr.number, csr_old.number, note.number, other.number}
    assert numbers(creditor=reference.other.pk) == {other.number}
    assert numbers(structure=reference.csr.pk) == {csr.number, csr_old.number, note.number}
    assert numbers(kind="credit_note") == {note.number}
    assert numbers(status="paid") == {csr_old.number}
    assert numbers(month=f"{csr.period_start:%Y-%m}") == {csr.number, other.number}
    assert "Mois illisible" in text_of(client.get(url, {"month": "novembre"}))


def _list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_2_or_20_invoices(client, reference, users):
    client.force_login(users.agent)
    first = written_invoice(structure=reference.csr, months_ago=1, cases=[make_case(structure=reference.csr)])
    written_invoice(structure=reference.csr, months_ago=2, kind=InvoiceKind.CREDIT_NOTE, credited=first)
    url = reverse("invoicing:list")
    two = _list_queries(client, url)
    for months in range(3, 21):
        written_invoice(structure=reference.cdop if months % 2 else reference.other_structure, months_ago=months)
    assert Invoice.objects.count() == 20
    assert _list_queries(client, url) == two


def test_the_detail_shows_the_lines_the_pdf_and_the_form_for_a_supervisor(client, reference, users):
    cases = [make_case(structure=reference.cdop, last_name=name, reference=f"FAC-{name}") for name in ("Roux", "Blanc")]
    invoice = written_invoice(structure=reference.cdop, cases=cases)
    client.force_login(users.supervisor)
    page = text_of(client.get(reverse("invoicing:detail", args=[invoice.pk])))
    assert f"Facture {invoice.number}" in page
    for case in cases:
        row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if case.reference in r)
        assert case.debtor.display_name in row and "40,00" in row and "4,00" in row
        assert f'href="{reverse("case_detail", args=[case.pk])}"' in row
    assert "10,0" in page and "20,0" in page  # the rates
    assert reverse("invoicing:pdf", args=[invoice.pk]) in page and invoice.sha256 in page
    assert "Marquer comme payée" in page


def test_an_agent_sees_the_invoice_but_not_the_form(client, reference, users):
    invoice = written_invoice(structure=reference.csr)
    client.force_login(users.agent)
    page = text_of(client.get(reverse("invoicing:detail", args=[invoice.pk])))
    assert invoice.number in page and "Marquer comme payée" not in page


def test_a_credit_note_has_no_form_and_cannot_be_marked_paid(client, reference, users):
    invoice = written_invoice(structure=reference.csr, months_ago=2)
    note = written_invoice(structure=reference.csr, kind=InvoiceKind.CREDIT_NOTE, credited=invoice)
    client.force_login(users.supervisor)
    page = text_of(client.get(reverse("invoicing:detail", args=[note.pk])))
    assert f"Avoir {note.number}" in page and "Marquer comme payée" not in page
    assert f'href="{reverse("invoicing:detail", args=[invoice.pk])}"' in page
    invoice_page = text_of(client.get(reverse("invoicing:detail", args=[invoice.pk])))
    assert "Avoirs sur cette facture" in invoice_page and note.number in invoice_page
    with pytest.raises(ApplicationError) as refused:
        invoice_mark_paid(invoice=note, paid_on=today(), actor=users.supervisor)
    assert refused.value.message == (
        f"L'avoir {note.number} ne se paie pas : seule une facture peut être marquée payée."
    )
    response = client.post(reverse("invoicing:paid", args=[note.pk]), {"paid_on": today().isoformat()}, follow=True)
    assert messages_of(response) == [refused.value.message]
    note.refresh_from_db()
    assert note.status == InvoiceStatus.PREPARED and note.paid_on is None
    assert not AuditEvent.objects.filter(verb="invoice.paid").exists()


def test_the_pdf_is_handed_out_as_stored_and_its_reading_logged(client, reference, users):
    invoice = written_invoice(structure=reference.csr)
    client.force_login(users.agent)
    response = client.get(reverse("invoicing:pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.creditor_pk) == (users.agent, AccessKind.DOCUMENT, reference.cpam.pk)
    assert entry.label == f"Facture {invoice.number} (PDF)"


def test_a_pdf_not_produced_yet_is_not_found(client, reference, users):
    invoice = written_invoice(structure=reference.csr, pdf=False)
    client.force_login(users.agent)
    assert client.get(reverse("invoicing:pdf", args=[invoice.pk])).status_code == 404
    assert not AccessLogEntry.objects.exists()


def test_creditor_staff_cannot_reach_the_agencys_pages(client, reference, users):
    invoice = written_invoice(structure=reference.csr)
    client.force_login(users.creditor_admin)  # the invoice's own creditor
    for url in (
        reverse("invoicing:list"),
        reverse("invoicing:detail", args=[invoice.pk]),
        reverse("invoicing:pdf", args=[invoice.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("invoicing:paid", args=[invoice.pk]), {"paid_on": today()}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PREPARED
    assert not AccessLogEntry.objects.exists()


def test_a_supervisor_marks_an_invoice_paid_once(client, reference, users):
    invoice = written_invoice(structure=reference.csr)
    client.force_login(users.supervisor)
    url = reverse("invoicing:paid", args=[invoice.pk])
    response = client.post(url, {"paid_on": today().isoformat()}, follow=True)
    assert messages_of(response) == [f"Facture {invoice.number} marquée payée le {today():%d/%m/%Y}."]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_on) == (InvoiceStatus.PAID, today())
    event = AuditEvent.objects.get(verb="invoice.paid")
    assert (event.actor, event.creditor_pk, event.before) == (
        users.supervisor,
        reference.cpam.pk,
        {"status": "prepared"},
    )
    assert event.after["paid_on"] == today().isoformat() and event.after["total"] == str(invoice.total)
    assert "Marquer comme payée" not in text_of(response)

    again = client.post(url, {"paid_on": (today() - timedelta(days=1)).isoformat()}, follow=True)
    assert messages_of(again) == [
        f"La facture {invoice.number} est déjà marquée payée le {today():%d/%m/%Y} : rien n'a été modifié."
    ]
    invoice.refresh_from_db()
    assert invoice.paid_on == today()
    assert AuditEvent.objects.filter(verb="invoice.paid").count() == 1


def test_an_agency_admin_may_mark_it_paid_an_agent_may_not(reference, users):
    invoice = written_invoice(structure=reference.csr)
    with pytest.raises(ApplicationError) as refused:
        invoice_mark_paid(invoice=invoice, paid_on=today(), actor=users.agent)
    assert refused.value.message == (
        "Seuls les superviseurs et les administrateurs de l'agence enregistrent le paiement d'une facture."
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PREPARED
    assert invoice_mark_paid(invoice=invoice, paid_on=today(), actor=users.agency_admin).status == InvoiceStatus.PAID


def test_a_date_in_the_future_or_before_the_issue_is_refused(client, reference, users):
    invoice = written_invoice(structure=reference.csr, months_ago=2)
    with pytest.raises(ApplicationError) as future:
        invoice_mark_paid(invoice=invoice, paid_on=today() + timedelta(days=1), actor=users.supervisor)
    assert future.value.message == "La date du paiement ne peut pas être dans le futur."
    with pytest.raises(ApplicationError) as early:
        invoice_mark_paid(invoice=invoice, paid_on=invoice.issued_on - timedelta(days=1), actor=users.supervisor)
    assert early.value.message == (
        f"La date du paiement ne peut pas précéder l'émission de la facture, le {invoice.issued_on:%d/%m/%Y}."
    )
    client.force_login(users.supervisor)
    response = client.post(
        reverse("invoicing:paid", args=[invoice.pk]),
        {"paid_on": (today() + timedelta(days=2)).isoformat()},
        follow=True,
    )
    assert messages_of(response) == [future.value.message]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PREPARED and invoice.paid_on is None
    assert not AuditEvent.objects.filter(verb="invoice.paid").exists()
