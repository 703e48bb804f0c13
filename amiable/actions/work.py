"""Case work by the agents: calls and promises to pay, events that change how a case may be worked (C12, C29,
L10), returned mail and address investigations (C9), the do-not-contact flag (L8) and reassignment.

Every service is keyword-only, runs in one transaction and audits itself there; a refusal is an
`ApplicationError` in French and writes nothing."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from amiable.accounts.models import Role
from amiable.actions.models import (
    COMPROMISING_EVENTS,
    STOPPING_EVENTS,
    Action,
    CallDirection,
    CallOutcome,
    CallRecord,
    CaseEvent,
    Channel,
    EventKind,
    PromiseStatus,
    PromiseToPay,
)
from amiable.actions.policy import ACTIVE_STATUSES, contact_refusal
from amiable.audit.services import audit_record
from amiable.cases.models import (
    Case,
    CaseStatus,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debtor,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.cases.services import case_assign, case_transition, contact_point_add, contact_point_set_quality
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money, to_money
from amiable.notifications.selectors import creditor_staff
from amiable.notifications.services import notify

# Statuses a stopping event moves to « suspendu » (an ended case is left as it is).
SUSPENDABLE_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN})
# Statuses in which a debtor is still being asked to pay: promises are followed, callbacks opened.
WORKED_STATUSES = SUSPENDABLE_STATUSES
# The creditor has 30 days to contest the debts declared in an over-indebtedness file (L10, R723-3).
CONTEST_DAYS = 30
# Tasks that contact the debtor: pointless once the debtor has died.
CONTACT_TASKS = frozenset({TaskKind.CALL, TaskKind.CALLBACK})
# Verb of the events the creditor does not see (a debtor's vulnerability is the agency's own assessment).
INTERNAL_EVENT_VERB = "case.internal_event_recorded"
INTERNAL_EVENTS = frozenset({EventKind.VULNERABILITY})
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "country")


def _require_agency(actor, what: str) -> None:
    if actor is None or not getattr(actor, "is_agency", False):
        raise ApplicationError(f"Seule l'agence peut {what}.")


def _lock_case(case: Case) -> Case:
    # Only the case row is locked: locking its creditor would serialise the work of all the agents.
    return Case.objects.select_for_update(of=("self",)).select_related("debtor", "creditor").get(pk=case.pk)


def _stopping_event(case: Case) -> CaseEvent | None:
    return CaseEvent.objects.filter(case=case, kind__in=STOPPING_EVENTS).order_by("-occurred_on", "-pk").first()


def phone_e164(number: str) -> str:
    """A French (or international) number as E.164 when it is a valid number, else as typed (trimmed)."""
    number = " ".join(number.split())
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return number
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number


def _open_task(*, case: Case, kind: str, reason: str, due_on: date | None, actor=None) -> tuple[Task, bool]:
    """The open task of that kind on the case, created if there is none (one open task per kind)."""
    task = Task.objects.filter(case=case, kind=kind, status=TaskStatus.OPEN).first()
    if task is not None:
        return task, False
    try:
        with transaction.atomic():
            task = Task.objects.create(case=case, kind=kind, reason=reason[:300], due_on=due_on)
    except IntegrityError:  # opened concurrently: the unique open constraint kept one
        return Task.objects.get(case=case, kind=kind, status=TaskStatus.OPEN), False
    audit_record(
        actor=actor,
        verb="task.opened",
        target=task,
        after={"kind": kind, "reason": task.reason, "due_on": due_on},
    )
    return task, True


# --- calls and promises -------------------------------------------------------------------------------


def _promise_refusal(case: Case) -> str | None:
    if case.status not in WORKED_STATUSES:
        return f"dossier {case.get_status_display().lower()}"
    stopped = _stopping_event(case)
    if stopped is not None:
        return stopped.get_kind_display().lower()
    return None


@transaction.atomic
def call_record(
    *,
    case: Case,
    actor,
    number: str,
    outcome: str,
    direction: str = CallDirection.OUTBOUND,
    notes: str = "",
    promise_amount: Decimal | str | None = None,
    promise_due_on: date | None = None,
    at: datetime | None = None,
) -> CallRecord:
    """Record a call with the debtor and what came of it, with the promise to pay made during it if any.
    An outbound call must be allowed by the contact policy (L8) at the time it was made; an inbound call
    (the debtor called) is always recorded. A wrong number invalidates that phone of the debtor. The notes
    stay inside the agency: the audit, which the creditor's timeline reads, carries only the outcome."""
    _require_agency(actor, "enregistrer un appel")
    if outcome not in CallOutcome.values:
        raise ApplicationError(f"Résultat d'appel inconnu : « {outcome} ».")
    if direction not in CallDirection.values:
        raise ApplicationError(f"Sens d'appel inconnu : « {direction} ».")
    number = phone_e164(number or "")
    if not number:
        raise ApplicationError("Indiquez le numéro appelé.")
    if len(number) > 30:
        raise ApplicationError("Le numéro de téléphone est trop long.")
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ApplicationError("La date de l'appel doit comporter un fuseau horaire.")
    if at > timezone.now() + timedelta(minutes=5):
        raise ApplicationError("La date de l'appel est dans le futur.")
    case = _lock_case(case)  # serialises the count of attempts of the contact policy
    if direction == CallDirection.OUTBOUND:
        reason = contact_refusal(case=case, channel=Channel.CALL, at=at)
        if reason:
            raise ApplicationError(f"Appel refusé par la politique de contact : {reason}.")
    amount = None
    if promise_amount not in (None, "") or promise_due_on is not None:
        if promise_amount in (None, "") or promise_due_on is None:
            raise ApplicationError("Une promesse de paiement demande un montant et une date.")
        refusal = _promise_refusal(case)
        if refusal:
            raise ApplicationError(f"Promesse de paiement impossible : {refusal}.")
        try:
            amount = to_money(promise_amount)
        except (TypeError, ValueError) as exc:
            raise ApplicationError(f"Montant promis invalide : « {promise_amount} ».") from exc
        if amount <= ZERO:
            raise ApplicationError("Le montant promis doit être positif.")
        if amount > case.claimed_amount:
            raise ApplicationError(
                f"Le montant promis ({format_money(amount)}) dépasse le solde réclamé "
                f"({format_money(case.claimed_amount)})."
            )
        if promise_due_on < timezone.localdate(at):
            raise ApplicationError("La date promise est antérieure à l'appel.")
    direction_label = CallDirection(direction).label.lower()
    outcome_label = CallOutcome(outcome).label
    action = Action.objects.create(
        case=case, channel=Channel.CALL, at=at, actor=actor, summary=f"Appel {direction_label} — {outcome_label}"
    )
    call = CallRecord.objects.create(
        action=action, direction=direction, number=number, outcome=outcome, notes=notes.strip()
    )
    audit_record(
        actor=actor,
        verb="call.recorded",
        target=action,
        after={"outcome": outcome, "direction": direction},
    )
    if amount is not None:
        promise = PromiseToPay.objects.create(case=case, action=action, amount=amount, due_on=promise_due_on)
        audit_record(
            actor=actor,
            verb="promise.recorded",
            target=promise,
            after={"amount": amount, "due_on": promise_due_on},
        )
    if outcome == CallOutcome.WRONG_NUMBER:
        points = ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.PHONE).exclude(
            quality=ContactQuality.INVALID
        )
        for point in points:
            if number in {point.value, phone_e164(point.raw_value) if point.raw_value else ""}:
                contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=actor, case=case)
    return call


