"""The creditor's « Certificats » and « Pièces restituées » pages (C10, C25, C39): the certificates of
irrecoverability of its cases, each downloadable (logged, never cached), and the documents given back per closed
case with their date. Scoped like every portal page: the creditor's cases, its structures for a limited person;
agency staff are sent to the agency's own pages."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from amiable.closure.models import Certificate
from amiable.closure.selectors import certificate_get, certificate_list, document_return_list
from amiable.closure.views import certificate_response

PAGE_SIZE = 25


def _creditor_user(request: HttpRequest) -> bool:
    if request.user.is_creditor_user:
        return True
    if request.user.is_agency:
        return False
    raise Http404("Page introuvable.")


@login_required
@require_GET
def certificates_page(request: HttpRequest) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("closure:certificates_due")
    page = Paginator(certificate_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "closure/portal_certificates.html", {"page": page})


@login_required
@require_GET
@csp_exempt()
def certificate_pdf(request: HttpRequest, pk: int) -> FileResponse:
    if not _creditor_user(request):
        raise Http404("Certificat introuvable.")
    try:
        certificate = certificate_get(user=request.user, pk=pk)
    except Certificate.DoesNotExist as exc:
        raise Http404("Certificat introuvable.") from exc
    return certificate_response(request, certificate)


@login_required
@require_GET
def returns_page(request: HttpRequest) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("closure:returns")
    page = Paginator(document_return_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "closure/returns.html", {"page": page, "agency": False, "today": timezone.localdate()})
