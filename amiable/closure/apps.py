from django.apps import AppConfig


class ClosureConfig(AppConfig):
    name = "amiable.closure"
    verbose_name = "Fin des dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.closure import timeline_handover

        timeline_handover.register()
