"""Handing out a remittance's stored files, from the agency's pages and from the creditor's portal: each
reading is logged (L11: the statement names debtors) and no cache keeps it."""

from django.http import FileResponse, Http404, HttpRequest

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.remittances.listing import FILES
from amiable.remittances.models import Remittance


def remittance_file_response(request: HttpRequest, *, remittance: Remittance, kind: str) -> FileResponse:
    """The stored file `kind` (see `listing.FILES`) of a remittance the caller found among those the person may
    see; 404 when it is not produced yet."""
    if kind not in FILES:
        raise Http404("Fichier inconnu.")
    field, label, extension, content_type = FILES[kind]
    try:
        file = getattr(remittance, field).open("rb")
    except (FileNotFoundError, ValueError) as exc:  # ValueError: no file attached yet
        raise Http404("Ce fichier n'est pas encore produit.") from exc
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"Reversement {remittance.number} — {label}",
        creditor_pk=remittance.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(
        file,
        as_attachment=kind != "pdf",
        filename=f"{remittance.number}{'-virement' if kind == 'sepa' else ''}.{extension}",
        content_type=content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response
