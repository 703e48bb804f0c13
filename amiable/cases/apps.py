from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "amiable.cases"
    verbose_name = "Dossiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.cases import timeline

        timeline.register()
