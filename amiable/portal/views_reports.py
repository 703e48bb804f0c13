"""The creditor's « Statistiques » page (C41): its quarterly workbooks, with their download, and the form
« Produire les statistiques d'un trimestre ». A workbook covers every structure of the creditor: staff limited
to some structures are refused (403), another creditor's workbook is not found (404). Agency staff are sent
to the agency's page."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from amiable.core.views import submit_form
from amiable.reporting.forms_quarterly import QuarterForm
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.selectors_quarterly import (
    may_read_quarterly,
    quarterly_report_file_response,
    quarterly_report_get,
    quarterly_report_list,
)
from amiable.reporting.services_quarterly import quarterly_report_build

LIMITED = (
    "Les statistiques trimestrielles couvrent toutes les structures de votre organisme : elles sont réservées "
    "aux personnes qui les voient toutes."
)


@login_required
@require_http_methods(["GET", "POST"])
def reports_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_agency:
        return redirect("reporting:quarterly")
    if not user.is_creditor_user:
        raise Http404("Page introuvable.")
    if not may_read_quarterly(user, user.creditor_id):
        raise PermissionDenied(LIMITED)
    creditor = user.creditor
    if request.method == "POST":
        submit_form(
            request,
            QuarterForm(request.POST, creditor=creditor),
            lambda data: quarterly_report_build(creditor=creditor, quarter=data["quarter"], actor=user),
            lambda report: f"Statistiques {report.quarter} produites : le classeur est prêt à télécharger.",
        )
        return redirect("portal_reports")
    reports = quarterly_report_list(user=user, creditor_id=creditor.pk)
    return render(request, "portal/reports.html", {"reports": reports, "form": QuarterForm(creditor=creditor)})


@login_required
@require_GET
@csp_exempt()
def report_file(request: HttpRequest, pk: int) -> FileResponse:
    if not request.user.is_creditor_user:
        raise Http404("Statistiques introuvables.")
    try:
        report = quarterly_report_get(user=request.user, pk=pk)
    except QuarterlyReport.DoesNotExist as exc:
        raise Http404("Statistiques introuvables.") from exc
    return quarterly_report_file_response(request, report=report)
