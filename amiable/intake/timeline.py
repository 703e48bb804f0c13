"""The audit verbs of claim batches and creditors' keys; registered by `IntakeConfig.ready()`."""

from amiable.audit.timeline import register_verb


def register() -> None:
    register_verb("batch.uploaded", label="Lot transmis")
    register_verb("batch.checked", label="Lot vérifié, en attente de confirmation")
    register_verb("batch.confirmed", label="Lot confirmé pour import")
    register_verb("batch.cancelled", label="Lot annulé avant import")
    register_verb("batch.expired", label="Lot non confirmé, annulé après le délai")
    register_verb("batch.interrupted", label="Import interrompu (traitement arrêté), rien n'a été enregistré")
    register_verb("batch.requeued", label="Import remis dans la file d'attente (tâche perdue)")
    register_verb("batch.imported", label="Lot importé")
    register_verb("batch.refused", label="Lot refusé")
    register_verb("batch.duplicate", label="Lot déjà reçu")
    register_verb("batch.acknowledgement_sent", label="Accusé de réception envoyé au créancier")
    register_verb("creditor_key.registered", label="Clé de chiffrement du créancier enregistrée")
    # Written by the administration (AuditedAdminMixin).
    register_verb("columnmapping.created", label="Correspondance de colonne créée")
    register_verb("columnmapping.updated", label="Correspondance de colonne modifiée")
    register_verb("columnmapping.deleted", label="Correspondance de colonne supprimée")
    register_verb("creditorkey.created", label="Clé de chiffrement du créancier créée")
    register_verb("creditorkey.updated", label="Clé de chiffrement du créancier modifiée")
    register_verb("creditorkey.deleted", label="Clé de chiffrement du créancier supprimée")
