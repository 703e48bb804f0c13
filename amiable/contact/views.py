"""Agency pages for e-mails and SMS to debtors: preview, send, and the outbox with the state of each delivery."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amiable.accounts.permissions import can_work_cases
from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import agency_case
from amiable.cases.models import Channel, ContactPoint
from amiable.cases.policy import case_contact_block
from amiable.contact.forms import ContactPointAddForm, ContactPointCorrectForm
from amiable.contact.messaging import MAX_ATTEMPTS, email_content, email_send, message_retry, sms_content, sms_send
from amiable.contact.models import OutboxMessage
from amiable.contact.points import contact_point_correct, contact_point_record, contact_point_verify
from amiable.contact.selectors import outbox_list
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.views import form_restore, run_service, submit_form

SENDERS = {
    Channel.EMAIL: (
        email_content,
        email_send,
        "E-mail mis en file d'envoi : son état est suivi dans « Messages envoyés ».",
    ),
    Channel.SMS: (sms_content, sms_send, "SMS mis en file d'envoi : son état est suivi dans « Messages envoyés »."),
}


@login_required
@require_GET
def message_preview(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    case = agency_case(request, pk)
    if channel not in SENDERS:
        raise Http404("Canal inconnu.")
    try:
        content = SENDERS[channel][0](case=case)
        error = None
    except ApplicationError as exc:
        content, error = None, exc.message
    # The same rule the send asks: « Envoyer » is disabled, with the reason and the next allowed slot, when the
    # message could not go now.
    refusal = case_contact_block(case, channel)
    return render(
        request,
        "contact/message_preview.html",
        {"case": case, "channel": channel, "content": content, "error": error, "refusal": refusal},
    )


@login_required
@require_POST
def message_send(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    case = agency_case(request, pk)
    if channel not in SENDERS:
        raise Http404("Canal inconnu.")
    content_of, send, success = SENDERS[channel]
    try:
        send(case=case, actor=request.user)
    except ApplicationError as exc:
        # The refusal beside the « Envoyer » button of the preview, not lost on another page.
        try:
            content, error = content_of(case=case), None
        except ApplicationError as preview_exc:
            content, error = None, preview_exc.message
        context = {
            "case": case,
            "channel": channel,
            "content": content,
            "error": error,
            "refusal": case_contact_block(case, channel),
            "send_refusal": exc.message,
        }
        return render(request, "contact/message_preview.html", context)
    messages.success(request, success)
    return redirect(f"/dossiers/{case.pk}/")


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """E-mails and SMS to debtors with the state of their delivery — in the demo, the e-mails that would have
    gone out."""
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")
    page = Paginator(outbox_list(), 30).get_page(request.GET.get("page"))
    # The page shows debtors' addresses and what was written to them, for every creditor: one entry per view.
    access_log_record(
        user=request.user,
        kind=AccessKind.LIST_VIEW,
        label=f"Messages envoyés aux débiteurs, page {page.number}",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return render(request, "contact/outbox.html", {"page": page, "max_attempts": MAX_ATTEMPTS})


@login_required
@require_POST
def outbox_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """« Renvoyer » on the outbox page: a failed message is attempted again at once."""
    message = OutboxMessage.objects.filter(pk=pk).only("pk", "case_id").first()
    if message is None:
        raise Http404("Message introuvable.")
    agency_case(request, message.case_id)  # « not found » for a case out of sight, « forbidden » for creditor staff
    run_service(
        request,
        lambda: message_retry(message=message, actor=request.user),
        "Nouvel envoi demandé : l'état du message se met à jour ci-dessous.",
    )
    return redirect(reverse("work:outbox"))


# --- the debtor's phones and e-mails, from the case page's « Coordonnées » ----------------------------------


def _points_page(case) -> str:
    return reverse("case_detail", args=[case.pk]) + "#coordonnees"


def _case_point(case, point_pk: int) -> ContactPoint:
    point = ContactPoint.objects.filter(pk=point_pk, debtor_id=case.debtor_id).first()
    if point is None:
        raise Http404("Coordonnée introuvable.")
    return point


def _add_key(case) -> str:
    return f"coordonnee-{case.pk}"


def _correct_key(case, point) -> str:
    return f"coordonnee-{case.pk}-{point.pk}"


def _beside_value(action):
    """A service's refusal of the value typed (invalid, already known) shown beside that field."""
    try:
        return action()
    except ApplicationError as exc:
        raise ApplicationError(exc.message, extra={"field": "value", **exc.extra}) from exc


def contact_point_forms(request: HttpRequest, case, points) -> dict:
    """The contact points card's forms, fresh or as they were refused (read once): the add form, and each
    phone's or e-mail's correction form on the point itself (`point.correct_form`)."""
    points = list(points)
    for point in points:
        point.correct_form = form_restore(request, _correct_key(case, point), ContactPointCorrectForm, point=point)
    return {"contact_points": points, "point_add_form": form_restore(request, _add_key(case), ContactPointAddForm)}


@login_required
@require_POST
def contact_point_add_post(request: HttpRequest, pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    submit_form(
        request,
        ContactPointAddForm(request.POST),
        lambda data: _beside_value(
            lambda: contact_point_record(
                case=case, kind=data["kind"], value=data["value"], verified=data["verified"], actor=request.user
            )
        ),
        lambda point: f"Coordonnée ajoutée : {point.display} ({point.get_quality_display().lower()}).",
        keep=_add_key(case),
    )
    return redirect(_points_page(case))


@login_required
@require_POST
def contact_point_correct_post(request: HttpRequest, pk: int, point_pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    point = _case_point(case, point_pk)
    submit_form(
        request,
        ContactPointCorrectForm(request.POST, point=point),
        lambda data: _beside_value(
            lambda: contact_point_correct(
                case=case, point=point, value=data["value"], verified=data["verified"], actor=request.user
            )
        ),
        lambda new: f"Coordonnée corrigée : {new.display} remplace {point.display}, qui est marquée invalide.",
        keep=_correct_key(case, point),
    )
    return redirect(_points_page(case))


@login_required
@require_POST
def contact_point_verify_post(request: HttpRequest, pk: int, point_pk: int) -> HttpResponse:
    case = agency_case(request, pk)
    point = _case_point(case, point_pk)
    run_service(
        request,
        lambda: contact_point_verify(case=case, point=point, actor=request.user),
        lambda p: f"{p.display} vérifiée le {format_date(p.checked_on)} : elle est désormais valide.",
    )
    return redirect(_points_page(case))