@transaction.atomic
def promises_check(*, today: date) -> int:
    """Flag as broken the pending promises whose date has passed, and open a callback task on their case
    for its agent when the contact policy lets the agent call (not on a payment plan). Promises of cases no
    longer worked (suspended, over-indebtedness, death, ended) are left pending: nobody may chase the
    debtor about them. Idempotent; returns how many were flagged."""
    promises = (
        PromiseToPay.objects.select_for_update(of=("self",))
        .filter(status=PromiseStatus.PENDING, due_on__lt=today, case__status__in=WORKED_STATUSES)
        .exclude(case__events__kind__in=STOPPING_EVENTS)
        .select_related("case")
        .order_by("due_on", "pk")
    )
    count = 0
    for promise in promises:
        promise.status = PromiseStatus.BROKEN
        promise.save(update_fields=["status"])
        audit_record(
            actor=None,
            verb="promise.broken",
            target=promise,
            before={"status": PromiseStatus.PENDING},
            after={"status": PromiseStatus.BROKEN, "amount": promise.amount, "due_on": promise.due_on},
        )
        count += 1
        if promise.case.status not in ACTIVE_STATUSES:
            continue
        _open_task(
            case=promise.case,
            kind=TaskKind.CALLBACK,
            reason=f"Promesse de {format_money(promise.amount)} pour le {format_date(promise.due_on)} non tenue",
            due_on=today,
        )
    return count


