"""Letters on the case page, for agency staff: preview, issue; and the PDF of an issued letter, which the
case's creditor staff may open too (they follow the recovery operations, C39). Thin: parse, call, answer."""

from csp.decorators import csp_exempt
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from amiable.accounts.permissions import can_work_cases
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import agency_case, stored_document
from amiable.cases.models import Case
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.letters.models import Letter, LetterKind
from amiable.letters.print_batch import print_batch_build, print_file_name, print_pending, print_runs_list
from amiable.letters.printables import printables_pending_numbers
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


def _issue_kind(case: Case) -> str:
    """The letter the case's next issue would be: the first, or a reminder once any letter has gone."""
    return LetterKind.REMINDER if case.letters.exists() else LetterKind.FIRST


@login_required
@require_http_methods(["GET", "POST"])
def letter_issue_post(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Issuing is deliberate: the GET says what will happen (numbered, kept, printed) and asks to confirm;
    only the POST of that confirmation issues. A POST without it issues nothing and shows the page again."""
    case = agency_case(request, case_pk)
    kind = _issue_kind(case)
    if request.method == "POST":
        kind = request.POST.get("kind", "")  # an unknown kind is refused by the service, in French
        if request.POST.get("confirm") == "yes":
            try:
                letter = letter_issue(case=case, kind=kind, actor=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                label = "Première lettre" if letter.kind == LetterKind.FIRST else "Relance"
                messages.success(
                    request,
                    f"{label} {letter.number} émise et conservée au dossier : elle partira avec le prochain lot "
                    "de « Courriers à imprimer ».",
                )
            return redirect(_case_page(case))
        messages.error(request, "Confirmez l'émission : rien n'a été émis.")
        if kind not in LetterKind.values:
            kind = _issue_kind(case)
    return render(
        request,
        "letters/issue_confirm.html",
        {"case": case, "kind": kind, "is_first": kind == LetterKind.FIRST, "year": timezone.localdate().year},
    )


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


# --- « Courriers à imprimer » -----------------------------------------------------------------------------


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


@login_required
@require_GET
def print_queue(request: HttpRequest) -> HttpResponse:
    """The letters issued and not yet in a print run, the button that builds today's run, and the runs whose
    files are still kept, for download."""
    _agency_only(request)
    today = timezone.localdate()
    pending = list(print_pending(day=today).select_related("case__debtor"))
    # The page names debtors of every creditor: one entry per view.
    access_log_record(
        user=request.user,
        kind=AccessKind.LIST_VIEW,
        label="Courriers à imprimer",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return render(
        request,
        "letters/print_queue.html",
        {
            "pending": pending,
            "others": printables_pending_numbers(day=today),
            "runs": print_runs_list(),
            "today": today,
        },
    )


@login_required
@require_POST
def print_build(request: HttpRequest) -> HttpResponse:
    """« Imprimer le lot du jour »: the print run of today, as the daily command builds it; building it again
    the same day prints nothing twice (only the letters issued since)."""
    _agency_only(request)
    today = timezone.localdate()
    try:
        run = print_batch_build(day=today, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("letters:print_queue")
    for line in run.withheld:
        messages.warning(request, line)
    if run.numbers:
        messages.success(
            request,
            f"Lot du {format_date(today)} prêt : {len(run.numbers)} courrier(s), {run.pages} page(s). "
            "Téléchargez le PDF et le bordereau ci-dessous.",
        )
    else:
        messages.info(request, f"Aucun nouveau courrier à imprimer pour le {format_date(today)}.")
    return redirect("letters:print_queue")


@login_required
@require_GET
@csp_exempt()
def print_file(request: HttpRequest, stem: str, ext: str) -> FileResponse:
    """A print run's PDF or CSV manifest: it names debtors of every creditor, so its reading is logged and no
    cache keeps it."""
    _agency_only(request)
    name = print_file_name(stem=stem, ext=ext)
    if name is None or not default_storage.exists(name):
        raise Http404("Ce fichier d'impression n'existe pas ou a été supprimé.")
    access_log_record(
        user=request.user,
        kind=AccessKind.DOCUMENT,
        label=f"Fichier d'impression {stem}.{ext}",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    content_type = "application/pdf" if ext == "pdf" else "text/csv; charset=utf-8"
    response = FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=ext == "csv",
        filename=f"impression-{stem}.{ext}",
        content_type=content_type,
    )
    return _pdf_headers(response)
