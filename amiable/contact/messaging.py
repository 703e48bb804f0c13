"""E-mails and SMS to debtors: same legal rules as letters (recall of the first letter, L2; no
judicial wording or fee, L3/L7; nothing about care, L9).

A message is decided and stored in one transaction, with the case locked so that the contact rule's cap
holds under concurrent sends; it is delivered after the commit by a task, through Django's e-mail backend
or the pluggable SMS sender, and marked sent or failed with the reason. `deliver_outbox` retries the
failures (and whatever the task missed) a few times, and an agent may retry a failure from the outbox
page. The decision is the attempt that the cap counts: a message whose delivery fails keeps its action.

A document the agency owes the debtor (a payment's receipt, CPCE R124-6) goes through the same outbox and
delivery, attached to its e-mail, but it is not a recovery contact: no action, outside the caps, the hours
and the do-not-contact request of the contact rule (`document_email_queue`)."""

import hashlib
import mimetypes
import re
import smtplib
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record, audit_record_many
from amiable.cases.models import Action, Case, Channel, ContactKind, ContactPoint, ContactQuality
from amiable.cases.policy import ContactBlock, case_contact_block
from amiable.cases.services import case_lock
from amiable.compliance.legal import debtor_text_problems
from amiable.contact.models import CONTACT_KINDS, MessageKind, MessageStatus, OutboxMessage
from amiable.core.bulk import insert_objects
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money
from amiable.creditors.selectors import agency_get
from amiable.letters.models import Letter, LetterKind

SMS_MAX = 320  # two SMS at most
AGENCY_ONLY = "Seule l'agence écrit aux débiteurs."
# Delivery: automatic attempts at most (an agent may still retry after them), the wait after each failure,
# how long a queued message waits for its task before `deliver_outbox` takes it over, and how long a
# message may stay « envoi en cours » before the attempt is deemed interrupted.
MAX_ATTEMPTS = 5
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))
QUEUED_GRACE = timedelta(minutes=5)
SENDING_STALE_AFTER = timedelta(minutes=15)
DELIVERABLE = (MessageStatus.QUEUED, MessageStatus.FAILED)
# Refusals of the contact rule that will not lift by waiting: a message they hold back is abandoned.
LASTING_BLOCKS = frozenset({"case_not_active", "nothing_due", "stopping_event", "do_not_contact"})


class OutboxSmsSender:
    """The default SMS sender: keeps the message in the outbox only (the demo, and until a provider is set)."""

    def send(self, *, to: str, text: str) -> None:
        return None


# What a caller that read the first letters and contact points of many cases at once passes for « not read ».
_UNREAD = object()


def _first_letter(case: Case, first=_UNREAD) -> Letter:
    """The first letter a message recalls (L2). It must be on its way to the debtor: a message that quotes a
    letter still waiting for the print run would reach the debtor before the letter it recalls. `first`: the
    case's first letter (or None) when the caller has read it already."""
    if first is _UNREAD:
        first = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if first is None:
        raise ApplicationError(
            "Le premier contact est la lettre de l'article R124-4 : envoyez-la avant tout e-mail ou SMS."
        )
    if first.printed_on is None:
        raise ApplicationError(
            f"La première lettre {first.number} n'est pas encore imprimée : un e-mail ou un SMS qui la rappelle "
            "ne peut partir qu'une fois qu'elle est dans un lot d'impression (« Courriers à imprimer »)."
        )
    return first


# The valid point a message goes to, when a debtor has several: the primary, then the latest.
POINT_ORDER = ("-is_primary", "-created_at", "-pk")


def _contact(case: Case, kind: str, point=_UNREAD) -> ContactPoint:
    if point is _UNREAD:
        point = (
            ContactPoint.objects.filter(debtor=case.debtor, kind=kind, quality=ContactQuality.VALID)
            .exclude(value="")
            .order_by(*POINT_ORDER)
            .first()
        )
    if point is None:
        label = "e-mail" if kind == ContactKind.EMAIL else "numéro de téléphone"
        raise ApplicationError(f"Aucun {label} valide pour ce débiteur.")
    return point


def debtor_email(*, case: Case) -> str | None:
    """The debtor's e-mail address to write to (the primary valid one, else the latest valid one), or None."""
    point = (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.EMAIL, quality=ContactQuality.VALID)
        .exclude(value="")
        .order_by("-is_primary", "-created_at", "-pk")
        .first()
    )
    return point.value if point is not None else None


