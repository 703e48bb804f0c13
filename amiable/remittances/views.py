"""The agency's pages of the remittances: the list with its filters, a remittance with its lines and files,
and the form that records the transfer as executed. Agency staff only (creditor staff get 403 and have their
own pages in the portal); marking executed is for supervisors and agency admins, as the service checks."""

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
from amiable.remittances.alerts import remittances_overdue
from amiable.remittances.documents import transfer_problem
from amiable.remittances.downloads import remittance_file_response
from amiable.remittances.execution import remittance_mark_executed
from amiable.remittances.forms import ExecutedForm, RemittanceFilterForm
from amiable.remittances.listing import remittance_files, remittance_get, remittance_lines, remittance_list
from amiable.remittances.models import Remittance, RemittanceStatus

PAGE_SIZE = 25


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _remittance(request: HttpRequest, pk: int) -> Remittance:
    _agency_only(request)
    try:
        return remittance_get(user=request.user, pk=pk)
    except Remittance.DoesNotExist as exc:
        raise Http404("Reversement introuvable.") from exc


@login_required
@require_GET
def remittance_list_page(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    form = RemittanceFilterForm(request.GET or None, user=request.user)
    page = Paginator(remittance_list(user=request.user, **form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "agency": True}
    return render(request, "remittances/list.html", {**context, "overdue": remittances_overdue()})


@login_required
@require_GET
def remittance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    remittance = _remittance(request, pk)
    may_mark = can_view_client_funds(request.user) and remittance.status != RemittanceStatus.EXECUTED
    return render(
        request,
        "remittances/detail.html",
        {
            "remittance": remittance,
            "lines": remittance_lines(remittance=remittance),
            "files": remittance_files(remittance=remittance),
            "executed_form": ExecutedForm() if may_mark else None,
            "transfer_problem": "" if remittance.transfer_xml else transfer_problem(remittance.structure),
            "agency": True,
        },
    )


@login_required
@require_POST
def remittance_executed(request: HttpRequest, pk: int) -> HttpResponse:
    remittance = _remittance(request, pk)
    submit_form(
        request,
        ExecutedForm(request.POST),
        lambda data: remittance_mark_executed(
            remittance=remittance, executed_on=data["executed_on"], actor=request.user
        ),
        lambda done: f"Virement du reversement {done.number} marqué exécuté le {format_date(done.executed_on)}.",
    )
    return redirect("remittances:detail", pk=remittance.pk)


# The PDF carries no CSP: the browser's PDF viewer is a page of its own that a strict policy draws blank.
@login_required
@require_GET
@csp_exempt()
def remittance_file(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    return remittance_file_response(request, remittance=_remittance(request, pk), kind=kind)
