"""The agency's pages of the invoices and credit notes: the list with its filters, an invoice with its lines
and its PDF, and the form that records it paid. Agency staff only (creditor staff get 403 and have their own
page in the portal); marking paid is for supervisors and agency admins, as the service checks."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from amiable.accounts.permissions import can_view_client_funds, can_work_cases
from amiable.core.dates import format_date
from amiable.core.views import submit_form
from amiable.invoicing.downloads import invoice_pdf_response
from amiable.invoicing.forms import InvoiceFilterForm, PaidForm
from amiable.invoicing.listing import invoice_credit_notes, invoice_get, invoice_lines, invoice_list
from amiable.invoicing.models import Invoice, InvoiceStatus
from amiable.invoicing.settlement import invoice_mark_paid

PAGE_SIZE = 25


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    _agency_only(request)
    try:
        return invoice_get(user=request.user, pk=pk)
    except Invoice.DoesNotExist as exc:
        raise Http404("Facture introuvable.") from exc


@login_required
@require_GET
def invoice_list_page(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    form = InvoiceFilterForm(request.GET or None, user=request.user)
    page = Paginator(invoice_list(user=request.user, **form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "invoicing/list.html", {"form": form, "page": page, "query": query.urlencode(), "agency": True}
    )


@login_required
@require_GET
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    may_mark = (
        can_view_client_funds(request.user) and not invoice.is_credit_note and invoice.status != InvoiceStatus.PAID
    )
    return render(
        request,
        "invoicing/detail.html",
        {
            "invoice": invoice,
            "lines": invoice_lines(invoice=invoice),
            "credit_notes": invoice_credit_notes(invoice=invoice),
            "paid_form": PaidForm() if may_mark else None,
            "agency": True,
        },
    )


@login_required
@require_POST
def invoice_paid(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    submit_form(
        request,
        PaidForm(request.POST),
        lambda data: invoice_mark_paid(invoice=invoice, paid_on=data["paid_on"], actor=request.user),
        lambda done: f"Facture {done.number} marquée payée le {format_date(done.paid_on)}.",
    )
    return redirect("invoicing:detail", pk=invoice.pk)


# The PDF carries no CSP: the browser's PDF viewer is a page of its own that a strict policy draws blank.
@login_required
@require_GET
@csp_exempt()
def invoice_pdf(request: HttpRequest, pk: int) -> FileResponse:
    return invoice_pdf_response(request, invoice=_invoice(request, pk))
