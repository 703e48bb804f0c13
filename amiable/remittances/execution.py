"""The transfer of a remittance, seen executed: an agency supervisor or admin marks it by hand from the bank's
statement or portal, so that the remittance shows « Virement exécuté » to the agency and to the creditor."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import can_view_client_funds, require
from amiable.audit.services import audit_record
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.remittances.models import Remittance, RemittanceStatus

NOT_ALLOWED = "Seuls les superviseurs et les administrateurs de l'agence constatent l'exécution d'un virement."


@transaction.atomic
def remittance_mark_executed(*, remittance: Remittance, executed_on: date, actor) -> Remittance:
    """Record that the bank executed the remittance's transfer on `executed_on`. The row is locked and read
    again, so that a double submit (or two people at once) finds it executed and changes nothing. The
    system (`actor=None`) may mark it too, from a bank debit."""
    if actor is not None:
        require(can_view_client_funds(actor), NOT_ALLOWED)
    remittance = Remittance.objects.select_for_update().get(pk=remittance.pk)
    if remittance.status == RemittanceStatus.EXECUTED:
        on = f" le {format_date(remittance.executed_on)}" if remittance.executed_on else ""
        raise ApplicationError(
            f"Le virement du reversement {remittance.number} est déjà marqué exécuté{on} : rien n'a été modifié."
        )
    today = timezone.localdate()
    if executed_on > today:
        raise ApplicationError("La date d'exécution ne peut pas être dans le futur.", extra={"field": "executed_on"})
    prepared_on = timezone.localdate(remittance.created_at)
    if executed_on < prepared_on:
        raise ApplicationError(
            f"La date d'exécution ne peut pas précéder la préparation du reversement, le {format_date(prepared_on)}.",
            extra={"field": "executed_on"},
        )
    before = {"status": remittance.status}
    remittance.status = RemittanceStatus.EXECUTED
    remittance.executed_on = executed_on
    remittance.executed_by = actor
    remittance.save(update_fields=["status", "executed_on", "executed_by"])
    audit_record(
        actor=actor,
        verb="remittance.executed",
        target=remittance,
        before=before,
        after={
            "number": remittance.number,
            "structure_id": remittance.structure_id,
            "total": remittance.total,
            "executed_on": executed_on,
            "matched_by": "hand",
        },
    )
    return remittance
