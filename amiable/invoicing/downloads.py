"""Handing out an invoice's stored Factur-X PDF, from the agency's pages and from the creditor's portal."""

from django.http import FileResponse, HttpRequest

from amiable.audit.downloads import logged_file_response
from amiable.invoicing.models import Invoice


def invoice_pdf_response(request: HttpRequest, *, invoice: Invoice) -> FileResponse:
    """The stored PDF of an invoice the caller found among those the person may see; 404 when not produced."""
    return logged_file_response(
        request,
        file=invoice.pdf,
        filename=f"{invoice.number}.pdf",
        label=f"{invoice.get_kind_display()} {invoice.number} (PDF)",
        creditor_pk=invoice.creditor_id,
        missing="Le PDF de cette facture n'est pas encore produit.",
    )