def _check(text: str, case: Case, *, html: str = "") -> None:
    """The legal checks of every message to a debtor, on all it shows: the text, and the HTML part's words."""
    if html:
        text = text + "\n" + re.sub(r"<[^>]*>", " ", html)
    problems = debtor_text_problems(text, case=case)
    if problems:
        raise ApplicationError("Message refusé : " + " ; ".join(problems) + ".")


def _context(case: Case, first: Letter, agency=None) -> dict:
    """What a reminder says: the remaining balance, and what was already received when the debtor paid part."""
    if case.balance <= ZERO:
        raise ApplicationError(f"Rien ne reste dû sur le dossier {case.reference} : aucune relance.")
    return {
        "agency": agency or agency_get(),
        "case": case,
        "creditor": case.creditor,
        "amount": format_money(case.balance),
        "paid": format_money(case.recovered_amount) if case.paid_amount else "",
        "first_letter": first,
    }


def email_content(*, case: Case, first=_UNREAD, point=_UNREAD, agency=None) -> dict:
    """Recipient, subject, text and HTML of the reminder e-mail, checked; used by the preview and the send.
    `first` and `point`: the case's first letter and the debtor's e-mail (`POINT_ORDER`'s first valid one),
    or None, and the agency, when the caller has read them for many cases at once."""
    first = _first_letter(case, first)
    point = _contact(case, ContactKind.EMAIL, point)
    context = _context(case, first, agency)
    subject = f"Votre dossier {case.reference} — {case.creditor.name}"
    text = render_to_string("messages/email_reminder.txt", context)
    html = render_to_string("messages/email_reminder.html", context)
    _check(subject + "\n" + text, case, html=html)
    return {
        "to": point.value,
        "subject": subject,
        "text": text,
        "html": html,
        "first": first,
        "reply_to": context["agency"].email,
    }


def sms_content(*, case: Case, first=_UNREAD, point=_UNREAD, agency=None) -> dict:
    """Recipient and text of the reminder SMS, checked (`first`, `point`, `agency`: as for `email_content`)."""
    first = _first_letter(case, first)
    point = _contact(case, ContactKind.PHONE, point)
    text = render_to_string("messages/sms_reminder.txt", _context(case, first, agency)).strip()
    if len(text) > SMS_MAX:
        raise ApplicationError(f"SMS trop long ({len(text)} caractères sur {SMS_MAX}).")
    _check(text, case)
    return {"to": point.value, "text": text, "first": first}


def _enqueue(message_id: int) -> None:
    from amiable.contact.tasks import outbox_deliver  # the task module imports this one

    outbox_deliver.enqueue(message_id=message_id)


def _outbox_message(*, case: Case, action: Action, channel: str, content: dict, now: datetime, kind: str):
    """The message to store for a decided reminder (not saved): one shape for one send and for many."""
    return OutboxMessage(
        case=case,
        action=action,
        channel=channel,
        to=content["to"],
        reply_to=content.get("reply_to") or "",
        subject=content.get("subject", ""),
        text=content["text"],
        html=content.get("html", ""),
        first_letter=content["first"],
        created_at=now,
        next_attempt_at=now + QUEUED_GRACE,
        kind=kind,
    )


def _queued_event(channel: str, message: OutboxMessage, content: dict) -> dict:
    """The `<channel>.queued` audit event of a stored message, as `audit_record`'s arguments."""
    return {
        "verb": f"{channel}.queued",
        "target": message,
        "after": {"to": message.to, "subject": message.subject, "first_letter": content["first"].number},
    }


def _queue(
    *,
    case: Case,
    actor,
    at: datetime | None,
    channel: str,
    content: dict,
    summary: str,
    kind: str = MessageKind.RECOVERY,
) -> OutboxMessage:
    """Store the decided message and its action (the attempt the cap counts), audit the decision, and have it
    delivered once the transaction commits. Should the task not be enqueued, `deliver_outbox` takes the
    message over after QUEUED_GRACE."""
    now = timezone.now()
    action = Action.objects.create(case=case, channel=channel, at=at or now, actor=_user(actor), summary=summary)
    message = _outbox_message(case=case, action=action, channel=channel, content=content, now=now, kind=kind)
    message.save(force_insert=True)
    audit_record(actor=actor, **_queued_event(channel, message, content))
    # Robust: the decision is committed whatever happens to the queue; the command is the safety net.
    transaction.on_commit(lambda: _enqueue(message.pk), robust=True)
    return message


