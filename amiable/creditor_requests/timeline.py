"""The audit verbs of the creditor's requests and recalls, as the case timeline shows them; registered by
`CreditorRequestsConfig.ready()`."""

from amiable.audit.timeline import register_verb


def register() -> None:
    register_verb("request.created", label="Demande du créancier")
    register_verb("request.answered", label="Réponse de l'agence à une demande")
    register_verb("meeting.slots_proposed", label="Créneaux de réunion proposés")
    register_verb("meeting.confirmed", label="Réunion confirmée")
    register_verb(
        "case.recalled",
        label="Dossier retiré par le créancier",
        describe=lambda event: (event.after or {}).get("reason", ""),
    )
