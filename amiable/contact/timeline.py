"""The audit verbs of calls, promises to pay, e-mails and SMS, as the case timeline shows them; registered
by `ContactConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.cases.timeline import lower_first
from amiable.contact.models import CallOutcome
from amiable.core.money import format_money, to_money


def _message(event: AuditEvent) -> str:
    after = event.after or {}
    if after.get("document"):  # a document owed to the debtor (a receipt), not a recovery message
        return f"à {after.get('to', '')}, pièce jointe {after['document']}"
    return f"à {after.get('to', '')}, rappel de la lettre {after.get('first_letter', '')}"


def _delivery(event: AuditEvent) -> str:
    after = event.after or {}
    return f"à {after.get('to', '')} — {after.get('error', '')} ({after.get('attempts', 0)} tentative(s))"


def _cancelled(event: AuditEvent) -> str:
    after = event.after or {}
    return f"à {after.get('to', '')} — {after.get('reason', '')}"


def _call(event: AuditEvent) -> str:
    # The outcome only: the agent's notes stay inside the agency.
    outcome = (event.after or {}).get("outcome", "")
    return lower_first(CallOutcome(outcome).label) if outcome in CallOutcome.values else outcome


def _promise(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{format_money(to_money(str(after.get('amount', '0'))))} pour le {iso_date_fr(after.get('due_on', ''))}"


def register() -> None:
    register_verb("email.sent", label="E-mail envoyé", describe=_message)
    register_verb("sms.sent", label="SMS envoyé", describe=_message)
    # The delivery's own course stays inside the agency: the creditor sees the message once it has gone.
    register_verb("email.queued", label="E-mail de relance décidé", describe=_message, internal=True)
    register_verb("sms.queued", label="SMS de relance décidé", describe=_message, internal=True)
    register_verb(
        "email.document_queued", label="Envoi d'un document par e-mail décidé", describe=_message, internal=True
    )
    register_verb("email.failed", label="Échec de l'envoi d'un e-mail", describe=_delivery, internal=True)
    register_verb("sms.failed", label="Échec de l'envoi d'un SMS", describe=_delivery, internal=True)
    register_verb("email.retried", label="E-mail renvoyé", describe=_delivery, internal=True)
    register_verb("sms.retried", label="SMS renvoyé", describe=_delivery, internal=True)
    register_verb("email.cancelled", label="E-mail abandonné", describe=_cancelled, internal=True)
    register_verb("sms.cancelled", label="SMS abandonné", describe=_cancelled, internal=True)
    register_verb("call.recorded", label="Appel", describe=_call)
    register_verb("promise.recorded", label="Promesse de paiement", describe=_promise)
    register_verb("promise.broken", label="Promesse de paiement non tenue", describe=_promise)
    register_verb("promise.kept", label="Promesse de paiement tenue", describe=_promise)
    register_verb("promise.cancelled", label="Promesse de paiement annulée", describe=_promise)
    register_verb(
        "contact_point.corrected",
        label="Coordonnée corrigée",
        describe=lambda event: f"{(event.before or {}).get('display', '')} → {(event.after or {}).get('display', '')}",
    )
