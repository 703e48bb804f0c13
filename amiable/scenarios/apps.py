from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "amiable.scenarios"
    verbose_name = "Scénarios de recouvrement"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.scenarios import timeline

        timeline.register()
