"""Letters on the case page, for agency staff: preview, issue; and the PDF of an issued letter, which the
case's creditor staff may open too (they follow the recovery operations, C39). Thin: parse, call, answer."""

from csp.decorators import csp_exempt
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import agency_case, stored_document
from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.letters.models import Letter, LetterKind
from amiable.letters.services import letter_get, letter_issue, letter_preview


def _case_page(case: Case) -> str:
    return reverse("case_detail", args=[case.pk]) + "#courriers"


def _pdf_headers(response: HttpResponse) -> HttpResponse:
    # Personal data: never kept by a shared cache or the browser's back-forward cache.
    response["Cache-Control"] = "private, no-store"
    return response


# The PDF responses carry no CSP: the browser's PDF viewer is an HTML page of its own that a strict
# policy breaks (Chromium draws it blank); a PDF runs no script of ours.
@login_required
@require_GET
@csp_exempt()
def letter_preview_pdf(request: HttpRequest, case_pk: int, kind: str) -> HttpResponse:
    case = agency_case(request, case_pk)
    if kind not in LetterKind.values:
        raise Http404("Type de courrier inconnu.")
    try:
        pdf = letter_preview(case=case, kind=kind, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_case_page(case))
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"Aperçu de courrier du dossier {case.reference} : {LetterKind(kind).label}",
        case_pk=case.pk,
        creditor_pk=case.creditor_id,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"apercu-{kind}-{case.reference}.pdf")
    return _pdf_headers(response)


@login_required
@require_POST
def letter_issue_post(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = agency_case(request, case_pk)
    try:
        letter = letter_issue(case=case, kind=request.POST.get("kind", ""), actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        label = "Première lettre" if letter.kind == LetterKind.FIRST else "Relance"
        messages.success(request, f"{label} {letter.number} émise : elle partira avec l'impression du jour.")
    return redirect(_case_page(case))


@login_required
@require_GET
@csp_exempt()
def letter_download(request: HttpRequest, letter_pk: int) -> FileResponse:
    try:
        letter = letter_get(user=request.user, pk=letter_pk)
    except Letter.DoesNotExist as exc:
        raise Http404("Courrier introuvable.") from exc
    return stored_document(
        request,
        document=letter,
        label=f"Courrier {letter.number}",
        missing="Le fichier de ce courrier est introuvable.",
    )
