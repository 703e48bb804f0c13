from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "amiable.audit"
    verbose_name = "Journal d'audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.audit.timeline import register_verb

        register_verb("access_log.purged", label="Journal des accès purgé")
