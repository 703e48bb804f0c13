"""The audit verbs of the end of contract (export and erasure of a creditor's data), registered by
`ClosureConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb


def _exported(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('reference', '')} : {(after.get('counts') or {}).get('dossiers', 0)} dossier(s)"


def _erased(event: AuditEvent) -> str:
    after = event.after or {}
    summary = after.get("summary") or {}
    return (
        f"après l'export {after.get('export', '')} : {summary.get('debtors_anonymised', 0)} débiteur(s) anonymisé(s), "
        f"{summary.get('files_deleted', 0)} fichier(s) supprimé(s)"
    )


def register() -> None:
    register_verb("creditor.exported", label="Export de fin de contrat", describe=_exported)
    register_verb("creditor.export_verified", label="Export de fin de contrat vérifié")
    register_verb("creditor.export_failed", label="Export de fin de contrat non conforme")
    register_verb("creditor.data_erased", label="Données personnelles du créancier effacées", describe=_erased)
