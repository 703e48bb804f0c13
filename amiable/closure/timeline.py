"""The audit verbs of the end of a case (closing, certificates, document returns), as the case timeline shows
them; registered by `ClosureConfig.ready()`. None is internal: the creditor sees why and when its case ended."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.closure.models import ClosureKind, IrrecoverableReason


def _closure(event: AuditEvent) -> str:
    after = event.after or {}
    kind = after.get("kind", "")
    text = ClosureKind(kind).label if kind in ClosureKind.values else kind
    if after.get("reason") in IrrecoverableReason.values:
        text += f" — {IrrecoverableReason(after['reason']).label.lower()}"
    if after.get("documents_due_on"):
        text += f" ; pièces à restituer au plus tard le {iso_date_fr(after['documents_due_on'])}"
    return text


def _reopened(event: AuditEvent) -> str:
    return (event.after or {}).get("reason", "")


def _certificate(event: AuditEvent) -> str:
    after = event.after or {}
    reason = after.get("reason", "")
    label = IrrecoverableReason(reason).label.lower() if reason in IrrecoverableReason.values else reason
    return f"n° {after.get('number', '')} — {label}"


def _revoked(event: AuditEvent) -> str:
    after = event.after or {}
    return f"n° {after.get('number', '')} — {after.get('reason', '')}"


def _returned(event: AuditEvent) -> str:
    after = event.after or {}
    count = len(after.get("items") or [])
    return f"le {iso_date_fr(after.get('returned_on', ''))}, {count} pièce{'s' if count > 1 else ''}"


def register() -> None:
    register_verb("closure.recorded", label="Fin du dossier", describe=_closure)
    register_verb("closure.reopened", label="Dossier rouvert", describe=_reopened)
    register_verb("case.suspension_lifted", label="Suspension levée", describe=_reopened)
    register_verb("certificate.issued", label="Certificat d'irrécouvrabilité délivré", describe=_certificate)
    register_verb("certificate.revoked", label="Certificat d'irrécouvrabilité annulé", describe=_revoked)
    register_verb("documents.returned", label="Pièces restituées au créancier", describe=_returned)
