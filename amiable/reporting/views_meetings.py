"""The agency's pages of the follow-up meetings (C14), under /reunions/: every creditor's meetings with their
pack and minutes. Agency staff only (creditor staff get 403 and have theirs in the portal); the minutes and
an early pack are for supervisors and agency admins, as the services check."""

from csp.decorators import csp_exempt
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from amiable.accounts.permissions import can_work_cases
from amiable.core.views import run_service, submit_form
from amiable.reporting.forms_meetings import MinutesForm
from amiable.reporting.meetings import (
    can_keep_minutes,
    meeting_file_response,
    meeting_get,
    meeting_list,
    meeting_workbook,
    quarterly_before,
)
from amiable.reporting.models import FollowUpMeeting
from amiable.reporting.services_meetings import meeting_minutes_save, meeting_pack_build


def _agency_only(request: HttpRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")


def _meeting(request: HttpRequest, pk: int) -> FollowUpMeeting:
    _agency_only(request)
    try:
        return meeting_get(user=request.user, pk=pk)
    except FollowUpMeeting.DoesNotExist as exc:
        raise Http404("Réunion introuvable.") from exc


def meetings_context(user, meetings: list[FollowUpMeeting]) -> list[dict]:
    """Each meeting with its workbook (its own or the quarterly one), read in one more query for the list."""
    reports = quarterly_before(meetings)
    return [{"meeting": m, "workbook": meeting_workbook(m, reports.get(m.pk))} for m in meetings]


@login_required
@require_GET
def meetings_page(request: HttpRequest) -> HttpResponse:
    _agency_only(request)
    meetings = list(meeting_list(user=request.user))
    return render(
        request, "reporting/meetings_list.html", {"rows": meetings_context(request.user, meetings), "agency": True}
    )


@login_required
@require_GET
def meeting_page(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    writer = can_keep_minutes(request.user)
    initial = {"held_on": meeting.held_on or meeting.due_on, "minutes": meeting.minutes}
    return render(
        request,
        "reporting/meetings_detail.html",
        {
            "meeting": meeting,
            "workbook": meeting_workbook(meeting),
            "form": MinutesForm(initial=initial) if writer else None,
            "may_build": writer and not meeting.pack_pdf,
            "agency": True,
        },
    )


@login_required
@require_POST
def meeting_minutes(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    submit_form(
        request,
        MinutesForm(request.POST, request.FILES),
        lambda data: meeting_minutes_save(
            meeting=meeting,
            held_on=data["held_on"],
            minutes=data["minutes"],
            upload=data.get("upload"),
            actor=request.user,
        ),
        "Compte rendu enregistré.",
    )
    return redirect("meetings:detail", pk=meeting.pk)


@login_required
@require_POST
def meeting_pack(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    run_service(request, lambda: meeting_pack_build(meeting=meeting, actor=request.user), "Dossier de séance produit.")
    return redirect("meetings:detail", pk=meeting.pk)


# The PDF carries no CSP: the browser's PDF viewer is a page of its own that a strict policy draws blank.
@login_required
@require_GET
@csp_exempt()
def meeting_file(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    return meeting_file_response(request, meeting=_meeting(request, pk), kind=kind)
