"""Writes on debtors, contact points and cases; each one audits itself inside its transaction."""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record, snapshot
from amiable.cases.hooks import case_ended_run, case_reopened_run
from amiable.cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    CaseReadMarker,
    CaseStatus,
    Comment,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debtor,
    Task,
    TaskStatus,
)
from amiable.cases.selectors import case_counts_fresh, task_agents_drift
from amiable.core.dates import add_months
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money, to_money
from amiable.notifications.selectors import agency_contacts, creditor_staff
from amiable.notifications.services import notify

# The only moves a case's status may make. Ended cases (paid, recalled, irrecoverable) can only be
# closed once their documents are returned; a closed case never moves again. An irrecoverable case is
# reopened by a supervisor (new facts: the debtor found, an inheritance…), with a reason.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.NEW: frozenset(
        {
            CaseStatus.IN_PROGRESS,
            CaseStatus.PAYMENT_PLAN,
            CaseStatus.SUSPENDED,
            CaseStatus.PAID,
            CaseStatus.RECALLED,
            CaseStatus.IRRECOVERABLE,
        }
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.PAYMENT_PLAN, CaseStatus.SUSPENDED, CaseStatus.PAID, CaseStatus.RECALLED, CaseStatus.IRRECOVERABLE}
    ),
    CaseStatus.PAYMENT_PLAN: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.SUSPENDED, CaseStatus.PAID, CaseStatus.RECALLED, CaseStatus.IRRECOVERABLE}
    ),
    CaseStatus.SUSPENDED: frozenset(
        {
            CaseStatus.IN_PROGRESS,
            CaseStatus.PAYMENT_PLAN,
            CaseStatus.PAID,
            CaseStatus.RECALLED,
            CaseStatus.IRRECOVERABLE,
        }
    ),
    # A reversal (bounced cheque, chargeback) reopens a case paid in full.
    CaseStatus.PAID: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN, CaseStatus.CLOSED}),
    CaseStatus.RECALLED: frozenset({CaseStatus.CLOSED}),
    CaseStatus.IRRECOVERABLE: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}


@transaction.atomic
def case_lock(case: Case) -> Case:
    """The case row locked for the rest of the transaction, with its debtor, creditor and structure: it
    serialises what is decided per case (the count of contact attempts, events). Only the case row is locked:
    locking its creditor would serialise the work of all the agents."""
    return (
        Case.objects.select_for_update(of=("self",)).select_related("debtor", "creditor", "structure").get(pk=case.pk)
    )


