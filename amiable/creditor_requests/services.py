"""Requests of the creditor to the agency (C13, C33, C34, C43) and the recall of a case."""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_ask_agency, can_decide, can_work_cases, require
from amiable.approvals.services import approvals_cancel_for_case
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import case_transition, tasks_cancel_open
from amiable.core.dates import add_business_days, format_datetime
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests.hooks import statement_provider
from amiable.creditor_requests.models import CreditorRequest, MeetingSlot, RequestKind, RequestStatus
from amiable.creditors.models import ContractTerms
from amiable.creditors.selectors import terms_for
from amiable.notifications.selectors import agency_contacts, creditor_staff
from amiable.notifications.services import notifications_withdraw, notify

QUESTION_BUSINESS_DAYS = 5  # not set by the contract: an answer within a working week

logger = logging.getLogger(__name__)


def _notice_subject(request_pk: int) -> str:
    """What the notices asking the agency to answer a request are about, to withdraw them if it is cancelled."""
    return f"creditor_request:{request_pk}"


def _due_at(kind: str, terms: ContractTerms, now: datetime) -> datetime:
    if kind == RequestKind.STATEMENT:
        return now + timedelta(hours=terms.statement_hours)
    if kind == RequestKind.MEETING:
        return now + timedelta(days=terms.meeting_days)
    local = timezone.localtime(now)
    day = add_business_days(local.date(), QUESTION_BUSINESS_DAYS)
    return datetime.combine(day, local.time(), tzinfo=local.tzinfo)


@transaction.atomic
def request_create(*, kind: str, body: str, actor, case: Case | None = None) -> CreditorRequest:
    """Creditor staff ask the agency; the clock of the contract starts now and both sides see it. A statement
    request is answered at once by the registered statement provider (C34), else it waits for the agency."""
    require(can_ask_agency(actor), "Seul le personnel du créancier peut adresser une demande à l'agence.")
    if kind not in RequestKind.values:
        raise ApplicationError(f"Type de demande inconnu : « {kind} ».")
    if kind in {RequestKind.QUESTION, RequestKind.STATEMENT} and case is None:
        raise ApplicationError("Cette demande porte sur un dossier : choisissez le dossier.")
    if case is not None and not Case.objects.visible_to(actor).filter(pk=case.pk).exists():
        raise ApplicationError("Vous n'avez pas accès à ce dossier.")
    body = body.strip()
    if not body and kind != RequestKind.STATEMENT:
        raise ApplicationError("Précisez votre demande.")
    now = timezone.now()
    terms = terms_for(actor.creditor)
    request = CreditorRequest.objects.create(
        creditor_id=actor.creditor_id,
        case=case,
        kind=kind,
        body=body,
        asked_by=actor,
        asked_at=now,
        due_at=_due_at(kind, terms, now),
    )
    audit_record(
        actor=actor,
        verb="request.created",
        target=request,
        case_pk=case.pk if case else None,
        creditor_pk=actor.creditor_id,
        after={"kind": kind, "body": body[:500], "due_at": request.due_at},
    )
    if kind == RequestKind.STATEMENT and _answer_automatically(request, actor):
        notify(
            recipients=[u for u in agency_contacts(case=case) if u is not None],
            kind="request_answered_automatically",
            title=f"Décompte financier du dossier {case.reference} envoyé automatiquement au créancier",
            body=request.answer[:300],
            url="/demandes/",
            case_pk=case.pk,
        )
        return request
    recipients = agency_contacts(case=case) if case else [actor.creditor.referent]
    where = f" sur le dossier {case.reference}" if case else ""
    notify(
        recipients=[u for u in recipients if u is not None],
        kind="request_created",
        title=f"{request.get_kind_display()}{where} — réponse due le {format_datetime(request.due_at)}",
        body=body[:300],
        url="/demandes/",
        case_pk=case.pk if case else None,
        urgent=kind in {RequestKind.STATEMENT, RequestKind.MEETING},
        subject=_notice_subject(request.pk),
    )
    return request


def _open_request_for_agency(request: CreditorRequest, actor) -> CreditorRequest:
    require(can_work_cases(actor), "Seule l'agence répond aux demandes du créancier.")
    request = CreditorRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.OPEN:
        raise ApplicationError("Cette demande est déjà traitée.")
    return request


@transaction.atomic
def request_answer(*, request: CreditorRequest, answer: str, actor) -> CreditorRequest:
    """The agency answers a question, or a statement request that could not be answered automatically."""
    request = _open_request_for_agency(request, actor)
    answer = answer.strip()
    if not answer:
        raise ApplicationError("La réponse est vide.")
    if request.kind == RequestKind.MEETING:
        raise ApplicationError("Une demande de réunion se traite en proposant des créneaux.")
    return _answered(request, answer=answer, actor=actor)


def _answer_automatically(request: CreditorRequest, actor) -> bool:
    """Answer a statement request at once with the statement the registered provider draws up (C34): the
    request is then answered within its clock. Without a provider, or if drawing it up fails, the request
    stays open for the agency to answer by hand: a failure must not stop the creditor from asking."""
    provider = statement_provider()
    if provider is None:
        return False
    try:
        with transaction.atomic():  # a savepoint: a failed statement leaves nothing half-written
            answer = provider(request, actor)
            _answered(request, answer=answer.text, url=answer.url, actor=None)
    except Exception:
        logger.exception("Décompte automatique impossible pour la demande %s", request.pk)
        request.refresh_from_db()
        return False
    return True


