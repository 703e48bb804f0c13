"""The audit verb of the contract clocks; registered by `ReportingConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.reporting.clocks import KINDS, STATES


def _noticed(event: AuditEvent) -> str:
    after = event.after or {}
    parts = [
        f"{KINDS.get(kind, kind)} : {n} {STATES.get(state, state).lower()}"
        for kind, states in (after.get("counts") or {}).items()
        for state, n in states.items()
    ]
    return f"au {iso_date_fr(after.get('date'))} — " + " ; ".join(parts)


def register() -> None:
    register_verb("clocks.noticed", label="Échéances du contrat signalées", describe=_noticed)
