"""The audit verbs of the invoices; registered by `InvoicingConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.core.money import format_money, to_money


def _paid(event: AuditEvent) -> str:
    after = event.after or {}
    return (
        f"{after.get('number', '')} : {format_money(to_money(str(after.get('total') or '0')))} "
        f"payés le {iso_date_fr(after.get('paid_on'))}"
    )


def register() -> None:
    register_verb("invoice.paid", label="Facture payée", describe=_paid)
