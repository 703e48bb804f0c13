"""The audit verbs of payments, reversals, refunds and the ledger, as the case timeline shows them;
registered by `PaymentsConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.core.money import format_money, to_money
from amiable.payments.models import PaymentMethod


def _money(value) -> str:
    return format_money(to_money(str(value or "0")))


def _payment(event: AuditEvent) -> str:
    after = event.after or {}
    method = after.get("method", "")
    label = PaymentMethod(method).label.lower() if method in PaymentMethod.values else method
    return (
        f"{_money(after.get('amount'))} ({label}) encaissé le {iso_date_fr(after.get('collected_on'))}, "
        f"reste dû {_money(after.get('balance'))}"
    )


def _reversal(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{_money(after.get('amount'))} — {after.get('reason', '')}, reste dû {_money(after.get('balance'))}"


def _refund(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{_money(after.get('amount'))} remboursé le {iso_date_fr(after.get('refunded_on'))}"


def register() -> None:
    register_verb("payment.recorded", label="Paiement", describe=_payment)
    register_verb("payment.reversed", label="Paiement rejeté", describe=_reversal)
    register_verb("refund.recorded", label="Trop-perçu remboursé", describe=_refund)
    register_verb("ledger.posted", label="Écriture au compte des fonds de tiers", internal=True)
