"""An invoice seen paid: an agency supervisor or admin marks it by hand when the structure's payment reaches the
agency's own account (commissions never go through the client-funds account)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_view_client_funds, require
from amiable.audit.services import audit_record
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.invoicing.models import Invoice, InvoiceKind, InvoiceStatus

NOT_ALLOWED = "Seuls les superviseurs et les administrateurs de l'agence enregistrent le paiement d'une facture."


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, paid_on: date, actor) -> Invoice:
    """Record that the structure paid the invoice on `paid_on`. A credit note is what the agency owes back, not
    a sum due by the structure: refused. The row is locked and read again, so that a double submit finds it
    paid and changes nothing."""
    if actor is not None:
        require(can_view_client_funds(actor), NOT_ALLOWED)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise ApplicationError(f"L'avoir {invoice.number} ne se paie pas : seule une facture peut être marquée payée.")
    if invoice.status == InvoiceStatus.PAID:
        on = f" le {format_date(invoice.paid_on)}" if invoice.paid_on else ""
        raise ApplicationError(f"La facture {invoice.number} est déjà marquée payée{on} : rien n'a été modifié.")
    if paid_on > timezone.localdate():
        raise ApplicationError("La date du paiement ne peut pas être dans le futur.", extra={"field": "paid_on"})
    if paid_on < invoice.issued_on:
        raise ApplicationError(
            f"La date du paiement ne peut pas précéder l'émission de la facture, le {format_date(invoice.issued_on)}.",
            extra={"field": "paid_on"},
        )
    before = {"status": invoice.status}
    invoice.status = InvoiceStatus.PAID
    invoice.paid_on = paid_on
    invoice.save(update_fields=["status", "paid_on"])
    audit_record(
        actor=actor,
        verb="invoice.paid",
        target=invoice,
        before=before,
        after={
            "number": invoice.number,
            "structure_id": invoice.structure_id,
            "total": invoice.total,
            "paid_on": paid_on,
        },
    )
    return invoice
