from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "amiable.letters"
    verbose_name = "Courriers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from amiable.letters import timeline

        timeline.register()