def _answered(request: CreditorRequest, *, answer: str, actor, url: str = "") -> CreditorRequest:
    """Mark the request answered, audit whether its clock was met, and tell the person who asked."""
    request.status = RequestStatus.ANSWERED
    request.answer = answer
    request.answer_url = url
    request.answered_by = actor if getattr(actor, "is_authenticated", False) else None
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answer", "answer_url", "answered_by", "answered_at"])
    audit_record(
        actor=actor,
        verb="request.answered",
        target=request,
        case_pk=request.case_id,
        creditor_pk=request.creditor_id,
        after={"answer": answer[:500], "late": not request.answered_in_time},
    )
    notify(
        recipients=[request.asked_by],
        kind="request_answered",
        title=f"Réponse de l'agence : {request.get_kind_display().lower()}",
        body=answer[:300],
        url=url or "/demandes/",
        case_pk=request.case_id,
    )
    return request


@transaction.atomic
def meeting_propose(*, request: CreditorRequest, slots: list[datetime], actor) -> list[MeetingSlot]:
    """The agency proposes dates for a requested meeting, all within the contract's delay (C43)."""
    request = _open_request_for_agency(request, actor)
    if request.kind != RequestKind.MEETING:
        raise ApplicationError("Seule une demande de réunion appelle des créneaux.")
    now = timezone.now()
    slots = sorted(set(slots))
    if not slots:
        raise ApplicationError("Proposez au moins un créneau.")
    for slot in slots:
        if slot <= now:
            raise ApplicationError(f"Le créneau du {format_datetime(slot)} est passé.")
        if slot > request.due_at:
            raise ApplicationError(
                f"Le créneau du {format_datetime(slot)} dépasse le délai contractuel "
                f"(réunion au plus tard le {format_datetime(request.due_at)})."
            )
    created = [MeetingSlot.objects.create(request=request, starts_at=slot, proposed_by=actor) for slot in slots]
    audit_record(
        actor=actor,
        verb="meeting.slots_proposed",
        target=request,
        creditor_pk=request.creditor_id,
        after={"slots": slots},
    )
    notify(
        recipients=[request.asked_by],
        kind="meeting_slots",
        title="L'agence propose des créneaux de réunion",
        url="/demandes/",
    )
    return created


@transaction.atomic
def meeting_confirm(*, slot: MeetingSlot, actor) -> CreditorRequest:
    """Creditor staff pick one of the proposed dates; the meeting is then fixed."""
    request = CreditorRequest.objects.select_for_update().get(pk=slot.request_id)
    require(can_ask_agency(actor, request.creditor_id), "Seul le créancier confirme la date de la réunion.")
    if request.status != RequestStatus.OPEN:
        raise ApplicationError("Cette demande de réunion est déjà traitée.")
    MeetingSlot.objects.filter(pk=slot.pk).update(confirmed=True)
    request.status = RequestStatus.ANSWERED
    request.meeting_at = slot.starts_at
    request.answered_by = actor
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "meeting_at", "answered_by", "answered_at"])
    audit_record(
        actor=actor,
        verb="meeting.confirmed",
        target=request,
        creditor_pk=request.creditor_id,
        after={"meeting_at": slot.starts_at},
    )
    notify(
        recipients=[slot.proposed_by, request.creditor.referent],
        kind="meeting_confirmed",
        title=f"Réunion confirmée le {format_datetime(slot.starts_at)}",
        url="/demandes/",
    )
    return request


@transaction.atomic
def case_recall(*, case: Case, reason: str, actor) -> Case:
    """The creditor takes a case back, at once (C13): its pending actions, requests and decisions are
    cancelled and it becomes « retourné au créancier »; money already recovered keeps its commission."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    require(
        can_decide(actor, case.creditor_id) and Case.objects.visible_to(actor).filter(pk=case.pk).exists(),
        "Seuls les valideurs et administrateurs du créancier peuvent retirer un dossier.",
    )
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Indiquez le motif du retrait du dossier.")
    if case.status not in CaseStatus.OPEN:
        raise ApplicationError(f"Le dossier {case.reference} est déjà terminé ({case.get_status_display().lower()}).")
    cancelled_tasks = tasks_cancel_open(case=case, actor=actor, reason="Dossier retiré par le créancier")
    cancelled_approvals = approvals_cancel_for_case(case=case, actor=actor, reason="Dossier retiré par le créancier")
    open_requests = list(
        CreditorRequest.objects.filter(case=case, status=RequestStatus.OPEN).values_list("pk", flat=True)
    )
    cancelled_requests = CreditorRequest.objects.filter(pk__in=open_requests).update(status=RequestStatus.CANCELLED)
    # Nobody is to answer a cancelled request any more: its notices leave the agency's unread ones.
    notifications_withdraw(subjects=[_notice_subject(pk) for pk in open_requests])
    case = case_transition(case=case, to=CaseStatus.RECALLED, actor=actor, reason=reason)
    case.recalled_at = case.status_changed_at
    case.save(update_fields=["recalled_at"])
    audit_record(
        actor=actor,
        verb="case.recalled",
        target=case,
        after={
            "reason": reason,
            "cancelled_tasks": cancelled_tasks,
            "cancelled_approvals": cancelled_approvals,
            "cancelled_requests": cancelled_requests,
        },
    )
    notify(
        recipients=agency_contacts(case=case),
        kind="case_recalled",
        title=f"Dossier {case.reference} retiré par le créancier",
        body=reason[:300],
        url=f"/dossiers/{case.pk}/",
        case_pk=case.pk,
        urgent=True,
    )
    notify(
        recipients=[
            u for u in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id) if u.pk != actor.pk
        ],
        kind="case_recalled",
        title=f"Dossier {case.reference} retiré par {actor.get_full_name() or actor.email}",
        body=reason[:300],
        url=f"/dossiers/{case.pk}/",
        case_pk=case.pk,
    )
    return case