# --- events -------------------------------------------------------------------------------------------


def _cancel_open_tasks(*, case: Case, kinds=None, keep=()) -> int:
    tasks = Task.objects.filter(case=case, status=TaskStatus.OPEN).exclude(kind__in=list(keep))
    if kinds is not None:
        tasks = tasks.filter(kind__in=list(kinds))
    return tasks.update(status=TaskStatus.CANCELLED, closed_at=timezone.now())


@transaction.atomic
def event_record(*, case: Case, kind: str, occurred_on: date, details: str, actor) -> CaseEvent:
    """Record what happened to the debtor or the claim, and act on it:
    - an event that compromises recovery (over-indebtedness referral or admissibility, death, dispute,
      insolvency) is told at once to the creditor's staff and to the référent, urgently (C12, C29);
    - an over-indebtedness file declared admissible stops every action (L10): the case is suspended, its
      open tasks are cancelled and a task opens to check and contest the declared debts within 30 days;
      the contact policy then refuses every contact. Pending promises are left as they are (the debtor may
      no longer pay earlier debts; `promises_check` does not follow promises of a suspended case);
    - a death suspends the case and cancels the calls planned;
    - a vulnerability is recorded for the agency only (its audit is not on the creditor's timeline)."""
    _require_agency(actor, "enregistrer un événement")
    if kind not in EventKind.values:
        raise ApplicationError(f"Événement inconnu : « {kind} ».")
    if kind == EventKind.RETURNED_MAIL:
        raise ApplicationError("Un courrier revenu s'enregistre avec « Courrier revenu (NPAI) » sur l'adresse.")
    if not isinstance(occurred_on, date):
        raise ApplicationError("Indiquez la date de l'événement.")
    if occurred_on > timezone.localdate():
        raise ApplicationError("La date de l'événement est dans le futur.")
    details = (details or "").strip()
    if len(details) > 5000:
        raise ApplicationError("Les précisions dépassent 5 000 caractères.")
    case = _lock_case(case)
    if not case.is_open:
        raise ApplicationError(
            f"Le dossier {case.reference} est terminé ({case.get_status_display().lower()}) : "
            "aucun événement ne peut être enregistré."
        )
    label = EventKind(kind).label
    event = CaseEvent.objects.create(case=case, kind=kind, occurred_on=occurred_on, details=details, recorded_by=actor)
    consequences: dict = {}
    if kind in STOPPING_EVENTS and case.status in SUSPENDABLE_STATUSES:
        case_transition(case=case, to=CaseStatus.SUSPENDED, actor=actor, reason=label)
        case.refresh_from_db(fields=["status", "status_changed_at"])
        consequences["suspended"] = True
    if kind == EventKind.OVER_INDEBTEDNESS_ADMISSIBLE:
        consequences["tasks_cancelled"] = _cancel_open_tasks(case=case, keep={TaskKind.CONTEST_DECLARED_DEBTS})
        due_on = occurred_on + timedelta(days=CONTEST_DAYS)
        task, _ = _open_task(
            case=case,
            kind=TaskKind.CONTEST_DECLARED_DEBTS,
            reason=(
                f"Dossier de surendettement recevable le {format_date(occurred_on)} : vérifier les créances "
                f"déclarées et les contester au besoin avant le {format_date(due_on)}"
            ),
            due_on=due_on,
            actor=actor,
        )
        consequences["contest_due_on"] = task.due_on
    elif kind == EventKind.DEATH:
        consequences["tasks_cancelled"] = _cancel_open_tasks(case=case, kinds=CONTACT_TASKS)
    audit_record(
        actor=actor,
        verb=INTERNAL_EVENT_VERB if kind in INTERNAL_EVENTS else "case.event_recorded",
        target=event,
        after={"kind": kind, "occurred_on": occurred_on, "details": details[:500], **consequences},
    )
    if kind in COMPROMISING_EVENTS:
        recipients = creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id)
        recipients.append(case.creditor.referent)
        notify(
            recipients=[u for u in recipients if u is not None and u.pk != actor.pk],
            kind="case_event",
            title=f"Dossier {case.reference} : {label.lower()}",
            body=f"{label} le {format_date(occurred_on)}." + (f"\n{details[:300]}" if details else ""),
            url=f"/dossiers/{case.pk}/",
            case_pk=case.pk,
            urgent=True,
        )
    return event