def case_transition(*, case: Case, to: str, actor, reason: str = "") -> Case:
    """Move a case to another status if the table allows it, and audit the move with its reason. A case that
    ends, or goes back to an open status, runs the callbacks of `cases.hooks` in the same transaction."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if to not in CaseStatus.values:
        raise ApplicationError(f"Statut inconnu : « {to} ».")
    current = CaseStatus(case.status)
    target = CaseStatus(to)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ApplicationError(
            f"Le dossier {case.reference} ne peut pas passer du statut « {current.label} » "
            f"au statut « {target.label} »."
        )
    # « Soldé » follows the money alone: reached when nothing is due, left only when a reversal restores a
    # balance (the payments services move it; nobody marks a case paid, or unpaid, by hand).
    if target == CaseStatus.PAID and case.balance > ZERO:
        raise ApplicationError(
            f"Le dossier {case.reference} n'est soldé que par ses paiements : il reste {format_money(case.balance)} dû."
        )
    if current == CaseStatus.PAID and target in CaseStatus.OPEN and case.balance == ZERO:
        raise ApplicationError(
            f"Le dossier {case.reference} est soldé : il ne se rouvre que si un paiement est rejeté."
        )
    case.status = target
    case.status_changed_at = timezone.now()
    case.save(update_fields=["status", "status_changed_at"])
    audit_record(
        actor=actor,
        verb="case.status_changed",
        target=case,
        before={"status": current.value},
        after={"status": target.value, "reason": reason},
    )
    if current in CaseStatus.OPEN and target in CaseStatus.ENDED:
        case_ended_run(case=case, previous=current, actor=actor, reason=reason)
    elif current in CaseStatus.ENDED and target in CaseStatus.OPEN:
        case_reopened_run(case=case, previous=current, actor=actor, reason=reason)
    return case


@transaction.atomic
def debtor_create(
    *, civility: str, last_name: str, first_name: str = "", birth_date: date | None = None, actor
) -> Debtor:
    """Record a debtor; names are trimmed and the last name is required."""
    last_name = " ".join(last_name.split())
    first_name = " ".join(first_name.split())
    if not last_name:
        raise ApplicationError("Le nom du débiteur est obligatoire.")
    debtor = Debtor.objects.create(civility=civility, last_name=last_name, first_name=first_name, birth_date=birth_date)
    audit_record(
        actor=actor,
        verb="debtor.created",
        target=debtor,
        after=snapshot(debtor, ["civility", "last_name", "first_name", "birth_date"]),
    )
    return debtor


def _check_case_debtor(case: Case | None, debtor: Debtor) -> None:
    # An event filed on the wrong case would show one debtor's details on another (maybe another
    # creditor's) timeline.
    if case is not None and case.debtor_id != debtor.pk:
        raise ApplicationError(f"La coordonnée n'appartient pas au débiteur du dossier {case.reference}.")


@transaction.atomic
def contact_point_add(
    *,
    debtor: Debtor,
    kind: str,
    source: str,
    actor,
    quality: str = ContactQuality.UNKNOWN,
    value: str = "",
    raw_value: str = "",
    line1: str = "",
    line2: str = "",
    postal_code: str = "",
    city: str = "",
    country: str = "FR",
    valid_from: date | None = None,
    is_primary: bool = False,
    case: Case | None = None,
) -> ContactPoint:
    """Add a contact point to a debtor with its provenance; the audit event lands on `case`'s timeline."""
    _check_case_debtor(case, debtor)
    if kind not in ContactKind.values:
        raise ApplicationError(f"Type de coordonnée inconnu : « {kind} ».")
    if quality not in ContactQuality.values:
        raise ApplicationError(f"Qualité de coordonnée inconnue : « {quality} ».")
    point = ContactPoint(
        debtor=debtor,
        kind=kind,
        source=source,
        quality=quality,
        value=value.strip(),
        raw_value=raw_value,
        line1=line1.strip(),
        line2=line2.strip(),
        postal_code=postal_code.strip(),
        city=city.strip(),
        country=country,
        valid_from=valid_from,
        is_primary=is_primary,
    )
    if kind == ContactKind.ADDRESS and not (point.line1 or point.raw_value):
        raise ApplicationError("Une adresse postale doit comporter au moins une ligne.")
    if kind != ContactKind.ADDRESS and not (point.value or point.raw_value):
        raise ApplicationError("La coordonnée est vide.")
    point.save()
    audit_record(
        actor=actor,
        verb="contact_point.added",
        target=point,
        case_pk=case.pk if case else None,
        after={"kind": kind, "display": point.display, "quality": quality, "source": source},
    )
    return point


@transaction.atomic
def contact_point_set_quality(*, point: ContactPoint, quality: str, actor, case: Case | None = None) -> ContactPoint:
    """Mark a contact point valid, doubtful or invalid (e.g. returned mail), keeping when it became invalid."""
    _check_case_debtor(case, point.debtor)
    if quality not in ContactQuality.values:
        raise ApplicationError(f"Qualité de coordonnée inconnue : « {quality} ».")
    before = point.quality
    point.quality = quality
    today = timezone.localdate()
    point.checked_on = today
    if quality != ContactQuality.INVALID:
        point.invalid_since = None
    elif before != ContactQuality.INVALID:  # keep the first day it was found invalid
        point.invalid_since = today
    point.save(update_fields=["quality", "checked_on", "invalid_since"])
    audit_record(
        actor=actor,
        verb="contact_point.quality_changed",
        target=point,
        case_pk=case.pk if case else None,
        before={"quality": before},
        after={"quality": quality},
    )
    return point


@transaction.atomic
def case_create(
    *,
    creditor,
    structure,
    debtor: Debtor,
    reference: str,
    principal_amount: Decimal | str,
    received_on: date,
    actor,
    interest_amount: Decimal | str = ZERO,
    other_amount: Decimal | str = ZERO,
    claim_date: date | None = None,
    basis: str = "",
    assigned_agent=None,
    initial_amount: Decimal | str | None = None,
) -> Case:
    """Open a case for a structure of the creditor; the initial amount (what the claim was before any
    payment to the creditor) defaults to the total claimed now and may not be below it."""
    reference = reference.strip()
    if not reference:
        raise ApplicationError("La référence du dossier est obligatoire.")
    if structure.creditor_id != creditor.pk:
        raise ApplicationError(f"La structure {structure.code} n'appartient pas au créancier {creditor.name}.")
    if assigned_agent is not None:
        require(can_work_cases(assigned_agent), "Un dossier ne peut être confié qu'à un membre de l'agence.")
    principal = to_money(principal_amount)
    interest = to_money(interest_amount)
    other = to_money(other_amount)
    if min(principal, interest, other) < ZERO:
        raise ApplicationError(f"Dossier {reference} : un montant ne peut pas être négatif.")
    total = principal + interest + other
    if total <= ZERO:
        raise ApplicationError(f"Dossier {reference} : le montant réclamé doit être positif.")
    initial = total if initial_amount is None else to_money(initial_amount)
    if initial < total:
        raise ApplicationError(f"Dossier {reference} : le solde réclamé dépasse le montant initial.")
    if Case.objects.open().filter(creditor=creditor, reference=reference).exists():
        raise ApplicationError(f"Un dossier ouvert porte déjà la référence {reference} pour {creditor.name}.")
    try:
        with transaction.atomic():
            case = Case.objects.create(
                creditor=creditor,
                structure=structure,
                debtor=debtor,
                reference=reference,
                initial_amount=initial,
                principal_amount=principal,
                interest_amount=interest,
                other_amount=other,
                claim_date=claim_date,
                basis=basis,
                received_on=received_on,
                assigned_agent=assigned_agent,
            )
    except IntegrityError as exc:  # a concurrent import took the reference first
        raise ApplicationError(f"Un dossier ouvert porte déjà la référence {reference} pour {creditor.name}.") from exc
    audit_record(
        actor=actor,
        verb="case.created",
        target=case,
        after={
            "reference": reference,
            "structure": structure.code,
            "principal_amount": principal,
            "interest_amount": interest,
            "other_amount": other,
            "received_on": received_on,
        },
    )
    return case


