"""The audit verbs of the agents' case work, as the case timeline shows them; registered by
`CaseworkConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb
from amiable.cases.timeline import describe_event
from amiable.casework.services import INTERNAL_EVENT_VERB


def _investigation(event: AuditEvent) -> str:
    after = event.after or {}
    return f"sources : {after.get('sources', '')} — {after.get('result', '')}"


def register() -> None:
    # A debtor's vulnerability is the agency's own assessment: never shown to the creditor.
    register_verb(INTERNAL_EVENT_VERB, label="Événement (interne)", describe=describe_event, internal=True)
    register_verb("returned_mail.recorded", label="Courrier revenu (NPAI)")
    register_verb("investigation.done", label="Recherche d'adresse", describe=_investigation)
