"""The financial statement of a case (C34) as a page and a PDF, and the statements sent to the creditor: for
agency staff and the case's creditor staff only (any other person gets « not found »). Thin: parse, call,
answer; every read of it is in the access log, like a letter's download."""

from csp.decorators import csp_exempt
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import stored_document
from amiable.cases.models import Case
from amiable.cases.selectors import case_get
from amiable.core.exceptions import ApplicationError
from amiable.payments.models import Statement
from amiable.payments.statement import case_statement, statement_pdf, statements_issued


def _case(request: HttpRequest, pk: int) -> Case:
    try:
        return case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc


def _log(request: HttpRequest, case: Case, label: str) -> None:
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=label,
        case_pk=case.pk,
        creditor_pk=case.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )


def _pdf_headers(response: HttpResponse) -> HttpResponse:
    # Personal data: never kept by a shared cache or the browser's back-forward cache.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def statement_page(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    try:
        statement = case_statement(case=case)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("case_detail", args=[case.pk]) + "#paiements")
    _log(request, case, f"Décompte financier du dossier {case.reference}")
    return render(
        request, "payments/statement.html", {"case": case, "s": statement, "issued": statements_issued(case=case)}
    )


# The PDF responses carry no CSP: the browser's PDF viewer is an HTML page of its own that a strict policy
# breaks (Chromium draws it blank); a PDF runs no script of ours.
@login_required
@require_GET
@csp_exempt()
def statement_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    try:
        pdf = statement_pdf(case_statement(case=case))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("case_detail", args=[case.pk]) + "#paiements")
    _log(request, case, f"Décompte financier du dossier {case.reference} (PDF)")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"decompte-{case.reference}-{stamp}.pdf")
    return _pdf_headers(response)


@login_required
@require_GET
@csp_exempt()
def statement_document(request: HttpRequest, pk: int) -> FileResponse:
    try:
        document = Statement.objects.visible_to(request.user).select_related("case").get(pk=pk)
    except Statement.DoesNotExist as exc:
        raise Http404("Décompte introuvable.") from exc
    return stored_document(
        request,
        document=document,
        label=f"Décompte {document.number}",
        missing="Le fichier de ce décompte est introuvable.",
    )
