from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "amiable.intake"
    verbose_name = "Réception des lots"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.intake import timeline

        timeline.register()
