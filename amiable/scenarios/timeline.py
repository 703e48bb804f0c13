"""The audit verbs of the recovery scenarios; registered by `ScenariosConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb


def _step(event: AuditEvent) -> str:
    after = event.after or {}
    return f"{after.get('step', '')}" + (f" ({after['reason']})" if after.get("reason") else "")


def register() -> None:
    # How the agency runs its scenario is its own organisation: the creditor sees the letter or call itself.
    register_verb("scenario.step_run", label="Étape du scénario exécutée", describe=_step, internal=True)
    register_verb("scenario.step_skipped", label="Étape du scénario sautée", describe=_step, internal=True)
    # Written by `scenario_ensure` and by the administration (AuditedAdminMixin, with the steps inline).
    register_verb("scenario.created", label="Scénario créé")
    register_verb("scenario.updated", label="Scénario modifié")
    register_verb("scenario.deleted", label="Scénario supprimé")
    register_verb("scenariostep.created", label="Étape de scénario ajoutée")
    register_verb("scenariostep.updated", label="Étape de scénario modifiée")
    register_verb("scenariostep.deleted", label="Étape de scénario supprimée")
