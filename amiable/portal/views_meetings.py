"""The creditor's « Réunions de suivi » pages (C14): its meetings with the agency, each with its pack and,
once held, the minutes the agency wrote. For the creditor's staff who are not limited to some structures (a
pack covers them all); agency staff are sent to the agency's own pages."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from amiable.reporting.meetings import can_see_meetings, meeting_file_response, meeting_get, meeting_list
from amiable.reporting.meetings import meeting_workbook as workbook_of
from amiable.reporting.models import FollowUpMeeting
from amiable.reporting.views_meetings import meetings_context


def _creditor_user(request: HttpRequest) -> bool:
    if request.user.is_creditor_user:
        return True
    if request.user.is_agency:
        return False
    raise Http404("Page introuvable.")


def _meeting(request: HttpRequest, pk: int) -> FollowUpMeeting:
    try:
        return meeting_get(user=request.user, pk=pk)
    except FollowUpMeeting.DoesNotExist as exc:
        raise Http404("Réunion introuvable.") from exc


@login_required
@require_GET
def meetings_page(request: HttpRequest) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("meetings:list")
    meetings = list(meeting_list(user=request.user))
    return render(
        request,
        "reporting/meetings_list.html",
        {"rows": meetings_context(request.user, meetings), "agency": False, "allowed": can_see_meetings(request.user)},
    )


@login_required
@require_GET
def meeting_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not _creditor_user(request):
        return redirect("meetings:detail", pk=pk)
    meeting = _meeting(request, pk)
    return render(
        request,
        "reporting/meetings_detail.html",
        {"meeting": meeting, "workbook": workbook_of(meeting), "agency": False},
    )


@login_required
@require_GET
@csp_exempt()
def meeting_file(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    if not _creditor_user(request):
        raise Http404("Fichier introuvable.")
    return meeting_file_response(request, meeting=_meeting(request, pk), kind=kind)
