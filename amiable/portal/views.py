"""The collaborative interface (C39): comments, requests and their clocks, decisions, recall, claims
report, notifications. Each view parses a form, calls one service and goes back where the user was."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from amiable.accounts.permissions import can_ask_agency, can_decide, can_work_cases
from amiable.approvals.models import ApprovalRequest, ApprovalStatus
from amiable.approvals.selectors import approval_list
from amiable.approvals.services import approval_decide, approval_request
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.models import Case
from amiable.cases.selectors import case_get
from amiable.cases.services import comment_add
from amiable.core.dates import format_datetime
from amiable.core.views import form_restore, run_service, submit_form
from amiable.creditor_requests.models import CreditorRequest, MeetingSlot, RequestKind, RequestStatus
from amiable.creditor_requests.selectors import (
    STATUS_FILTERS,
    request_counts,
    request_get,
    request_list_filtered,
)
from amiable.creditor_requests.services import (
    QUESTION_BUSINESS_DAYS,
    case_recall,
    meeting_confirm,
    meeting_propose,
    request_answer,
    request_create,
)
from amiable.creditors.models import Creditor
from amiable.creditors.selectors import terms_for
from amiable.notifications.models import NotificationPreference
from amiable.notifications.selectors import notification_list
from amiable.notifications.services import notification_mark_read, preference_save
from amiable.portal.forms import (
    AnswerForm,
    ApprovalAskForm,
    CaseRequestForm,
    CommentForm,
    DecisionForm,
    MeetingRequestForm,
    PreferenceForm,
    RecallForm,
    SlotsForm,
)
from amiable.reporting.claims import claims_report_xlsx


def _case(request, pk) -> Case:
    try:
        return case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc


# The forms of the case page posted here: a refused one is kept under its key (per case) and the case page
# shows it again with what was typed (`case_forms`). Each has its own ids: several are on the same page.
CASE_FORMS = {
    "comment": (CommentForm, "commentaire-%s"),
    "request": (CaseRequestForm, "demande-%s"),
    "approval": (ApprovalAskForm, "demande-decision-%s"),
    "recall": (RecallForm, "retrait-%s"),
}


def _key(name: str, case: Case) -> str:
    return f"{name}-{case.pk}"


def _case_form(name: str, case: Case, data=None, *, restore: HttpRequest | None = None):
    """The form bound to `data`, or (with `restore`) fresh or as it was refused."""
    form_class, auto_id = CASE_FORMS[name]
    kwargs = {"auto_id": auto_id}
    if name == "request":
        kwargs["terms"] = terms_for(case.creditor)
    if restore is not None:
        return form_restore(restore, _key(name, case), form_class, **kwargs)
    return form_class(data, **kwargs)


def case_forms(request: HttpRequest, case: Case) -> dict:
    """The forms of the case page handled here, fresh or as they were refused (read once)."""
    return {f"{name}_form": _case_form(name, case, restore=request) for name in CASE_FORMS}


@login_required
@require_POST
def comment_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    internal = can_work_cases(request.user) and request.POST.get("internal") == "on"
    submit_form(
        request,
        _case_form("comment", case, request.POST),
        lambda data: comment_add(case=case, author=request.user, body=data["body"], internal=internal),
        "Note interne enregistrée." if internal else "Message envoyé.",
        keep=_key("comment", case),
    )
    return redirect(f"/dossiers/{case.pk}/#commentaires")


@login_required
@require_POST
def case_request_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    submit_form(
        request,
        _case_form("request", case, request.POST),
        lambda data: request_create(kind=data["kind"], body=data["body"], actor=request.user, case=case),
        lambda asked: (
            "Décompte financier établi : il est joint à la réponse à votre demande, ci-dessous."
            if asked.status == RequestStatus.ANSWERED
            else "Demande transmise à l'agence."
        ),
        keep=_key("request", case) if can_ask_agency(request.user, case.creditor_id) else "",
    )
    return redirect(f"/dossiers/{case.pk}/#demandes")


@login_required
@require_POST
def approval_ask(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    submit_form(
        request,
        _case_form("approval", case, request.POST),
        lambda data: approval_request(
            case=case, kind=data["kind"], proposal=data["proposal"], due_on=data.get("due_on"), actor=request.user
        ),
        "Demande de décision envoyée au créancier.",
        keep=_key("approval", case) if can_work_cases(request.user) else "",  # only agency staff see the form
    )
    return redirect(f"/dossiers/{case.pk}/#decisions")


@login_required
@require_POST
def case_recall_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    if submit_form(
        request,
        _case_form("recall", case, request.POST),
        lambda data: case_recall(case=case, reason=data["reason"], actor=request.user),
        "Dossier retiré.",
        keep=_key("recall", case) if case.is_open and can_decide(request.user, case.creditor_id) else "",
    ):
        return redirect(f"/dossiers/{case.pk}/")
    return redirect(f"/dossiers/{case.pk}/#retrait")


@login_required
@require_GET
def approvals_inbox(request: HttpRequest) -> HttpResponse:
    approvals = approval_list(user=request.user)
    pending = [a for a in approvals if a.status == ApprovalStatus.PENDING]
    for a in pending:  # each decision form fresh, or as it was refused
        a.form = form_restore(request, f"decision-{a.pk}", DecisionForm, auto_id=f"decision-{a.pk}-%s")
    decided = [a for a in approvals if a.status != ApprovalStatus.PENDING][:50]
    return render(
        request,
        "portal/approvals.html",
        {"pending": pending, "decided": decided, "form": DecisionForm(), "today": timezone.localdate()},
    )


@login_required
@require_POST
def approval_decide_post(request: HttpRequest, pk: int) -> HttpResponse:
    approval = ApprovalRequest.objects.visible_to(request.user).filter(pk=pk).first()
    if approval is None:
        raise Http404("Demande introuvable.")
    if submit_form(
        request,
        DecisionForm(request.POST),
        lambda data: approval_decide(
            approval=approval, accept=data["decision"] == "accept", comment=data["comment"], actor=request.user
        ),
        "Décision enregistrée : l'agence est prévenue.",
        keep=f"decision-{approval.pk}" if can_decide(request.user, approval.case.creditor_id) else "",
    ):
        return redirect("approvals")
    return redirect(reverse("approvals") + f"#decision-{approval.pk}")


REQUEST_FILTER_LABELS = [("ouvertes", "En cours"), ("traitees", "Traitées"), ("annulees", "Annulées")]


@login_required
@require_http_methods(["GET", "POST"])
def requests_page(request: HttpRequest) -> HttpResponse:
    form = MeetingRequestForm(request.POST or None)
    if request.method == "POST" and submit_form(
        request,
        form,
        lambda data: request_create(kind=RequestKind.MEETING, body=data["body"], actor=request.user),
        lambda meeting: (
            "Demande de réunion transmise : l'agence propose des créneaux "
            f"au plus tard le {format_datetime(meeting.due_at)}."
        ),
    ):
        return redirect("requests")
    status_filter = request.GET.get("etat", "ouvertes")
    if status_filter not in STATUS_FILTERS:
        status_filter = "ouvertes"
    page = Paginator(request_list_filtered(user=request.user, status_filter=status_filter), 30).get_page(
        request.GET.get("page")
    )
    counts = request_counts(user=request.user)
    _request_forms(request, page.object_list)
    return render(
        request,
        "portal/requests.html",
        {
            "page": page,
            "status_filter": status_filter,
            "filters": [(key, label, counts[key]) for key, label in REQUEST_FILTER_LABELS],
            "meeting_form": form,
            "now": timezone.now(),
            # The delays of the contract, for creditor staff (agency staff see several creditors' requests).
            "terms": terms_for(request.user.creditor) if request.user.is_creditor_user else None,
            "question_days": QUESTION_BUSINESS_DAYS,
        },
    )


def _request_forms(request: HttpRequest, requests) -> None:
    """The answer and slots forms of each request shown, fresh or as they were refused (read once)."""
    if not can_work_cases(request.user):
        return
    for r in requests:
        r.answer_form = form_restore(request, f"answer-{r.pk}", AnswerForm, auto_id=f"reponse-{r.pk}-%s")
        r.slots_form = form_restore(request, f"slots-{r.pk}", SlotsForm, auto_id=f"creneaux-{r.pk}-%s")


def _visible_request(request, pk) -> CreditorRequest:
    try:
        return request_get(user=request.user, pk=pk)
    except CreditorRequest.DoesNotExist as exc:
        raise Http404("Demande introuvable.") from exc


@login_required
@require_POST
def request_answer_post(request: HttpRequest, pk: int) -> HttpResponse:
    creditor_request = _visible_request(request, pk)
    if submit_form(
        request,
        AnswerForm(request.POST),
        lambda data: request_answer(request=creditor_request, answer=data["answer"], actor=request.user),
        "Réponse envoyée.",
        keep=f"answer-{creditor_request.pk}" if can_work_cases(request.user) else "",
    ):
        return redirect("requests")
    return redirect(reverse("requests") + f"#demande-{creditor_request.pk}")


@login_required
@require_POST
def meeting_slots_post(request: HttpRequest, pk: int) -> HttpResponse:
    creditor_request = _visible_request(request, pk)
    form = SlotsForm(request.POST)
    if submit_form(
        request,
        form,
        lambda _data: meeting_propose(request=creditor_request, slots=form.slots(), actor=request.user),
        "Créneaux proposés.",
        keep=f"slots-{creditor_request.pk}" if can_work_cases(request.user) else "",
    ):
        return redirect("requests")
    return redirect(reverse("requests") + f"#demande-{creditor_request.pk}")


@login_required
@require_POST
def meeting_confirm_post(request: HttpRequest, pk: int) -> HttpResponse:
    slot = MeetingSlot.objects.filter(pk=pk, request__in=CreditorRequest.objects.visible_to(request.user)).first()
    if slot is None:
        raise Http404("Créneau introuvable.")
    run_service(request, lambda: meeting_confirm(slot=slot, actor=request.user), "Réunion confirmée.")
    return redirect("requests")


@login_required
@require_GET
def claims_report(request: HttpRequest) -> HttpResponse:
    """The claims report (C40) of the user's creditor; agency staff choose the creditor."""
    user = request.user
    if user.is_creditor_user:
        creditor = user.creditor
    elif user.is_agency:
        raw = request.GET.get("creditor", "")
        creditor = Creditor.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
        if creditor is None:
            raise Http404("Précisez le créancier.")
    else:
        raise PermissionDenied
    today = timezone.localdate()
    content = claims_report_xlsx(
        user=user, creditor_id=creditor.pk, title=f"État des créances — {creditor.name} — {today:%d/%m/%Y}"
    )
    access_log_record(
        user=user,
        kind=AccessKind.EXPORT,
        label=f"État des créances {creditor.slug}",
        creditor_pk=creditor.pk,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="etat-des-creances-{creditor.slug}-{today:%Y-%m-%d}.xlsx"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def notifications_page(request: HttpRequest) -> HttpResponse:
    pref = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference()
    form = PreferenceForm(
        request.POST or None, initial={"email_urgent": pref.email_urgent, "email_digest": pref.email_digest}
    )
    if request.method == "POST":
        if "mark_read" in request.POST:
            notification_mark_read(user=request.user)
            messages.success(request, "Toutes les notifications sont marquées comme lues.")
        elif form.is_valid():
            preference_save(user=request.user, **form.cleaned_data)
            messages.success(request, "Préférences enregistrées.")
        return redirect("notifications")
    page = Paginator(notification_list(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"page": page, "form": form})
