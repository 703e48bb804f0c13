"""The receipts of a case as stored: thin, the download only."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from amiable.cases.access import stored_document
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
    return stored_document(
        request,
        document=receipt,
        label=f"{receipt.get_kind_display()} {receipt.number}",
        missing="Le fichier de ce reçu est introuvable.",
    )
