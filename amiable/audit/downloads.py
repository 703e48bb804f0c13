"""Handing out a stored file that holds personal data (a case's document, a remittance's statement, an
invoice): its reading is logged (L11) and no cache keeps it. One place for every download."""

from django.http import FileResponse, Http404, HttpRequest

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record


def logged_file_response(
    request: HttpRequest,
    *,
    file,
    filename: str,
    label: str,
    creditor_pk: int | None,
    case_pk: int | None = None,
    missing: str = "Ce fichier n'est pas encore produit.",
    content_type: str = "application/pdf",
    as_attachment: bool = False,
) -> FileResponse:
    """The stored `file` (a FieldFile) that the caller found among those the person may see; 404 with
    `missing` when nothing is stored yet."""
    try:
        handle = file.open("rb")
    except (FileNotFoundError, ValueError) as exc:  # ValueError: no file attached
        raise Http404(missing) from exc
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=label,
        case_pk=case_pk,
        creditor_pk=creditor_pk,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(handle, as_attachment=as_attachment, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response
