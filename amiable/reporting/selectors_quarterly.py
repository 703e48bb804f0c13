"""Reading the stored quarterly workbooks, from the agency's page and from the creditor's portal. A workbook
covers every structure of its creditor: creditor staff limited to some structures do not see it (as they do
not send batches, which cover them all)."""

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest

from amiable.accounts.permissions import can_work_cases
from amiable.audit.downloads import logged_file_response
from amiable.core.scoping import scope_to_user
from amiable.reporting.models import QuarterlyReport

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def may_read_quarterly(user, creditor_id: int | None = None) -> bool:
    """Agency staff, for every creditor; creditor staff who see all their creditor's structures, for it."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if can_work_cases(user):
        return True
    if not user.is_creditor_user or user.allowed_structure_ids is not None:
        return False
    return creditor_id is None or user.creditor_id == creditor_id


def quarterly_reports_visible_to(user) -> QuerySet:
    if not may_read_quarterly(user):
        return QuarterlyReport.objects.none()
    return scope_to_user(QuarterlyReport.objects.all(), user, creditor_field="creditor_id")


def quarterly_report_list(*, user, creditor_id: int | None = None) -> QuerySet:
    """The workbooks the person may see, the latest quarter first (one query, whatever the number)."""
    qs = quarterly_reports_visible_to(user)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    return qs.select_related("creditor", "built_by").order_by("-period_start", "creditor__name", "pk")


def quarterly_report_get(*, user, pk: int) -> QuarterlyReport:
    """One workbook the person may see; `QuarterlyReport.DoesNotExist` otherwise (the pages answer 404)."""
    return quarterly_reports_visible_to(user).select_related("creditor").get(pk=pk)


def quarterly_report_file_response(request: HttpRequest, *, report: QuarterlyReport) -> FileResponse:
    """The stored workbook, its reading logged (it names no debtor, but it is the creditor's business)."""
    return logged_file_response(
        request,
        file=report.xlsx,
        filename=f"statistiques-{report.creditor.slug}-{report.quarter}.xlsx",
        label=f"Statistiques trimestrielles {report.quarter}",
        creditor_pk=report.creditor_id,
        content_type=XLSX,
        as_attachment=True,
    )