# --- returned mail and address investigations ---------------------------------------------------------


@dataclass(frozen=True)
class ReturnedMail:
    event: CaseEvent
    task: Task | None
    task_created: bool


@transaction.atomic
def returned_mail_record(*, case: Case, actor, point: ContactPoint) -> ReturnedMail:
    """A letter came back « n'habite pas à l'adresse indiquée » (NPAI): the address becomes invalid, the
    event is recorded, and an address investigation opens (C9) unless one is already open or the case is
    no longer worked."""
    _require_agency(actor, "enregistrer un courrier revenu")
    case = _lock_case(case)
    if point.debtor_id != case.debtor_id:
        raise ApplicationError(f"Cette adresse n'est pas celle du débiteur du dossier {case.reference}.")
    if point.kind != ContactKind.ADDRESS:
        raise ApplicationError("Seule une adresse postale peut faire l'objet d'un courrier revenu.")
    if not case.is_open:
        raise ApplicationError(
            f"Le dossier {case.reference} est terminé ({case.get_status_display().lower()}) : "
            "aucun événement ne peut être enregistré."
        )
    if point.quality != ContactQuality.INVALID:
        contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=actor, case=case)
    today = timezone.localdate()
    event = CaseEvent.objects.create(
        case=case,
        kind=EventKind.RETURNED_MAIL,
        occurred_on=today,
        details=f"Adresse : {point.display}",
        recorded_by=actor,
    )
    task, created = None, False
    if case.status in WORKED_STATUSES and _stopping_event(case) is None:
        task, created = _open_task(
            case=case,
            kind=TaskKind.ADDRESS_INVESTIGATION,
            reason=f"Courrier revenu (NPAI) le {format_date(today)} : {point.display}",
            due_on=today,
            actor=actor,
        )
    audit_record(
        actor=actor,
        verb="returned_mail.recorded",
        target=event,
        after={"address": point.display, "investigation": task.pk if task else None},
    )
    return ReturnedMail(event=event, task=task, task_created=created)


