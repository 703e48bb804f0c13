"""The audit verbs of accounts, logins and the second factor; registered by `AccountsConfig.ready()`."""

from amiable.audit.timeline import register_verb


def register() -> None:
    register_verb("user.created", label="Compte créé")
    register_verb("user.updated", label="Compte modifié")  # in the administration
    register_verb("user.deleted", label="Compte supprimé")  # in the administration
    register_verb("user.role_changed", label="Rôle modifié")
    register_verb("user.deactivated", label="Compte désactivé")
    register_verb("user.invited", label="Invitation envoyée")
    register_verb("user.invitation_resent", label="Invitation renvoyée")
    register_verb("user.activated", label="Compte activé")
    register_verb("user.2fa_reset", label="Double authentification réinitialisée")
    register_verb("auth.login", label="Connexion")
    register_verb("auth.logout", label="Déconnexion")
    register_verb("auth.login_failed", label="Échec de connexion")
    register_verb("auth.locked_out", label="Compte bloqué après des échecs de connexion")
    register_verb("auth.lockout_lifted", label="Blocage levé par la réinitialisation du mot de passe")
    register_verb("auth.password_reset_throttled", label="Demandes de réinitialisation trop nombreuses")
    register_verb("auth.2fa_enrolment_started", label="Activation de la double authentification commencée")
    register_verb("auth.2fa_enrolled", label="Double authentification activée")
    register_verb("auth.2fa_codes_regenerated", label="Codes de secours renouvelés")
    register_verb("auth.2fa_verified", label="Second facteur vérifié")
    register_verb("auth.2fa_failed", label="Code de second facteur refusé")
