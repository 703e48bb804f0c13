"""The receipts of a case as stored: thin, the download only."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.payments.models import Receipt
from amiable.payments.selectors import receipt_get


# The PDF carries no CSP: the browser's PDF viewer is a page of its own that a strict policy draws blank.
@login_required
@require_GET
@csp_exempt()
def receipt_download(request: HttpRequest, pk: int) -> FileResponse:
    """A receipt or cancellation as stored, for agency staff and the case's creditor staff (C17, C39)."""
    try:
        receipt = receipt_get(user=request.user, pk=pk)
    except Receipt.DoesNotExist as exc:
        raise Http404("Reçu introuvable.") from exc
    try:
        file = receipt.pdf.open("rb")
    except FileNotFoundError as exc:
        raise Http404("Le fichier de ce reçu est introuvable.") from exc
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"{receipt.get_kind_display()} {receipt.number}",
        case_pk=receipt.case_id,
        creditor_pk=receipt.case.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(file, filename=f"{receipt.number}.pdf", content_type="application/pdf")
    # Personal data: never kept by a shared cache or the browser's back-forward cache.
    response["Cache-Control"] = "private, no-store"
    return response