@transaction.atomic
def case_acknowledge(*, case: Case, acknowledged_on: date, certificate_months: int, actor) -> Case:
    """Record the acknowledgement of receipt, which starts the certificate clock (C6, C10). The clock runs
    from the receipt when that came first: the contract sets the deadline at the latest 12 months after
    the agency received the case, and a late acknowledgement must not push it back."""
    before = snapshot(case, ["acknowledged_on", "certificate_due_on"])
    case.acknowledged_on = acknowledged_on
    case.certificate_due_on = add_months(min(acknowledged_on, case.received_on), certificate_months)
    case.save(update_fields=["acknowledged_on", "certificate_due_on"])
    audit_record(
        actor=actor,
        verb="case.acknowledged",
        target=case,
        before=before,
        after=snapshot(case, ["acknowledged_on", "certificate_due_on"]),
    )
    return case


@transaction.atomic
def case_assign(*, case: Case, agent, actor) -> Case:
    """Give a case to an agent of the agency."""
    if agent is not None:
        require(can_work_cases(agent), "Un dossier ne peut être confié qu'à un membre de l'agence.")
    before = {"assigned_agent": case.assigned_agent_id}
    case.assigned_agent = agent
    case.save(update_fields=["assigned_agent"])
    audit_record(
        actor=actor,
        verb="case.assigned",
        target=case,
        before=before,
        after={"assigned_agent": agent.pk if agent else None, "agent": str(agent) if agent else ""},
    )
    return case


@transaction.atomic
def comment_add(*, case: Case, author, body: str, internal: bool = False) -> Comment:
    """Post a message on a case. Creditor staff write to the agency (the case's agent and the référent are
    notified); the agency answers them, or writes internal notes they never see."""
    body = body.strip()
    if not body:
        raise ApplicationError("Le message est vide.")
    if len(body) > 5000:
        raise ApplicationError("Le message dépasse 5 000 caractères.")
    if not Case.objects.visible_to(author).filter(pk=case.pk).exists():
        raise ApplicationError("Vous n'avez pas accès à ce dossier.")
    if internal:
        require(can_work_cases(author), "Seule l'agence peut écrire une note interne.")
    comment = Comment.objects.create(case=case, author=author, body=body, internal=internal)
    audit_record(
        actor=author,
        verb="comment.internal_added" if internal else "comment.added",
        target=comment,
        after={"body": body[:500], "internal": internal},
    )
    url = f"/dossiers/{case.pk}/#commentaires"
    if author.is_creditor_user:
        notify(
            recipients=agency_contacts(case=case),
            kind="comment",
            title=f"Message du créancier sur le dossier {case.reference}",
            body=body[:300],
            url=url,
            case_pk=case.pk,
        )
    elif not internal:
        # Creditor staff who took part in the thread are told the agency answered.
        participants = set(
            Comment.objects.filter(case=case, internal=False, author__creditor_id=case.creditor_id).values_list(
                "author_id", flat=True
            )
        )
        recipients = [
            u
            for u in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id)
            if u.pk in participants
        ]
        notify(
            recipients=recipients,
            kind="comment",
            title=f"Réponse de l'agence sur le dossier {case.reference}",
            body=body[:300],
            url=url,
            case_pk=case.pk,
        )
    return comment


def case_mark_read(*, case: Case, user) -> None:
    """Remember that the person opened the case now (unread markers); not audited, it changes no data.
    One UPDATE on every visit but the first (the case page's hottest write), the row created on the first."""
    now = timezone.now()
    if not CaseReadMarker.objects.filter(case=case, user=user).update(read_at=now):
        CaseReadMarker.objects.update_or_create(case=case, user=user, defaults={"read_at": now})


