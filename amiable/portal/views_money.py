"""The creditor's « Reversements » and « Factures » pages (C21, C23, C39): what was paid back to its
structures each week, with the statement of each remittance, and the monthly invoices and credit notes. A
structure-limited person sees only their structures' (the remittances' and invoices' `visible_to`); the
agency's SEPA transfer file is never offered here. Agency staff are sent to the agency's own pages."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from amiable.invoicing.downloads import invoice_pdf_response
from amiable.invoicing.forms import InvoiceFilterForm
from amiable.invoicing.listing import invoice_credit_notes, invoice_get, invoice_lines, invoice_list
from amiable.invoicing.models import Invoice
from amiable.remittances.downloads import remittance_file_response
from amiable.remittances.forms import RemittanceFilterForm
from amiable.remittances.listing import (
    CREDITOR_FILES,
    remittance_files,
    remittance_get,
    remittance_lines,
    remittance_list,
)
from amiable.remittances.models import Remittance

PAGE_SIZE = 25


def _creditor_user(request: HttpRequest) -> bool:
    """True for creditor staff; agency staff are redirected by the caller, anybody else finds nothing."""
    if request.user.is_creditor_user:
        return True
    if request.user.is_agency:
        return False
    raise Http404("Page introuvable.")


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _remittance(request: HttpRequest, pk: int) -> Remittance:
    try:
        return remittance_get(user=request.user, pk=pk)
    except Remittance.DoesNotExist as exc:
        raise Http404("Reversement introuvable.") from exc


@login_required
@require_GET
def remittances_page(request: HttpRequest) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("remittances:list")
    form = RemittanceFilterForm(request.GET or None, user=request.user)
    page = Paginator(remittance_list(user=request.user, **form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "remittances/list.html", {"form": form, "page": page, "query": _query(request)})


@login_required
@require_GET
def remittance_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("remittances:detail", pk=pk)
    remittance = _remittance(request, pk)
    return render(
        request,
        "remittances/detail.html",
        {
            "remittance": remittance,
            "lines": remittance_lines(remittance=remittance),
            "files": remittance_files(remittance=remittance, kinds=CREDITOR_FILES),
        },
    )


@login_required
@require_GET
@csp_exempt()
def remittance_file(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    if not _creditor_user(request) or kind not in CREDITOR_FILES:
        raise Http404("Fichier introuvable.")
    return remittance_file_response(request, remittance=_remittance(request, pk), kind=kind)


@login_required
@require_GET
def invoices_page(request: HttpRequest) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("invoicing:list")
    form = InvoiceFilterForm(request.GET or None, user=request.user)
    page = Paginator(invoice_list(user=request.user, **form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "invoicing/list.html", {"form": form, "page": page, "query": _query(request)})


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    try:
        return invoice_get(user=request.user, pk=pk)
    except Invoice.DoesNotExist as exc:
        raise Http404("Facture introuvable.") from exc


@login_required
@require_GET
def invoice_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("invoicing:detail", pk=pk)
    invoice = _invoice(request, pk)
    return render(
        request,
        "invoicing/detail.html",
        {
            "invoice": invoice,
            "lines": invoice_lines(invoice=invoice),
            "credit_notes": invoice_credit_notes(invoice=invoice),
        },
    )


@login_required
@require_GET
@csp_exempt()
def invoice_pdf(request: HttpRequest, pk: int) -> FileResponse:
    if not _creditor_user(request):
        raise Http404("Facture introuvable.")
    return invoice_pdf_response(request, invoice=_invoice(request, pk))
