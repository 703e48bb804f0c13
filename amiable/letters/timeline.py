"""The audit verbs of letters and their templates, as the case timeline and the audit trail show them;
registered by `LettersConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import register_verb


def _letter(event: AuditEvent) -> str:
    after = event.after or {}
    kind = "première lettre" if after.get("kind") == "first" else "relance"
    return f"{kind} {after.get('number', '')}"


def register() -> None:
    register_verb("letter.issued", label="Courrier envoyé", describe=_letter)
    register_verb("letters.printed", label="Courriers imprimés")
    register_verb("letters.print_files_purged", label="Fichiers d'impression supprimés")
    register_verb("letter_template.saved", label="Modèle de courrier enregistré")
    # Written by the administration (AuditedAdminMixin, audit_prefix "letter_template").
    register_verb("letter_template.created", label="Modèle de courrier créé")
    register_verb("letter_template.updated", label="Modèle de courrier modifié")
    register_verb("letter_template.deleted", label="Modèle de courrier supprimé")
