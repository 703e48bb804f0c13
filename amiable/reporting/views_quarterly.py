"""The agency's « Statistiques » page (C41): every creditor's quarterly workbooks, with their download, and
the form that produces one on demand. Agency staff only; creditor staff have theirs in the portal."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from amiable.accounts.permissions import can_work_cases
from amiable.core.views import submit_form
from amiable.reporting.forms_quarterly import QuarterForm
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.selectors_quarterly import (
    quarterly_report_file_response,
    quarterly_report_get,
    quarterly_report_list,
)
from amiable.reporting.services_quarterly import quarterly_report_build

PAGE_SIZE = 25


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


@login_required
@require_http_methods(["GET", "POST"])
def quarterly_page(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    if request.method == "POST":
        submit_form(
            request,
            QuarterForm(request.POST),
            # The agency stands by its figures: it may replace a final workbook (the portal may not).
            lambda data: quarterly_report_build(
                creditor=data["creditor"], quarter=data["quarter"], actor=request.user, replace_final=True
            ),
            lambda report: f"Statistiques {report.quarter} de {report.creditor.name} produites.",
        )
        return redirect("reporting:quarterly")
    page = Paginator(quarterly_report_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reporting/quarterly.html", {"page": page, "form": QuarterForm(), "agency": True})


@login_required
@require_GET
@csp_exempt()
def quarterly_file(request: HttpRequest, pk: int) -> FileResponse:
    _agency_only(request)
    try:
        report = quarterly_report_get(user=request.user, pk=pk)
    except QuarterlyReport.DoesNotExist as exc:
        raise Http404("Statistiques introuvables.") from exc
    return quarterly_report_file_response(request, report=report)
