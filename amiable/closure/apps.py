from django.apps import AppConfig


class ClosureConfig(AppConfig):
    name = "amiable.closure"
    verbose_name = "Fin des dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.audit.personal import register_clear_codes
        from amiable.cases.hooks import register_on_ended, register_on_reopened
        from amiable.closure import ending, timeline, timeline_handover
        from amiable.closure.models import IrrecoverableReason

        timeline.register()
        timeline_handover.register()
        register_on_ended(ending.case_ended)
        register_on_reopened(ending.case_reopened)
        # The irrecoverable reasons recorded under `reason` are codes: clear in the audit trail.
        register_clear_codes("reason", IrrecoverableReason.values)
