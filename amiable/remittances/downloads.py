"""Handing out a remittance's stored files, from the agency's pages and from the creditor's portal (L11: the
statement names debtors)."""

from django.http import FileResponse, Http404, HttpRequest

from amiable.audit.downloads import logged_file_response
from amiable.remittances.listing import FILES
from amiable.remittances.models import Remittance


def remittance_file_response(request: HttpRequest, *, remittance: Remittance, kind: str) -> FileResponse:
    """The stored file `kind` (see `listing.FILES`) of a remittance the caller found among those the person may
    see; 404 when it is not produced yet."""
    if kind not in FILES:
        raise Http404("Fichier inconnu.")
    field, label, extension, content_type = FILES[kind]
    return logged_file_response(
        request,
        file=getattr(remittance, field),
        filename=f"{remittance.number}{'-virement' if kind == 'sepa' else ''}.{extension}",
        label=f"Reversement {remittance.number} — {label}",
        creditor_pk=remittance.creditor_id,
        content_type=content_type,
        as_attachment=kind != "pdf",
    )
