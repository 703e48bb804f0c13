from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "amiable.reporting"
    verbose_name = "Rapports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.reporting import timeline

        timeline.register()
