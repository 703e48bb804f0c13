"""E-mails and SMS to debtors: same legal rules as letters (recall of the first letter, L2; no
judicial wording or fee, L3/L7; nothing about care, L9), sent through Django's e-mail backend and a
pluggable SMS sender, and kept as sent."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from amiable.audit.services import audit_record
from amiable.cases.models import Action, Case, Channel, ContactKind, ContactPoint, ContactQuality
from amiable.cases.policy import case_contact_block
from amiable.compliance.legal import forbidden_wording, medical_secrecy_problems
from amiable.contact.models import OutboxMessage
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.creditors.models import Agency
from amiable.letters.models import Letter, LetterKind

SMS_MAX = 320  # two SMS at most


class OutboxSmsSender:
    """The default SMS sender: keeps the message in the outbox only (the demo, and until a provider is set)."""

    def send(self, *, to: str, text: str) -> None:
        return None


def _first_letter(case: Case) -> Letter:
    first = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if first is None:
        raise ApplicationError(
            "Le premier contact est la lettre de l'article R124-4 : envoyez-la avant tout e-mail ou SMS."
        )
    return first


def _contact(case: Case, kind: str) -> ContactPoint:
    point = (
        ContactPoint.objects.filter(debtor=case.debtor, kind=kind, quality=ContactQuality.VALID)
        .exclude(value="")
        .order_by("-is_primary", "-created_at", "-pk")
        .first()
    )
    if point is None:
        label = "e-mail" if kind == ContactKind.EMAIL else "numéro de téléphone"
        raise ApplicationError(f"Aucun {label} valide pour ce débiteur.")
    return point


def _check(text: str, case: Case) -> None:
    problems = forbidden_wording(text) + medical_secrecy_problems(
        text, structure_name=case.structure.name, creditor_name=case.creditor.name, specialty=True
    )
    if problems:
        raise ApplicationError("Message refusé : " + " ; ".join(problems) + ".")


def _context(case: Case, first: Letter) -> dict:
    return {
        "agency": Agency.objects.get(),
        "case": case,
        "creditor": case.creditor,
        "amount": format_money(case.claimed_amount),
        "first_letter": first,
    }


def email_content(*, case: Case) -> dict:
    """Recipient, subject, text and HTML of the reminder e-mail, checked; used by the preview and the send."""
    first = _first_letter(case)
    point = _contact(case, ContactKind.EMAIL)
    context = _context(case, first)
    subject = f"Votre dossier {case.reference} — {case.creditor.name}"
    text = render_to_string("messages/email_reminder.txt", context)
    html = render_to_string("messages/email_reminder.html", context)
    _check(subject + "\n" + text, case)
    return {
        "to": point.value,
        "subject": subject,
        "text": text,
        "html": html,
        "first": first,
        "reply_to": context["agency"].email,
    }


def sms_content(*, case: Case) -> dict:
    """Recipient and text of the reminder SMS, checked."""
    first = _first_letter(case)
    point = _contact(case, ContactKind.PHONE)
    text = render_to_string("messages/sms_reminder.txt", _context(case, first)).strip()
    if len(text) > SMS_MAX:
        raise ApplicationError(f"SMS trop long ({len(text)} caractères sur {SMS_MAX}).")
    _check(text, case)
    return {"to": point.value, "text": text, "first": first}


@transaction.atomic
def email_send(*, case: Case, actor, at=None) -> OutboxMessage:
    """E-mail the debtor a reminder (HTML and text), within the contact policy; recorded on the timeline."""
    case = Case.objects.select_related("debtor", "creditor", "structure").get(pk=case.pk)
    block = case_contact_block(case, Channel.EMAIL, at)
    if block is not None:
        raise ApplicationError(f"E-mail refusé par la politique de contact : {block.message}.")
    content = email_content(case=case)
    first, subject, text, html, to = (
        content["first"],
        content["subject"],
        content["text"],
        content["html"],
        content["to"],
    )
    now = at or timezone.now()
    action = Action.objects.create(
        case=case, channel=Channel.EMAIL, at=now, actor=_user(actor), summary=f"E-mail de relance à {to}"
    )
    message = OutboxMessage.objects.create(
        case=case, action=action, channel=Channel.EMAIL, to=to, subject=subject, text=text, html=html
    )
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[to],
        reply_to=[content["reply_to"]] if content["reply_to"] else None,
    )
    email.attach_alternative(html, "text/html")
    try:
        email.send()
    except OSError as exc:
        raise ApplicationError(f"Le serveur de messagerie a refusé l'e-mail : {exc}.") from exc
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    audit_record(
        actor=actor,
        verb="email.sent",
        target=message,
        case_pk=case.pk,
        after={"to": to, "subject": subject, "first_letter": first.number},
    )
    return message


@transaction.atomic
def sms_send(*, case: Case, actor, at=None) -> OutboxMessage:
    """Send the debtor a short reminder by SMS (no creditor's care, no amount detail beyond the sum)."""
    case = Case.objects.select_related("debtor", "creditor", "structure").get(pk=case.pk)
    block = case_contact_block(case, Channel.SMS, at)
    if block is not None:
        raise ApplicationError(f"SMS refusé par la politique de contact : {block.message}.")
    content = sms_content(case=case)
    first, text, to = content["first"], content["text"], content["to"]
    now = at or timezone.now()
    action = Action.objects.create(
        case=case, channel=Channel.SMS, at=now, actor=_user(actor), summary=f"SMS de relance au {to}"
    )
    message = OutboxMessage.objects.create(case=case, action=action, channel=Channel.SMS, to=to, text=text)
    import_string(settings.AMIABLE_SMS_SENDER)().send(to=to, text=text)
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    audit_record(
        actor=actor,
        verb="sms.sent",
        target=message,
        case_pk=case.pk,
        after={"to": to, "first_letter": first.number},
    )
    return message


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
