"""The audit verbs of payments, reversals, refunds, the ledger and payment plans, as the case timeline shows
them; registered by `PaymentsConfig.ready()`."""

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


def _plan(event: AuditEvent) -> str:
    after = event.after or {}
    text = str(after.get("number", ""))
    if after.get("total") and after.get("instalments"):
        text += (
            f" : {after['instalments']} échéance(s), total {_money(after.get('total'))}, "
            f"du {iso_date_fr(after.get('first_due_on'))} au {iso_date_fr(after.get('last_due_on'))} "
            f"({after.get('months')} mois)"
        )
    if after.get("reason"):
        text += f" — {after['reason']}"
    return text


def _plan_granted(event: AuditEvent) -> str:
    after = event.after or {}
    by = "avec l'accord du créancier" if after.get("by") == "creditor" else "par l'agence"
    sent = {
        "email": "document envoyé par e-mail",
        "post": "document à poster avec l'impression du jour",
        "hand": "document à remettre au débiteur",
    }.get(after.get("sent"), "")
    shifted = f", échéances décalées de {after['shifted_days']} jour(s)" if after.get("shifted_days") else ""
    return f"{after.get('number', '')} accordé {by}{shifted}" + (f" ; {sent}" if sent else "")


def _instalment_missed(event: AuditEvent) -> str:
    after = event.after or {}
    return (
        f"{after.get('number', '')}, échéance {after.get('rank')} du {iso_date_fr(after.get('due_on'))} "
        f"({_money(after.get('amount'))}, payé {_money(after.get('paid'))})"
    )


def _plan_broken(event: AuditEvent) -> str:
    after = event.after or {}
    ranks = ", ".join(str(r) for r in after.get("missed", []))
    return f"{after.get('number', '')} : échéance(s) {ranks} impayée(s), reste dû {_money(after.get('balance'))}"


DELIVERIES = {"email": "envoyé par e-mail", "post": "à poster avec l'impression du jour", "hand": "à remettre"}


def _receipt(event: AuditEvent) -> str:
    after = event.after or {}
    cancels = f" (annule {after['cancels']})" if after.get("cancels") else ""
    delivery = DELIVERIES.get(after.get("delivery", ""), "")
    amounts = f"{_money(after.get('amount'))}, {delivery}, reste dû {_money(after.get('balance'))}"
    return f"{after.get('number', '')}{cancels} — {amounts}"


def _statement(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('number', '')} — payé {_money(after.get('paid'))}, reste dû {_money(after.get('balance'))}"


def register() -> None:
    register_verb("payment.recorded", label="Paiement", describe=_payment)
    register_verb("payment.reversed", label="Paiement rejeté", describe=_reversal)
    register_verb("refund.recorded", label="Trop-perçu remboursé", describe=_refund)
    register_verb("receipt.issued", label="Reçu de paiement émis", describe=_receipt)
    register_verb("receipt.cancelled", label="Reçu annulé", describe=_receipt)
    register_verb("statement.issued", label="Décompte financier envoyé au créancier", describe=_statement)
    register_verb("ledger.posted", label="Écriture au compte des fonds de tiers", internal=True)
    register_verb("plan.proposed", label="Plan d'apurement proposé", describe=_plan)
    register_verb("plan.granted", label="Plan d'apurement accordé", describe=_plan_granted)
    register_verb("plan.refused", label="Plan d'apurement refusé par le créancier", describe=_plan)
    register_verb("plan.cancelled", label="Plan d'apurement annulé", describe=_plan)
    register_verb("plan.completed", label="Plan d'apurement honoré", describe=_plan)
    register_verb("plan.reopened", label="Plan d'apurement repris après un rejet de paiement", describe=_plan)
    register_verb("plan.instalment_missed", label="Échéance de plan impayée", describe=_instalment_missed)
    register_verb("plan.broken", label="Plan d'apurement rompu", describe=_plan_broken)
