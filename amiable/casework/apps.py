from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "amiable.casework"
    verbose_name = "Travail des dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.casework import timeline

        timeline.register()
