"""The agency's pages of the end of cases, under /fin/: the certificates to issue (one by one from the case
page, or for a selection here), the documents to give back and their return, and the moves of the case page's
« Fin du dossier » card. Thin: parse, call one service or selector, go back where the person was."""

from csp.decorators import csp_exempt
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from amiable.accounts.permissions import can_close_cases, can_work_cases
from amiable.audit.downloads import logged_file_response
from amiable.cases.access import agency_case
from amiable.closure.forms import BulkCertificatesForm, IrrecoverableForm, MoveForm, ReturnForm
from amiable.closure.models import CaseClosure, Certificate, DocumentReturn
from amiable.closure.selectors import (
    RETURN_STATES,
    certificate_get,
    certificates_due,
    closure_get,
    document_return_get,
    document_return_list,
)
from amiable.closure.services import (
    case_declare_irrecoverable,
    case_end_of_contract,
    case_reopen,
    case_suspension_lift,
    certificates_issue_bulk,
    document_return_mark,
)
from amiable.core.exceptions import ApplicationError
from amiable.core.views import form_errors_to_messages, submit_form

PAGE_SIZE = 50


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _back(case) -> HttpResponse:
    return redirect(f"/dossiers/{case.pk}/#fin")


# --- the moves of the case page -------------------------------------------------------------------------------


@login_required
@require_POST
def declare_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    submit_form(
        request,
        IrrecoverableForm(request.POST, request.FILES),
        lambda data: case_declare_irrecoverable(
            case=case,
            reason=data["reason"],
            evidence=data["evidence"],
            evidence_file=data.get("evidence_file"),
            actor=request.user,
        ),
        lambda certificate: f"Dossier déclaré irrécouvrable : certificat {certificate.number} délivré.",
    )
    return _back(case)


def _move(request: HttpRequest, pk: int, service, success: str) -> HttpResponse:
    case = agency_case(request, pk)
    submit_form(
        request,
        MoveForm(request.POST),
        lambda data: service(case=case, reason=data["reason"], actor=request.user),
        success,
    )
    return _back(case)


@login_required
@require_POST
def lift_post(request: HttpRequest, pk: int) -> HttpResponse:
    return _move(request, pk, case_suspension_lift, "Suspension levée.")


@login_required
@require_POST
def reopen_post(request: HttpRequest, pk: int) -> HttpResponse:
    return _move(request, pk, case_reopen, "Dossier rouvert ; son certificat est annulé.")


@login_required
@require_POST
def end_of_contract_post(request: HttpRequest, pk: int) -> HttpResponse:
    return _move(request, pk, case_end_of_contract, "Dossier restitué au créancier (fin de contrat).")


# --- certificates ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def certificates_due_page(request: HttpRequest) -> HttpResponse:
    """« Certificats à délivrer »: the open cases whose certificate falls due soon or is late (C10)."""
    if not can_close_cases(request.user):
        raise PermissionDenied("Réservé aux superviseurs et administrateurs de l'agence.")
    form = BulkCertificatesForm(request.POST or None)
    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("cases") if v.isdigit()]
        if form.is_valid():
            try:
                outcome = certificates_issue_bulk(
                    case_ids=ids,
                    reason=form.cleaned_data["reason"],
                    evidence=form.cleaned_data["evidence"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                if outcome.issued:
                    numbers = ", ".join(c.number for c in outcome.issued)
                    messages.success(request, f"{len(outcome.issued)} certificat(s) délivré(s) : {numbers}.")
                for reference, why in outcome.failed:
                    messages.error(request, f"Dossier {reference} : {why}")
                return redirect("closure:certificates_due")
        else:
            form_errors_to_messages(request, form)
    page = Paginator(certificates_due(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "closure/certificates_due.html", {"page": page, "form": form, "today": timezone.localdate()})


@login_required
@require_GET
@csp_exempt()
def certificate_pdf(request: HttpRequest, pk: int) -> FileResponse:
    _agency_only(request)
    try:
        certificate = certificate_get(user=request.user, pk=pk)
    except Certificate.DoesNotExist as exc:
        raise Http404("Certificat introuvable.") from exc
    return certificate_response(request, certificate)


def certificate_response(request: HttpRequest, certificate: Certificate) -> FileResponse:
    """The stored certificate, its reading logged (L11) and never cached."""
    return logged_file_response(
        request,
        file=certificate.pdf,
        filename=f"{certificate.number}.pdf",
        label=f"Certificat d'irrécouvrabilité {certificate.number}",
        case_pk=certificate.case_id,
        creditor_pk=certificate.case.creditor_id,
        missing="Ce certificat n'est pas encore produit.",
    )


@login_required
@require_GET
@csp_exempt()
def evidence_file(request: HttpRequest, pk: int) -> FileResponse:
    _agency_only(request)
    try:
        closure = closure_get(user=request.user, pk=pk)
    except CaseClosure.DoesNotExist as exc:
        raise Http404("Pièce introuvable.") from exc
    name = closure.evidence_file.name.rsplit("/", 1)[-1] if closure.evidence_file else "piece"
    content_type = "application/pdf" if name.lower().endswith(".pdf") else "application/octet-stream"
    return logged_file_response(
        request,
        file=closure.evidence_file,
        filename=name,
        label=f"Pièce justificative de la fin du dossier {closure.case.reference}",
        case_pk=closure.case_id,
        creditor_pk=closure.case.creditor_id,
        missing="Aucune pièce justificative n'est jointe.",
        content_type=content_type,
        as_attachment=True,
    )


# --- documents to return --------------------------------------------------------------------------------------


@login_required
@require_GET
def returns_page(request: HttpRequest) -> HttpResponse:
    """The documents to give back after payment or abandonment (C25), on time, late or returned."""
    _agency_only(request)
    state = request.GET.get("etat", "pending")
    state = state if state in RETURN_STATES or state == "tout" else "pending"
    qs = document_return_list(user=request.user, state="" if state == "tout" else state)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "closure/returns.html",
        {
            "page": page,
            "state": state,
            "states": RETURN_STATES,
            "query": f"etat={state}",
            "today": timezone.localdate(),
            "agency": True,
        },
    )


@login_required
@require_POST
def return_mark_post(request: HttpRequest, pk: int) -> HttpResponse:
    _agency_only(request)
    try:
        document_return = document_return_get(user=request.user, pk=pk)
    except DocumentReturn.DoesNotExist as exc:
        raise Http404("Restitution introuvable.") from exc
    submit_form(
        request,
        ReturnForm(request.POST),
        lambda data: document_return_mark(
            document_return=document_return, returned_on=data["returned_on"], note=data["note"], actor=request.user
        ),
        f"Pièces du dossier {document_return.case.reference} restituées : le dossier est clos.",
    )
    if request.POST.get("depuis") == "dossier":  # marked from the case page's card
        return _back(document_return.case)
    return redirect("closure:returns")
