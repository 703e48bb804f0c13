"""The audit verbs of the agency, creditors, structures and contract terms, written by the services and by
the administration alike; registered by `CreditorsConfig.ready()`."""

from amiable.audit.timeline import register_verb

SUBJECTS = [
    # (verb prefix, created, updated, deleted)
    ("agency", "Identité de l'agence créée", "Identité de l'agence modifiée", "Identité de l'agence supprimée"),
    ("creditor", "Créancier créé", "Créancier modifié", "Créancier supprimé"),
    ("structure", "Structure créée", "Structure modifiée", "Structure supprimée"),
    ("terms", "Conditions du contrat créées", "Conditions du contrat modifiées", "Conditions du contrat supprimées"),
]


def register() -> None:
    for prefix, created, updated, deleted in SUBJECTS:
        register_verb(f"{prefix}.created", label=created)
        register_verb(f"{prefix}.updated", label=updated)
        register_verb(f"{prefix}.deleted", label=deleted)
