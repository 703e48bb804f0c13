"""Agency pages for e-mails and SMS to debtors: preview, send, and the outbox of what was sent."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from amiable.audit.models import AccessKind
from amiable.audit.services import access_log_record
from amiable.cases.access import agency_case
from amiable.cases.models import Channel
from amiable.contact.messaging import email_content, email_send, sms_content, sms_send
from amiable.contact.models import OutboxMessage
from amiable.core.exceptions import ApplicationError
from amiable.core.views import run_service

SENDERS = {
    Channel.EMAIL: (email_content, email_send, "E-mail envoyé."),
    Channel.SMS: (sms_content, sms_send, "SMS envoyé."),
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
    return render(
        request, "contact/message_preview.html", {"case": case, "channel": channel, "content": content, "error": error}
    )


@login_required
@require_POST
def message_send(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    case = agency_case(request, pk)
    if channel not in SENDERS:
        raise Http404("Canal inconnu.")
    _content, send, success = SENDERS[channel]
    run_service(request, lambda: send(case=case, actor=request.user), success)
    return redirect(f"/dossiers/{case.pk}/")


@login_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """What was sent to debtors by e-mail and SMS — in the demo, the e-mails that would have gone out."""
    if not request.user.is_agency:
        raise PermissionDenied("Réservé à l'agence.")
    page = Paginator(OutboxMessage.objects.select_related("case").order_by("-pk"), 30).get_page(request.GET.get("page"))
    # The page shows debtors' addresses and what was written to them, for every creditor: one entry per view.
    access_log_record(
        user=request.user,
        kind=AccessKind.LIST_VIEW,
        label=f"Messages envoyés aux débiteurs, page {page.number}",
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return render(request, "contact/outbox.html", {"page": page})
