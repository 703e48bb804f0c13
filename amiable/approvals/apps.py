from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "amiable.approvals"
    verbose_name = "Décisions du créancier"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.approvals import timeline

        timeline.register()