def _enqueue_many(message_ids: list[int]) -> None:
    from amiable.contact.tasks import outbox_deliver_many  # the task module imports this one

    outbox_deliver_many.enqueue(message_ids=message_ids)


@transaction.atomic
def reminders_queue(*, channel: str, items: list[tuple[Case, dict, str]], actor, at: datetime) -> list[OutboxMessage]:
    """The bulk twin of `email_send` / `sms_send` for the daily scenarios: many reminders decided at once, each
    given as (case, content from `email_content` or `sms_content`, summary). The caller has locked the cases
    and asked the contact rule for each (`case_contact_blocks`), as the single sends do one case at a time.
    Stored as `_queue` stores one message (its action, the message, the `<channel>.queued` event), in a few
    queries whatever their number; delivered after the commit by one task for them all, `deliver_outbox`
    being the safety net as for any message."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise ApplicationError(f"Canal de message inconnu : « {channel} ».")
    if not items:
        return []
    now = timezone.now()
    user = _user(actor)
    # Written by COPY on PostgreSQL (`insert_objects`): the ORM's insert cost more than the database's.
    actions = insert_objects(
        Action, [Action(case=case, channel=channel, at=at, actor=user, summary=summary) for case, _c, summary in items]
    )
    messages = insert_objects(
        OutboxMessage,
        [
            _outbox_message(
                case=case, action=action, channel=channel, content=content, now=now, kind=MessageKind.RECOVERY
            )
            for (case, content, _s), action in zip(items, actions, strict=True)
        ],
    )
    audit_record_many(
        actor=actor,
        events=[
            _queued_event(channel, message, content)
            for message, (_case, content, _s) in zip(messages, items, strict=True)
        ],
    )
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: _enqueue_many(ids), robust=True)
    return messages


@transaction.atomic
def document_email_queue(
    *,
    case: Case,
    to: str,
    subject: str,
    text: str,
    html: str,
    attachment: FieldFile,
    attachment_name: str,
    attachment_sha256: str,
    actor,
    kind: str = MessageKind.RECEIPT,
) -> OutboxMessage:
    """Queue an e-mail carrying a document the agency owes the debtor (a receipt), its stored file attached,
    for delivery after the commit. Not a recovery contact: no action is recorded, and neither the contact
    rule's caps nor its hours nor a do-not-contact request hold it back. Its wording is checked as any message's."""
    if kind == MessageKind.RECOVERY:
        raise ValueError("A recovery message goes through email_send, within the contact rule.")
    _check(subject + "\n" + text, case, html=html)
    now = timezone.now()
    message = OutboxMessage.objects.create(
        case=case,
        kind=kind,
        channel=Channel.EMAIL,
        to=to,
        reply_to=agency_get().email,
        subject=subject,
        text=text,
        html=html,
        attachment=attachment.name,
        attachment_name=attachment_name,
        attachment_sha256=attachment_sha256,
        created_at=now,
        next_attempt_at=now + QUEUED_GRACE,
    )
    audit_record(
        actor=actor,
        verb="email.document_queued",
        target=message,
        after={"to": to, "subject": subject, "document": attachment_name},
    )
    transaction.on_commit(lambda: _enqueue(message.pk), robust=True)
    return message


@transaction.atomic
def email_send(*, case: Case, actor, at: datetime | None = None) -> OutboxMessage:
    """Decide a reminder e-mail to the debtor (HTML and text) within the contact rule, and queue it for
    delivery after the commit; recorded as an action and on the timeline. Agency staff or the system (a
    scenario: `actor=None`) only."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    block = case_contact_block(case, Channel.EMAIL, at)
    if block is not None:
        raise ApplicationError(f"E-mail refusé par la politique de contact : {block.message}.")
    content = email_content(case=case)
    return _queue(
        case=case,
        actor=actor,
        at=at,
        channel=Channel.EMAIL,
        content=content,
        summary=f"E-mail de relance à {content['to']}",
    )


