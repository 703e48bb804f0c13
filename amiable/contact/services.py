"""Calls with debtors and the promises to pay made during them (C2, L2, L8).

Every service is keyword-only, runs in one transaction and audits itself there; a refusal is an
`ApplicationError` in French and writes nothing."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import phonenumbers
from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import (
    STOPPING_EVENTS,
    WORKED_STATUSES,
    Action,
    Case,
    CaseStatus,
    Channel,
    ContactKind,
    ContactPoint,
    ContactQuality,
    TaskKind,
)
from amiable.cases.policy import case_contact_block
from amiable.cases.selectors import case_stopping_event
from amiable.cases.services import case_lock, contact_point_set_quality, task_open
from amiable.contact.models import CallDirection, CallOutcome, CallRecord, PromiseStatus, PromiseToPay
from amiable.contact.selectors import promise_latest_due_on
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import CENT, ZERO, format_money, to_money
from amiable.letters.models import Letter, LetterKind


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


def _promise_refusal(case: Case) -> str | None:
    if case.status not in WORKED_STATUSES:
        return f"dossier {case.get_status_display().lower()}"
    if case.balance <= ZERO:
        return "rien ne reste dû sur ce dossier"
    stopped = case_stopping_event(case=case)
    if stopped is not None:
        return stopped.get_kind_display().lower()
    return None


AMOUNT, DUE_ON, OUTCOME = ({"field": name} for name in ("promise_amount", "promise_due_on", "outcome"))


def _promise_checked(case: Case, outcome: str, promise_amount, promise_due_on: date | None, day: date) -> Decimal:
    """The promised amount, once the promise makes sense: recorded with the outcome « promesse de paiement »,
    for a date from the day of the call to the contract's plan limit (a promise further away is a payment
    plan, which needs the creditor beyond that limit), for at most what remains due. Each refusal names the
    field of the call form it is about."""
    if outcome != CallOutcome.PROMISE:
        raise ApplicationError(
            f"Une promesse de paiement s'enregistre avec le résultat « {CallOutcome.PROMISE.label} ».", extra=OUTCOME
        )
    if promise_amount in (None, "") or promise_due_on is None:
        raise ApplicationError(
            "Une promesse de paiement demande un montant et une date.",
            extra=AMOUNT if promise_amount in (None, "") else DUE_ON,
        )
    refusal = _promise_refusal(case)
    if refusal:
        raise ApplicationError(f"Promesse de paiement impossible : {refusal}.")
    try:
        amount = to_money(promise_amount)
    except (TypeError, ValueError) as exc:
        raise ApplicationError(f"Montant promis invalide : « {promise_amount} ».", extra=AMOUNT) from exc
    if amount < CENT:
        raise ApplicationError(f"Le montant promis doit être d'au moins {format_money(CENT)}.", extra=AMOUNT)
    if amount > case.balance:
        raise ApplicationError(
            f"Le montant promis ({format_money(amount)}) dépasse le reste dû ({format_money(case.balance)}).",
            extra=AMOUNT,
        )
    if promise_due_on < day:
        raise ApplicationError("La date promise est antérieure à l'appel.", extra=DUE_ON)
    limit, months = promise_latest_due_on(case=case, day=day)
    if promise_due_on > limit:
        raise ApplicationError(
            f"La date promise dépasse la durée maximale d'un plan prévue au contrat ({months} mois) : "
            f"au plus tard le {format_date(limit)}.",
            extra=DUE_ON,
        )
    return amount


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
    """Record a call with the debtor and what came of it, with the promise to pay made during it if any (the
    outcome « promesse de paiement », see `_promise_checked`).
    An outbound call must be allowed by the contact rule (L8) at the time it was made and follow the first
    letter, which it recalls (R124-4, L2: the call keeps the letter it quoted); an inbound call (the debtor
    called) is always recorded. A wrong number invalidates that phone of the debtor. The notes
    stay inside the agency: the audit, which the creditor's timeline reads, carries only the outcome."""
    require(can_work_cases(actor), "Seule l'agence peut enregistrer un appel.")
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
    case = case_lock(case)
    first_letter = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if direction == CallDirection.OUTBOUND:
        block = case_contact_block(case, Channel.CALL, at)
        if block is not None:
            raise ApplicationError(f"Appel refusé par la politique de contact : {block.message}.")
        # CPCE R124-4: the first contact is the letter; every later contact recalls it (L2).
        if first_letter is None or first_letter.issued_at > at:
            raise ApplicationError(
                f"Appel sortant refusé : la première lettre du dossier {case.reference} n'est pas encore partie "
                "(CPCE R124-4). Envoyez-la avant tout appel."
            )
    amount = None
    if outcome == CallOutcome.PROMISE or promise_amount not in (None, "") or promise_due_on is not None:
        amount = _promise_checked(case, outcome, promise_amount, promise_due_on, timezone.localdate(at))
    direction_label = CallDirection(direction).label.lower()
    outcome_label = CallOutcome(outcome).label
    action = Action.objects.create(
        case=case, channel=Channel.CALL, at=at, actor=actor, summary=f"Appel {direction_label} — {outcome_label}"
    )
    call = CallRecord.objects.create(
        action=action,
        direction=direction,
        number=number,
        outcome=outcome,
        notes=notes.strip(),
        first_letter=first_letter,
    )
    audit_record(
        actor=actor,
        verb="call.recorded",
        target=action,
        after={
            "outcome": outcome,
            "direction": direction,
            "first_letter": first_letter.number if first_letter else None,
        },
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
        if promise.case.status not in CaseStatus.CONTACTABLE:
            continue
        task_open(
            case=promise.case,
            kind=TaskKind.CALLBACK,
            reason=f"Promesse de {format_money(promise.amount)} pour le {format_date(promise.due_on)} non tenue",
            due_on=today,
        )
    return count


def promises_cancel_for_case(*, case: Case, actor, reason: str) -> int:
    """Cancel the case's pending promises when the case ends (called by `closure.ending` inside the move's
    transaction): nobody follows them any more, so they must not stay « en attente » forever. A promise already
    kept or flagged broken keeps its state. Audited; returns how many."""
    promises = list(
        PromiseToPay.objects.select_for_update().filter(case=case, status=PromiseStatus.PENDING).order_by("pk")
    )
    for promise in promises:
        promise.status = PromiseStatus.CANCELLED
        promise.save(update_fields=["status"])
        audit_record(
            actor=actor,
            verb="promise.cancelled",
            target=promise,
            case_pk=case.pk,
            before={"status": PromiseStatus.PENDING},
            after={
                "status": PromiseStatus.CANCELLED,
                "amount": promise.amount,
                "due_on": promise.due_on,
                "reason": reason,
            },
        )
    return len(promises)


@transaction.atomic
def promise_mark_kept(*, promise: PromiseToPay, actor) -> PromiseToPay:
    """An agent records that the debtor kept a promise (paid as promised), so that `promises_check` does
    not flag it broken nor tell the creditor « promesse non tenue ». A broken promise can also be marked
    kept when the payment arrived late. Once payments are recorded, they keep promises themselves."""
    require(can_work_cases(actor), "Seule l'agence peut marquer une promesse tenue.")
    return _promise_keep(promise, actor=actor)


def promise_keep_by_payment(*, promise: PromiseToPay, payment_label: str, actor) -> PromiseToPay:
    """A payment recorded on the case kept the promise (called by the payments services inside their
    transaction, whoever recorded it: an agent, the creditor's staff or a bank statement)."""
    return _promise_keep(promise, actor=actor, by=payment_label)


def _promise_keep(promise: PromiseToPay, *, actor, by: str = "") -> PromiseToPay:
    """Mark kept and audit once: a repeated submission changes nothing and records nothing."""
    promise = PromiseToPay.objects.select_for_update().get(pk=promise.pk)
    if promise.status == PromiseStatus.KEPT:
        return promise
    before = promise.status
    promise.status = PromiseStatus.KEPT
    promise.save(update_fields=["status"])
    after = {"status": PromiseStatus.KEPT, "amount": promise.amount, "due_on": promise.due_on}
    audit_record(
        actor=actor,
        verb="promise.kept",
        target=promise,
        case_pk=promise.case_id,
        before={"status": before},
        after={**after, "by": by} if by else after,
    )
    return promise
