"""The creditor's « Reversements » and « Factures » pages: its own remittances and invoices only, only its
structures' for a structure-limited person, the statements (never the SEPA transfer) and the invoices' PDFs
as stored, each reading logged, and lists at a constant cost."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amiable.audit.models import AccessKind, AccessLogEntry
from amiable.invoicing.models import InvoiceKind
from amiable.remittances.models import Remittance
from tests.factories import make_case
from tests.invoicing.pages_data import PDF, written_invoice
from tests.remittances.pages_data import CONTENTS, built_remittance, written_remittance

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def listed(response) -> set[str]:
    """The numbers of the documents in a list page's rows."""
    return set(re.findall(r'<th scope="row"><a href="[^"]+">([A-Z]{2}-[A-Z0-9-]+)</a></th>', text_of(response)))


@pytest.fixture
def money(reference, users):
    """Remittances and invoices of the CPAM's CSR and CDOP and of the other creditor."""
    return {
        "csr": built_remittance(structure=reference.csr, actor=users.agent),
        "cdop": written_remittance(structure=reference.cdop, weeks_ago=1),
        "other": written_remittance(structure=reference.other_structure, weeks_ago=0),
        "csr_invoice": written_invoice(structure=reference.csr, cases=[make_case(structure=reference.csr)]),
        "cdop_invoice": written_invoice(structure=reference.cdop),
        "other_invoice": written_invoice(structure=reference.other_structure),
    }


def test_a_creditor_sees_its_own_remittances_only(client, users, money):
    client.force_login(users.collaborator)
    response = client.get(reverse("portal_remittances"))
    assert response.status_code == 200
    assert listed(response) == {money["csr"].number, money["cdop"].number}
    page = text_of(response)
    assert "Créancier" not in page  # one creditor: no creditor column nor filter
    assert reverse("portal_remittance_file", args=[money["csr"].pk, "pdf"]) in page
    assert "sepa" not in page and "SEPA" not in page


def test_a_structure_limited_user_sees_only_its_structures(client, reference, users, money):
    client.force_login(users.csr_only)
    response = client.get(reverse("portal_remittances"))
    assert listed(response) == {money["csr"].number}
    choices = response.context["form"].fields["structure"].queryset
    assert list(choices) == [reference.csr]
    # Asking for another structure by the filter shows nothing of it (the choice is refused, the list stays).
    filtered = client.get(reverse("portal_remittances"), {"structure": reference.cdop.pk})
    assert money["cdop"].number not in text_of(filtered)
    for url in (
        reverse("portal_remittance", args=[money["cdop"].pk]),
        reverse("portal_remittance_file", args=[money["cdop"].pk, "pdf"]),
        reverse("portal_invoice", args=[money["cdop_invoice"].pk]),
        reverse("portal_invoice_pdf", args=[money["cdop_invoice"].pk]),
    ):
        assert client.get(url).status_code == 404, url
    invoices = client.get(reverse("portal_invoices"))
    assert listed(invoices) == {money["csr_invoice"].number}
    assert not AccessLogEntry.objects.filter(kind=AccessKind.DOCUMENT).exists()


def test_another_creditors_user_finds_nothing(client, users, money):
    client.force_login(users.other_admin)
    assert listed(client.get(reverse("portal_remittances"))) == {money["other"].number}
    assert listed(client.get(reverse("portal_invoices"))) == {money["other_invoice"].number}
    for url in (
        reverse("portal_remittance", args=[money["csr"].pk]),
        reverse("portal_remittance_file", args=[money["csr"].pk, "csv"]),
        reverse("portal_invoice", args=[money["csr_invoice"].pk]),
        reverse("portal_invoice_pdf", args=[money["csr_invoice"].pk]),
    ):
        assert client.get(url).status_code == 404, url


def test_the_remittance_page_shows_its_lines_and_the_statements(client, users, money):
    remittance = money["csr"]
    client.force_login(users.collaborator)
    page = text_of(client.get(reverse("portal_remittance", args=[remittance.pk])))
    assert f"Reversement {remittance.number}" in page
    for line in remittance.lines.select_related("payment__case__debtor"):
        case = line.payment.case
        row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if case.reference in r)
        assert case.debtor.display_name in row and f"{line.payment.collected_on:%d/%m/%Y}" in row
        assert f'href="{reverse("case_detail", args=[case.pk])}"' in row
    for kind in ("pdf", "xlsx", "csv"):
        assert reverse("portal_remittance_file", args=[remittance.pk, kind]) in page
    assert "SEPA" not in page and "Marquer le virement" not in page
    assert f'href="{reverse("remittances:list")}"' not in page  # no agency link: the breadcrumb leads to the portal


