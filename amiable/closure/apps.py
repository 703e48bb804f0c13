from django.apps import AppConfig


class ClosureConfig(AppConfig):
    name = "amiable.closure"
    verbose_name = "Fin des dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.cases.hooks import register_on_ended, register_on_reopened
        from amiable.closure import ending, timeline, timeline_handover

        timeline.register()
        timeline_handover.register()
        register_on_ended(ending.case_ended)
        register_on_reopened(ending.case_reopened)
