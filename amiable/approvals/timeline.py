"""The audit verbs of the decisions asked of the creditor, as the case timeline shows them; registered by
`ApprovalsConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb


def _decided(event: AuditEvent) -> str:
    after = event.after or {}
    outcome = {"accepted": "acceptée", "refused": "refusée"}.get(after.get("status"), "")
    return outcome + (f" — {after['comment']}" if after.get("comment") else "")


def register() -> None:
    register_verb("approval.requested", label="Décision demandée au créancier")
    register_verb("approval.decided", label="Décision du créancier", describe=_decided)
    register_verb("approval.cancelled", label="Demande de décision annulée")
