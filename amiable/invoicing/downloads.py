"""Handing out an invoice's stored Factur-X PDF, from the agency's pages and from the creditor's portal: each
reading is logged (L11: its lines name debtors) and no cache keeps it."""

from django.http import FileResponse, Http404, HttpRequest

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.invoicing.models import Invoice


def invoice_pdf_response(request: HttpRequest, *, invoice: Invoice) -> FileResponse:
    """The stored PDF of an invoice the caller found among those the person may see; 404 when not produced."""
    try:
        file = invoice.pdf.open("rb")
    except (FileNotFoundError, ValueError) as exc:  # ValueError: no file attached yet
        raise Http404("Le PDF de cette facture n'est pas encore produit.") from exc
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"{invoice.get_kind_display()} {invoice.number} (PDF)",
        creditor_pk=invoice.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(file, filename=f"{invoice.number}.pdf", content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    return response
