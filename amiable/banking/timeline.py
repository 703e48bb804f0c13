"""The audit verbs of bank statements and of the review of their credits; registered by
`BankingConfig.ready()`. They are the agency's own business: never shown to creditor staff."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.core.money import format_money, to_money


def _credit(event: AuditEvent) -> str:
    after = event.after or {}
    amount = format_money(to_money(str(after.get("amount") or "0")))
    return f"Crédit bancaire de {amount} du {iso_date_fr(after.get('booked_on'))}" if after.get("booked_on") else amount


def _dismissed(event: AuditEvent) -> str:
    return f"{_credit(event)} — {(event.after or {}).get('reason', '')}"


def register() -> None:
    register_verb("bank_statement.imported", label="Relevé bancaire importé", internal=True)
    register_verb("bank_statement.duplicate", label="Relevé bancaire déjà importé", internal=True)
    register_verb("bank_statement.refused", label="Relevé bancaire refusé", internal=True)
    register_verb("bank_entry.assigned", label="Crédit bancaire affecté au dossier", describe=_credit, internal=True)
    register_verb("bank_entry.linked", label="Crédit bancaire rapproché d'un paiement", describe=_credit, internal=True)
    register_verb("bank_entry.dismissed", label="Crédit bancaire écarté", describe=_dismissed, internal=True)