@pytest.mark.parametrize("kind", ["pdf", "xlsx", "csv"])
def test_the_statements_are_handed_out_as_stored_and_logged(client, reference, users, money, kind):
    remittance = money["csr"]
    client.force_login(users.csr_only)
    response = client.get(reverse("portal_remittance_file", args=[remittance.pk, kind]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENTS[kind]
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Type"].startswith(
        {"pdf": "application/pdf", "xlsx": "application/vnd.openxml", "csv": "text/csv"}[kind]
    )
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.creditor_pk) == (users.csr_only, AccessKind.DOCUMENT, reference.cpam.pk)
    assert remittance.number in entry.label


def test_the_sepa_transfer_is_never_handed_to_a_creditor(client, users, money):
    client.force_login(users.creditor_admin)
    assert client.get(reverse("portal_remittance_file", args=[money["csr"].pk, "sepa"])).status_code == 404
    assert client.get(reverse("remittances:file", args=[money["csr"].pk, "sepa"])).status_code == 403
    assert not AccessLogEntry.objects.exists()


def test_the_invoices_are_listed_shown_and_handed_out(client, reference, users, money):
    invoice = money["csr_invoice"]
    note = written_invoice(structure=reference.csr, months_ago=0, kind=InvoiceKind.CREDIT_NOTE, credited=invoice)
    client.force_login(users.approver)
    response = client.get(reverse("portal_invoices"))
    assert listed(response) == {invoice.number, note.number, money["cdop_invoice"].number}
    assert reverse("portal_invoice_pdf", args=[invoice.pk]) in text_of(response)
    page = text_of(client.get(reverse("portal_invoice", args=[invoice.pk])))
    line = invoice.lines.select_related("case__debtor").get()
    assert line.case.reference in page and line.case.debtor.display_name in page
    assert "Marquer comme payée" not in page and note.number in page
    pdf = client.get(reverse("portal_invoice_pdf", args=[invoice.pk]))
    assert b"".join(pdf.streaming_content) == PDF
    assert pdf["Content-Type"] == "application/pdf" and pdf["Cache-Control"] == "private, no-store"
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.creditor_pk, entry.label) == (
        users.approver,
        reference.cpam.pk,
        f"Facture {invoice.number} (PDF)",
    )


def test_agency_staff_are_sent_to_the_agencys_pages(client, users, money):
    client.force_login(users.agent)
    assert client.get(reverse("portal_remittances"))["Location"] == reverse("remittances:list")
    response = client.get(reverse("portal_remittance", args=[money["csr"].pk]))
    assert response["Location"] == reverse("remittances:detail", args=[money["csr"].pk])
    assert client.get(reverse("portal_invoices"))["Location"] == reverse("invoicing:list")
    response = client.get(reverse("portal_invoice", args=[money["csr_invoice"].pk]))
    assert response["Location"] == reverse("invoicing:detail", args=[money["csr_invoice"].pk])


def test_the_portal_navigation_links_the_pages(client, users, money):
    client.force_login(users.collaborator)
    page = text_of(client.get(reverse("portal_invoices")))
    nav = page[page.index('class="main-nav"') : page.index("</nav>")]
    assert f'href="{reverse("portal_remittances")}"' in nav
    assert f'href="{reverse("portal_invoices")}" aria-current="page">Factures' in nav
    assert f'href="{reverse("remittances:list")}"' not in nav and f'href="{reverse("invoicing:list")}"' not in nav


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_queries_for_2_or_20_rows(client, reference, users, money):
    client.force_login(users.creditor_admin)
    remittances, invoices = reverse("portal_remittances"), reverse("portal_invoices")
    two = (_queries(client, remittances), _queries(client, invoices))
    for n in range(2, 20):
        written_remittance(structure=reference.cesa if n % 2 else reference.cdop, weeks_ago=n)
        written_invoice(structure=reference.cesa if n % 2 else reference.csr, months_ago=n + 1)
    assert Remittance.objects.filter(creditor=reference.cpam).count() == 20
    assert (_queries(client, remittances), _queries(client, invoices)) == two