@transaction.atomic
def investigation_record(
    *, task: Task, actor, sources: str, result: str, new_address: dict | None = None
) -> ContactPoint | None:
    """Close an address investigation (C9) with the sources consulted and what they gave. A new address
    found is added as the debtor's valid, primary address, with the sources as its provenance, and the
    addresses known before become invalid. Returns the new address, if any."""
    _require_agency(actor, "enregistrer une recherche d'adresse")
    task = Task.objects.select_for_update().select_related("case").get(pk=task.pk)
    if task.kind != TaskKind.ADDRESS_INVESTIGATION:
        raise ApplicationError("Cette tâche n'est pas une recherche d'adresse.")
    if task.status != TaskStatus.OPEN:
        raise ApplicationError(f"Cette recherche d'adresse est déjà close ({task.get_status_display().lower()}).")
    sources = " ".join((sources or "").split())
    result = (result or "").strip()
    if not sources:
        raise ApplicationError("Indiquez les sources consultées.")
    if not result:
        raise ApplicationError("Indiquez le résultat de la recherche.")
    case = _lock_case(task.case)
    address = {k: " ".join(str((new_address or {}).get(k) or "").split()) for k in ADDRESS_FIELDS}
    address["country"] = (address["country"] or "FR").upper()
    if any(address[k] for k in ("line1", "line2", "postal_code", "city")):
        if not (address["line1"] and address["postal_code"] and address["city"]):
            raise ApplicationError("La nouvelle adresse doit comporter une adresse, un code postal et une ville.")
    else:
        address = None
    task.status = TaskStatus.DONE
    task.closed_at = timezone.now()
    task.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        verb="investigation.done",
        target=task,
        after={"sources": sources[:500], "result": result[:1000], "new_address": bool(address)},
    )
    if address is None:
        return None
    previous = list(
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.ADDRESS).exclude(
            quality=ContactQuality.INVALID
        )
    )
    for point in previous:
        contact_point_set_quality(point=point, quality=ContactQuality.INVALID, actor=actor, case=case)
    return contact_point_add(
        debtor=case.debtor,
        kind=ContactKind.ADDRESS,
        source=f"Recherche d'adresse : {sources}"[:100],
        actor=actor,
        quality=ContactQuality.VALID,
        valid_from=timezone.localdate(),
        is_primary=True,
        case=case,
        **address,
    )


# --- do not contact, assignment -----------------------------------------------------------------------


@transaction.atomic
def do_not_contact_set(*, debtor: Debtor, actor, value: bool, case: Case | None = None) -> Debtor:
    """Set or lift the debtor's request not to be contacted any more (L8); the contact policy then refuses
    every contact on all their cases. `case` only says on which case's timeline the change appears."""
    _require_agency(actor, "modifier l'opposition aux contacts")
    debtor = Debtor.objects.select_for_update().get(pk=debtor.pk)
    if case is not None and case.debtor_id != debtor.pk:
        raise ApplicationError(f"Ce débiteur n'est pas celui du dossier {case.reference}.")
    value = bool(value)
    if debtor.do_not_contact == value:
        return debtor  # a repeated submission changes nothing and records nothing
    debtor.do_not_contact = value
    debtor.save(update_fields=["do_not_contact"])
    audit_record(
        actor=actor,
        verb="debtor.do_not_contact_set",
        target=debtor,
        case_pk=case.pk if case else None,
        before={"do_not_contact": not value},
        after={"do_not_contact": value},
    )
    return debtor


REASSIGNERS = frozenset({Role.SUPERVISOR, Role.AGENCY_ADMIN})


def can_reassign(user) -> bool:
    return bool(getattr(user, "is_agency", False) and user.role in REASSIGNERS)


@transaction.atomic
def cases_reassign(*, case_ids, agent, actor) -> int:
    """Give several cases to another agent at once (supervisors and agency admins): all or none."""
    if not can_reassign(actor):
        raise ApplicationError(
            "Seuls les superviseurs et administrateurs de l'agence peuvent réattribuer des dossiers."
        )
    if agent is None or not agent.is_agency:
        raise ApplicationError("Un dossier ne peut être confié qu'à un membre actif de l'agence.")
    ids = sorted({int(pk) for pk in case_ids})
    if not ids:
        raise ApplicationError("Sélectionnez au moins un dossier.")
    cases = list(Case.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(cases) != len(ids):
        raise ApplicationError("Un des dossiers sélectionnés est introuvable.")
    for case in cases:
        if case.assigned_agent_id != agent.pk:
            case_assign(case=case, agent=agent, actor=actor)
    return len(cases)
