"""The audit verbs of the invoices; registered by `InvoicingConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.core.money import format_money, to_money


def _issued(event: AuditEvent) -> str:
    after = event.after or {}
    kind = "avoir" if after.get("kind") == "credit_note" else "facture"
    return (
        f"{kind} {after.get('number', '')} de {after.get('structure', '')} : "
        f"{format_money(to_money(str(after.get('total') or '0')))} TTC pour la période du "
        f"{iso_date_fr(after.get('period_start'))} au {iso_date_fr(after.get('period_end'))}"
    )


def _stored(event: AuditEvent) -> str:
    return f"{(event.after or {}).get('number', '')} (Factur-X, SHA-256 {(event.after or {}).get('sha256', '')[:12]}…)"


def _sent(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('number', '')} envoyée à {after.get('to', '')}"


def _paid(event: AuditEvent) -> str:
    after = event.after or {}
    return (
        f"{after.get('number', '')} : {format_money(to_money(str(after.get('total') or '0')))} "
        f"payés le {iso_date_fr(after.get('paid_on'))}"
    )


def register() -> None:
    register_verb("invoice.issued", label="Facture de commissions émise", describe=_issued)
    register_verb("invoice.document_stored", label="Facture Factur-X enregistrée", describe=_stored)
    register_verb("invoice.sent", label="Facture envoyée par e-mail", describe=_sent)
    register_verb("invoice.paid", label="Facture payée", describe=_paid)