@transaction.atomic
def sms_send(*, case: Case, actor, at: datetime | None = None) -> OutboxMessage:
    """Decide a short reminder SMS to the debtor (no creditor's care, no amount detail beyond the sum), within
    the contact rule, and queue it for delivery after the commit. Agency staff or the system (a scenario:
    `actor=None`) only."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    block = case_contact_block(case, Channel.SMS, at)
    if block is not None:
        raise ApplicationError(f"SMS refusé par la politique de contact : {block.message}.")
    content = sms_content(case=case)
    return _queue(
        case=case,
        actor=actor,
        at=at,
        channel=Channel.SMS,
        content=content,
        summary=f"SMS de relance au {content['to']}",
    )


@transaction.atomic
def notice_send(
    *,
    case: Case,
    channel: str,
    template: str,
    context: dict,
    summary: str,
    actor,
    subject: str = "",
    kind: str = MessageKind.RECOVERY,
) -> OutboxMessage:
    """Decide a contact message whose wording an app above writes (the reminder of a plan's missed instalment,
    `kind=INSTALMENT`) under the rules of the reminders: agency staff or the system only, the contact rule (which
    lets an instalment's reminder reach a case on a plan), after the first letter, which the text must recall
    (L2), and nothing the law or medical secrecy forbids. `template` names `<template>.txt`, and
    `<template>.html` for an e-mail, rendered with `context` plus the agency, the case, its creditor and the
    first letter."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise ApplicationError(f"Canal de message inconnu : « {channel} ».")
    if kind not in CONTACT_KINDS:
        raise ValueError("A document owed to the debtor goes through document_email_queue.")
    label = "E-mail" if channel == Channel.EMAIL else "SMS"
    case = case_lock(case)
    block = case_contact_block(case, channel, plan_follow_up=kind == MessageKind.INSTALMENT)
    if block is not None:
        raise ApplicationError(f"{label} refusé par la politique de contact : {block.message}.")
    first = _first_letter(case)
    point = _contact(case, ContactKind.EMAIL if channel == Channel.EMAIL else ContactKind.PHONE)
    full = {**_context(case, first), **context}
    text = render_to_string(f"{template}.txt", full).strip()
    if first.number not in text:
        raise ApplicationError(f"{label} refusé : il doit rappeler la première lettre {first.number} (L2).")
    content = {"to": point.value, "text": text, "first": first}
    if channel == Channel.EMAIL:
        html = render_to_string(f"{template}.html", full)
        subject = subject or f"Votre dossier {case.reference} — {case.creditor.name}"
        content.update(subject=subject, html=html, reply_to=full["agency"].email)
        _check(subject + "\n" + text, case, html=html)
    else:
        if len(text) > SMS_MAX:
            raise ApplicationError(f"SMS trop long ({len(text)} caractères sur {SMS_MAX}).")
        _check(text, case)
    return _queue(
        case=case,
        actor=actor,
        at=None,
        channel=channel,
        content=content,
        summary=summary,
        kind=kind,
    )


# --- delivery -----------------------------------------------------------------------------------------------


def _attachment(message: OutboxMessage) -> bytes:
    """The attached document as stored, refused if it no longer matches the hash it had when decided."""
    with message.attachment.open("rb") as handle:
        content = handle.read()
    if message.attachment_sha256 and hashlib.sha256(content).hexdigest() != message.attachment_sha256:
        raise ValueError(f"la pièce jointe {message.attachment_name} ne correspond plus à son empreinte")
    return content


def _transmit(message: OutboxMessage) -> None:
    if message.channel == Channel.EMAIL:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
        )
        email.attach_alternative(message.html, "text/html")
        if message.attachment:
            name = message.attachment_name or message.attachment.name.rsplit("/", 1)[-1]
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            email.attach(name, _attachment(message), mimetype)
        email.send()
    else:
        import_string(settings.AMIABLE_SMS_SENDER)().send(to=message.to, text=message.text)


