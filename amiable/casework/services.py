"""Case work by the agents: events that change how a case may be worked (C12, C29,
L10), returned mail and address investigations (C9), the do-not-contact flag (L8) and reassignment.

Every service is keyword-only, runs in one transaction and audits itself there; a refusal is an
`ApplicationError` in French and writes nothing."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_reassign, can_work_cases, require
from amiable.cases.models import (
    COMPROMISING_EVENTS,
    STOPPING_EVENTS,
    WORKED_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    ContactKind,
    ContactPoint,
    ContactQuality,
    EventKind,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.cases.selectors import case_stopping_event
from amiable.cases.services import (
    case_assign,
    case_event_add,
    case_lock,
    case_transition,
    contact_point_add,
    contact_point_set_quality,
    task_close,
    task_open,
    tasks_cancel_open,
)
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.notifications.selectors import creditor_staff
from amiable.notifications.services import notify

# Statuses a stopping event moves to « suspendu » (an ended case is left as it is).
SUSPENDABLE_STATUSES = WORKED_STATUSES
# The creditor has 30 days to contest the debts declared in an over-indebtedness file (L10, R723-3).
CONTEST_DAYS = 30
# Tasks that contact the debtor: pointless once the debtor has died.
CONTACT_TASKS = frozenset({TaskKind.CALL, TaskKind.CALLBACK})
# Verb of the events the creditor does not see (a debtor's vulnerability is the agency's own assessment).
INTERNAL_EVENT_VERB = "case.internal_event_recorded"
INTERNAL_EVENTS = frozenset({EventKind.VULNERABILITY})
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "country")


# --- events -------------------------------------------------------------------------------------------


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
    require(can_work_cases(actor), "Seule l'agence peut enregistrer un événement.")
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
    case = case_lock(case)
    if not case.is_open:
        raise ApplicationError(
            f"Le dossier {case.reference} est terminé ({case.get_status_display().lower()}) : "
            "aucun événement ne peut être enregistré."
        )
    label = EventKind(kind).label
    consequences: dict = {}
    if kind in STOPPING_EVENTS and case.status in SUSPENDABLE_STATUSES:
        case_transition(case=case, to=CaseStatus.SUSPENDED, actor=actor, reason=label)
        case.refresh_from_db(fields=["status", "status_changed_at"])
        consequences["suspended"] = True
    if kind == EventKind.OVER_INDEBTEDNESS_ADMISSIBLE:
        consequences["tasks_cancelled"] = tasks_cancel_open(
            case=case, actor=actor, keep={TaskKind.CONTEST_DECLARED_DEBTS}, reason=label
        )
        due_on = occurred_on + timedelta(days=CONTEST_DAYS)
        task, _ = task_open(
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
        consequences["tasks_cancelled"] = tasks_cancel_open(case=case, actor=actor, kinds=CONTACT_TASKS, reason=label)
    event = case_event_add(
        case=case,
        kind=kind,
        occurred_on=occurred_on,
        details=details,
        actor=actor,
        verb=INTERNAL_EVENT_VERB if kind in INTERNAL_EVENTS else "case.event_recorded",
        data={"kind": kind, "occurred_on": occurred_on, "details": details[:500], **consequences},
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
    require(can_work_cases(actor), "Seule l'agence peut enregistrer un courrier revenu.")
    case = case_lock(case)
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
    task, created = None, False
    if case.status in WORKED_STATUSES and case_stopping_event(case=case) is None:
        task, created = task_open(
            case=case,
            kind=TaskKind.ADDRESS_INVESTIGATION,
            reason=f"Courrier revenu (NPAI) le {format_date(today)} : {point.display}",
            due_on=today,
            actor=actor,
        )
    event = case_event_add(
        case=case,
        kind=EventKind.RETURNED_MAIL,
        occurred_on=today,
        details=f"Adresse : {point.display}",
        actor=actor,
        verb="returned_mail.recorded",
        data={"address": point.display, "investigation": task.pk if task else None},
    )
    return ReturnedMail(event=event, task=task, task_created=created)


@transaction.atomic
def investigation_record(
    *, task: Task, actor, sources: str, result: str, new_address: dict | None = None
) -> ContactPoint | None:
    """Close an address investigation (C9) with the sources consulted and what they gave. A new address
    found is added as the debtor's valid, primary address, with the sources as its provenance, and the
    addresses known before become invalid. Returns the new address, if any."""
    require(can_work_cases(actor), "Seule l'agence peut enregistrer une recherche d'adresse.")
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
    case = case_lock(task.case)
    address = {k: " ".join(str((new_address or {}).get(k) or "").split()) for k in ADDRESS_FIELDS}
    address["country"] = (address["country"] or "FR").upper()
    if any(address[k] for k in ("line1", "line2", "postal_code", "city")):
        if not (address["line1"] and address["postal_code"] and address["city"]):
            raise ApplicationError("La nouvelle adresse doit comporter une adresse, un code postal et une ville.")
    else:
        address = None
    task_close(
        task=task,
        actor=actor,
        verb="investigation.done",
        data={"sources": sources[:500], "result": result[:1000], "new_address": bool(address)},
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
def cases_reassign(*, case_ids, agent, actor) -> int:
    """Give several cases to another agent at once (supervisors and agency admins): all or none."""
    require(
        can_reassign(actor), "Seuls les superviseurs et administrateurs de l'agence peuvent réattribuer des dossiers."
    )
    require(can_work_cases(agent), "Un dossier ne peut être confié qu'à un membre actif de l'agence.")
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


@transaction.atomic
def case_take(*, case: Case, actor) -> Case:
    """An agent takes an open case that nobody follows for themselves; giving it to someone else, or taking a
    colleague's case, stays with supervisors and agency admins (`cases_reassign`)."""
    require(can_work_cases(actor), "Seule l'agence peut suivre un dossier.")
    case = case_lock(case)
    if not case.is_open:
        raise ApplicationError(
            f"Le dossier {case.reference} est terminé ({case.get_status_display().lower()}) : "
            "il ne peut plus être pris."
        )
    if case.assigned_agent_id == actor.pk:
        raise ApplicationError(f"Vous suivez déjà le dossier {case.reference}.")
    if case.assigned_agent_id is not None:
        raise ApplicationError(
            f"Le dossier {case.reference} est suivi par {case.assigned_agent} : demandez à un superviseur de vous "
            "le confier."
        )
    return case_assign(case=case, agent=actor, actor=actor)
