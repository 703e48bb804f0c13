"""Who may act on a case from the agency's pages, and how a case's stored documents are handed out."""

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest

from amiable.accounts.permissions import can_work_cases
from amiable.audit.downloads import logged_file_response
from amiable.cases.models import Case
from amiable.cases.selectors import case_get


def agency_case(request: HttpRequest, pk: int) -> Case:
    """The case if the person may see it — otherwise « not found », as on every case URL — and only for
    agency staff (the case's own creditor staff are « forbidden »)."""
    try:
        case = case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")
    return case


def stored_document(request: HttpRequest, *, document, label: str, missing: str) -> FileResponse:
    """The stored PDF of a case's document (letter, receipt, plan, statement) that the caller found among those
    the person may see: its reading is logged (L11) and no cache keeps it (personal data)."""
    return logged_file_response(
        request,
        file=document.pdf,
        filename=f"{document.number}.pdf",
        label=label,
        case_pk=document.case_id,
        creditor_pk=document.case.creditor_id,
        missing=missing,
    )