def _server_text(raw) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def failure_reason(channel: str, exc: BaseException) -> str:
    """Why a delivery failed, in French, with the server's or the provider's own words."""
    if channel == Channel.SMS:
        return f"refusé par le service SMS : {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = " ; ".join(f"{code} {_server_text(text)}" for code, text in exc.recipients.values())
        return f"destinataire refusé par le serveur de messagerie : {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"refusé par le serveur de messagerie : {exc.smtp_code} {_server_text(exc.smtp_error)}"
    if isinstance(exc, OSError):
        return f"serveur de messagerie injoignable : {exc}"
    return f"échec de l'envoi : {type(exc).__name__} : {exc}"


def _lock_message(message_id: int) -> OutboxMessage | None:
    return (
        OutboxMessage.objects.select_for_update(of=("self",))
        .select_related("case__debtor", "case__creditor", "first_letter")
        .filter(pk=message_id)
        .first()
    )


def _retry_block(message: OutboxMessage, at: datetime | None) -> ContactBlock | None:
    """The contact rule at the instant of a later attempt: days, hours, a stop or a do-not-contact request
    since the decision. Not the cap: the message was counted when it was decided, a retry is the same attempt.
    A document owed to the debtor (a receipt, a plan's document) is not a contact: nothing holds it back; the
    reminder of a plan's missed instalment may reach a case on a plan (`plan_follow_up`)."""
    if message.kind not in CONTACT_KINDS:
        return None
    block = case_contact_block(message.case, message.channel, at, plan_follow_up=message.kind == MessageKind.INSTALMENT)
    return None if block is None or block.key == "cap_reached" else block


def _hold(message: OutboxMessage, now: datetime) -> str | None:
    """Put off a late attempt to the next allowed slot (« postponed »), or abandon it when the debtor may no
    longer be contacted (« cancelled »); None when it may go now."""
    block = _retry_block(message, now)
    if block is None:
        return None
    if block.key in LASTING_BLOCKS or block.next_at is None:
        message.status = MessageStatus.CANCELLED
        message.error = f"abandonné : {block.reason}"[:300]
        message.next_attempt_at = None
        message.save(update_fields=["status", "error", "next_attempt_at"])
        audit_record(
            actor=None,
            verb=f"{message.channel}.cancelled",
            target=message,
            after={"to": message.to, "reason": block.reason},
        )
        return "cancelled"
    message.next_attempt_at = block.next_at
    message.save(update_fields=["next_attempt_at"])
    return "postponed"


def message_deliver(*, message_id: int, due_by: datetime | None = None) -> str:
    """Hand one queued or failed message to the e-mail backend or the SMS sender, and record the outcome:
    « sent », « failed », « postponed », « cancelled », or « skipped » when there is nothing to do.

    The message is claimed (« envoi en cours », one more attempt) under its row lock in a short transaction,
    then sent outside any transaction — SQLite's write lock must not wait on an SMTP server — and marked sent
    or failed in another. A message already sent, being sent, or abandoned is left alone: running this twice,
    or from two workers, never sends a message twice. Right after its decision a message goes as decided; any
    other attempt (a retry, a late worker) asks the contact rule again at its own instant. With `due_by`,
    only a message whose next attempt is due by then is attempted (the command's runs)."""
    with transaction.atomic():
        message = _lock_message(message_id)
        if message is None or message.status not in DELIVERABLE:
            return "skipped"
        if due_by is not None and (message.next_attempt_at is None or message.next_attempt_at > due_by):
            return "skipped"  # delivered, retried or put off meanwhile
        now = timezone.now()
        if message.attempts > 0 or now >= message.created_at + QUEUED_GRACE:
            held = _hold(message, now)
            if held is not None:
                return held
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.last_attempt_at = now
        message.next_attempt_at = None
        message.save(update_fields=["status", "attempts", "last_attempt_at", "next_attempt_at"])
    try:
        _transmit(message)
    except Exception as exc:  # whatever the backend or the provider raises is recorded, never lost
        _delivery_failed(message, failure_reason(message.channel, exc), retry=True)
        return "failed"
    _delivery_succeeded(message)
    return "sent"


@transaction.atomic
def _delivery_succeeded(message: OutboxMessage) -> None:
    message.status = MessageStatus.SENT
    message.sent_at = timezone.now()
    message.error = ""
    message.save(update_fields=["status", "sent_at", "error"])
    audit_record(
        actor=None,
        verb=f"{message.channel}.sent",
        target=message,
        after={
            "to": message.to,
            "first_letter": message.first_letter.number if message.first_letter else None,
            "attempts": message.attempts,
            **({"document": message.attachment_name} if message.attachment_name else {}),
        },
    )


