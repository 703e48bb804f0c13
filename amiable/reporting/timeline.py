"""The audit verbs of the reports; registered by `ReportingConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb


def _quarterly_built(event: AuditEvent) -> str:
    after = event.after or {}
    text = f"{after.get('quarter', '')}, empreinte {str(after.get('sha256', ''))[:12]}…"
    return text + (" (remplace le classeur précédent)" if after.get("replaced") else "")


def register() -> None:
    register_verb("quarterly_report.built", label="Statistiques trimestrielles produites", describe=_quarterly_built)
