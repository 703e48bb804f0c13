"""The audit verbs of the reports; registered by `ReportingConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb


def _meeting(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('label', '')} du {iso_date_fr(after.get('due_on'))}"


def _minutes(event: AuditEvent) -> str:
    after = event.after or {}
    text = f"réunion tenue le {iso_date_fr(after.get('held_on'))}"
    return text + (" (fichier joint)" if after.get("file_sha256") else "")


def register_meetings() -> None:
    register_verb("meeting.planned", label="Réunion de suivi planifiée", describe=_meeting)
    register_verb("meeting.pack_built", label="Dossier de séance produit", describe=_meeting)
    register_verb("meeting.reminded", label="Rappel de réunion de suivi envoyé", describe=_meeting)
    register_verb("meeting.minutes_saved", label="Compte rendu de réunion enregistré", describe=_minutes)


def _quarterly_built(event: AuditEvent) -> str:
    after = event.after or {}
    text = f"{after.get('quarter', '')}, empreinte {str(after.get('sha256', ''))[:12]}…"
    return text + (" (remplace le classeur précédent)" if after.get("replaced") else "")


def register() -> None:
    register_meetings()
    register_verb("quarterly_report.built", label="Statistiques trimestrielles produites", describe=_quarterly_built)