@transaction.atomic
def _delivery_failed(message: OutboxMessage, reason: str, *, retry: bool) -> None:
    message.status = MessageStatus.FAILED
    message.error = reason[:300]
    message.next_attempt_at = None
    if retry and message.attempts < MAX_ATTEMPTS:
        wait = RETRY_DELAYS[min(message.attempts, len(RETRY_DELAYS)) - 1]
        message.next_attempt_at = message.last_attempt_at + wait
    message.save(update_fields=["status", "error", "next_attempt_at"])
    audit_record(
        actor=None,
        verb=f"{message.channel}.failed",
        target=message,
        after={"to": message.to, "error": message.error, "attempts": message.attempts},
    )


@transaction.atomic
def messages_cancel_pending(*, case: Case, actor, reason: str) -> int:
    """Abandon the case's recovery messages not delivered yet (queued, or failed with attempts left) when the
    case ends: nobody may chase a debtor whose case is settled, recalled or irrecoverable. A document owed to
    the debtor (a receipt, a plan's document) still goes. Each abandoned message is audited; returns how many."""
    pending = list(
        OutboxMessage.objects.select_for_update(of=("self",))
        .filter(case=case, status__in=DELIVERABLE, kind__in=sorted(CONTACT_KINDS))
        .order_by("pk")
    )
    for message in pending:
        message.status = MessageStatus.CANCELLED
        message.error = f"abandonné : {reason}"[:300]
        message.next_attempt_at = None
        message.save(update_fields=["status", "error", "next_attempt_at"])
        audit_record(
            actor=actor,
            verb=f"{message.channel}.cancelled",
            target=message,
            after={"to": message.to, "reason": reason[:300]},
        )
    return len(pending)


# --- retries ------------------------------------------------------------------------------------------------


@transaction.atomic
def message_retry(*, message: OutboxMessage, actor, at: datetime | None = None) -> OutboxMessage:
    """An agent has a failed message sent again at once (« Renvoyer »), even after the automatic attempts ran
    out; the contact rule is asked again at this instant, and the delivery follows the commit."""
    require(can_work_cases(actor), "Seule l'agence peut renvoyer un message.")
    message = _lock_message(message.pk)
    if message.status != MessageStatus.FAILED:
        raise ApplicationError(
            f"Ce message est « {message.get_status_display().lower()} » : seul un message en échec se renvoie."
        )
    block = _retry_block(message, at)
    if block is not None:
        raise ApplicationError(f"Renvoi refusé par la politique de contact : {block.message}.")
    audit_record(
        actor=actor,
        verb=f"{message.channel}.retried",
        target=message,
        after={"to": message.to, "attempts": message.attempts, "error": message.error},
    )
    transaction.on_commit(lambda: _enqueue(message.pk), robust=True)
    return message


def outbox_due(*, now: datetime | None = None):
    """The messages `deliver_outbox` would attempt now: queued but not delivered within QUEUED_GRACE, or failed
    with automatic attempts left and their wait over."""
    return OutboxMessage.objects.filter(
        status__in=DELIVERABLE, next_attempt_at__lte=now or timezone.now(), attempts__lt=MAX_ATTEMPTS
    ).order_by("next_attempt_at", "pk")


def outbox_deliver_due() -> Counter:
    """The safety net of the delivery task (`deliver_outbox`, run by `run_daily`): close as failed the attempts
    a crash left « envoi en cours » — not retried by themselves, as the message may have gone — then attempt
    every due message in this process. Idempotent: a message sent is never sent again. Returns the count of
    each outcome."""
    now = timezone.now()
    report: Counter = Counter()
    with transaction.atomic():
        stale = OutboxMessage.objects.select_for_update().filter(
            status=MessageStatus.SENDING, last_attempt_at__lt=now - SENDING_STALE_AFTER
        )
        for message in stale.order_by("pk"):
            _delivery_failed(
                message,
                "envoi interrompu : le message est peut-être parti ; vérifiez avant de le renvoyer",
                retry=False,
            )
            report["interrupted"] += 1
    for message_id in list(outbox_due(now=now).values_list("pk", flat=True)):
        report[message_deliver(message_id=message_id, due_by=now)] += 1
    return report


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