# --- tasks, events and the do-not-contact flag: written here only, whichever app decides them ----------


@transaction.atomic
def task_open(*, case: Case, kind: str, reason: str, due_on: date | None, actor=None) -> tuple[Task, bool]:
    """The open task of that kind on the case, created and audited if there is none (one open task per kind:
    a unique constraint keeps two concurrent runs from opening two)."""
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


@transaction.atomic
def tasks_cancel_open(*, case: Case, actor=None, kinds=None, keep=(), reason: str = "") -> int:
    """Cancel the case's open tasks (of `kinds` if given, except `keep`), audited; returns how many."""
    tasks = Task.objects.filter(case=case, status=TaskStatus.OPEN).exclude(kind__in=list(keep))
    if kinds is not None:
        tasks = tasks.filter(kind__in=list(kinds))
    ids = list(tasks.values_list("pk", flat=True))
    if not ids:
        return 0
    Task.objects.filter(pk__in=ids).update(status=TaskStatus.CANCELLED, closed_at=timezone.now())
    audit_record(actor=actor, verb="tasks.cancelled", target=case, after={"tasks": ids, "reason": reason[:300]})
    return len(ids)


@transaction.atomic
def task_close(*, task: Task, actor, status: str = TaskStatus.DONE, data: dict | None = None, verb: str = "task.done"):
    """Close an open task (done or cancelled) and audit it with what the caller says of it."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.OPEN:
        raise ApplicationError(f"Cette tâche est déjà close ({task.get_status_display().lower()}).")
    task.status = status
    task.closed_at = timezone.now()
    task.save(update_fields=["status", "closed_at"])
    audit_record(actor=actor, verb=verb, target=task, after=data or {"status": status})
    return task


@transaction.atomic
def case_event_add(
    *, case: Case, kind: str, occurred_on: date, details: str, actor, verb: str = "case.event_recorded", data=None
) -> CaseEvent:
    """Store an event of the case and audit it under the caller's verb, with what the caller did about it
    (`data`): the app that decides the consequences of an event says them, this one writes the row."""
    event = CaseEvent.objects.create(case=case, kind=kind, occurred_on=occurred_on, details=details, recorded_by=actor)
    audit_record(
        actor=actor,
        verb=verb,
        target=event,
        after=data if data is not None else {"kind": kind, "occurred_on": occurred_on, "details": details[:500]},
    )
    return event


@transaction.atomic
def debtor_do_not_contact_set(*, debtor: Debtor, actor, value: bool, case: Case | None = None) -> Debtor:
    """Set or lift the debtor's request not to be contacted any more (L8); the contact rule then refuses
    every contact on all their cases. `case` only says on which case's timeline the change appears."""
    require(can_work_cases(actor), "Seule l'agence peut modifier l'opposition aux contacts.")
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


@transaction.atomic
def case_counters_rebuild(*, actor=None) -> int:
    """Count every case again into `CaseCounter`, when the daily check finds a counter that drifted (a table
    emptied row by row, an edit by hand in the database). On PostgreSQL the case table is locked against
    writes meanwhile, so that no change slips between the count and the rewrite. Returns the rows written."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE cases_case IN SHARE MODE")
    fresh = case_counts_fresh()
    CaseCounter.objects.all().delete()
    CaseCounter.objects.bulk_create(
        CaseCounter(
            creditor_id=creditor_id,
            structure_id=structure_id,
            status=status,
            agent_id=agent_id,
            cases=cases,
            claimed_cents=int(claimed * 100),
            recovered_cents=int(recovered * 100),
            balance_cents=int(balance * 100),
        )
        for (creditor_id, structure_id, status, agent_id), (cases, claimed, recovered, balance) in sorted(
            fresh.items(), key=str
        )
    )
    audit_record(
        actor=actor,
        verb="case_counters.rebuilt",
        target=("cases.casecounter", "", "Compteurs de dossiers"),
        after={"rows": len(fresh)},
    )
    return len(fresh)


@transaction.atomic
def task_agents_repair(*, actor=None) -> int:
    """Give every task whose copy of its case's agent drifted (an edit by hand in the database, a trigger
    dropped) its case's agent again: « Ma journée » reads the copy. Audited even when nothing drifted (the
    daily check only calls it on a drift). Returns the tasks corrected."""
    ids = task_agents_drift()
    for start in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
        Task.objects.filter(pk__in=ids[start : start + 500]).update(
            agent_id=Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("assigned_agent_id")[:1])
        )
    audit_record(
        actor=actor,
        verb="task_agents.repaired",
        target=("cases.task", "", "Gestionnaires des tâches"),
        after={"tasks": len(ids)},
    )
    return len(ids)
